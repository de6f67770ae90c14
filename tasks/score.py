"""Batch scoring as a task: one registered version scores files in chunks, each chunk checked
with the features part of the project's suite (`driftline.core.batch_scoring` does the work)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE

from driftline.core.batch_scoring import DEFAULT_CHUNK_ROWS, count_rows, score_files
from driftline.core.config import ProjectConfig
from driftline.core.contracts import ScoreResult
from driftline.errors import ScoringFailed
from driftline.storage.expectations import features_suite, load_suite, run_validation
from driftline.storage.registry import ModelRegistry


@task(name="score", cache_policy=NO_CACHE)
def score(
    cfg: ProjectConfig,
    sources: list[str],
    version: str,
    output: str,
    validate: bool = True,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    docs_dir: str | None = None,
    keep: list[str] | None = None,
) -> ScoreResult:
    """Score the input files with one registered version, validating each chunk first;
    `keep` input columns are carried into the output."""
    logger = get_run_logger()
    model = ModelRegistry.for_config(cfg).scoring_model(version)
    files = [Path(s) for s in sources]
    total = sum(count_rows(p, cfg.data.format) for p in files)
    passthrough = [c for c in (cfg.id_column, cfg.timestamp_column) if c]
    check = None
    if validate:
        suite = features_suite(load_suite(cfg.suite_path), model.spec.features)

        def check(typed: pd.DataFrame, path: Path) -> None:
            report = run_validation(typed[model.spec.features], suite)
            if not report.success:
                docs = Path(docs_dir) if docs_dir else None
                report = run_validation(
                    typed[model.spec.features], suite, docs, cfg.state_path / "assets"
                )
                where = f"; Data Docs: {report.docs_path}" if report.docs_path else ""
                raise ScoringFailed(f"{path}: {report.summary_line}{where}")

    progress = None
    if total > chunk_rows:
        artifact = create_progress_artifact(
            progress=0.0, description=f"Scoring {total} rows with {cfg.project} {version}"
        )

        def progress(done: int) -> None:
            update_progress_artifact(artifact_id=artifact, progress=100.0 * done / total)

    rows = score_files(
        files,
        model,
        Path(output),
        fmt=cfg.data.format,
        encoding=cfg.data.encoding,
        chunk_rows=chunk_rows,
        passthrough=passthrough,
        timestamp=cfg.timestamp_column,
        check=check,
        progress=progress,
        keep=keep,
    )
    logger.info("scored %d rows with %s into %s", rows, version, output)
    return ScoreResult(
        output=output, rows=rows, model_version=version, sources=sources, validated=validate
    )
