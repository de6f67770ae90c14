"""Batch scoring: a file, glob or folder scored by the champion into Parquet predictions."""

from __future__ import annotations

from typing import Annotated

from prefect import flow
from pydantic import Field

from driftline.core.batch_scoring import DEFAULT_CHUNK_ROWS
from driftline.core.config import DEFAULT_CONFIG_PATH, load_config
from driftline.core.contracts import ScoreResult
from driftline.core.datasets import discover_sources
from driftline.errors import RegistryError
from driftline.orchestration.events import emit_run_failed
from driftline.orchestration.run_folders import run_dir
from driftline.storage.registry import CHAMPION, ModelRegistry
from tasks.score import score


@flow(name="batch-scoring", on_failure=[emit_run_failed], log_prints=True)
def batch_scoring(
    input: str,
    output: str | None = None,
    config_path: str = str(DEFAULT_CONFIG_PATH),
    validate_input: bool = True,
    chunk_rows: Annotated[int, Field(ge=1)] = DEFAULT_CHUNK_ROWS,
    keep: list[str] | None = None,
) -> ScoreResult:
    """Score the input with the current champion (pinned for the whole run), validating each
    chunk with the features part of the project's expectation suite; the predictions carry
    the model version.

    Args:
        input: File, glob or folder of CSV/Parquet to score.
        output: Parquet file to write (default: in the run's folder).
        config_path: Project config file (YAML).
        validate_input: Check each chunk with the features part of the suite.
        chunk_rows: Rows scored at a time.
        keep: Input columns to carry into the output next to the predictions.
    """
    cfg = load_config(config_path)
    sources = [str(p.resolve()) for p in discover_sources(input)]
    champion = ModelRegistry.for_config(cfg).alias(CHAMPION)
    if champion is None:
        raise RegistryError(f"{cfg.project}: no champion to score with; train and promote one")
    folder = run_dir(cfg.state_path)
    return score(
        cfg,
        sources,
        champion.version,
        output or str(folder / "predictions.parquet"),
        validate=validate_input,
        chunk_rows=chunk_rows,
        docs_dir=str(folder / "scoring-docs"),
        keep=keep,
    )
