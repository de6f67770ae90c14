"""Validation: the ingested table against the project's suite; a critical failure quarantines it.

A rejected batch is moved out of the datasets folder (never deleted) so no later stage can
train on it, and kept with its validation report for whoever fixes the data.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from driftline.config import ProjectConfig
from driftline.datasets import DataError, DatasetRef
from driftline.expectations import Failure, ValidationReport, load_suite, run_validation
from driftline.runs import run_dir
from tasks.ingest import Ingested
from tasks.retry import retry_on_io


class ValidationFailed(DataError):
    """A batch failed a critical expectation; the message says which and where it was moved."""


class Validation(BaseModel):
    """What validation hands downstream: the verdict, the failures and where the reports are."""

    suite: str
    success: bool
    summary_line: str
    failures: list[Failure]
    result_path: str
    docs_path: str | None


def quarantine_dir(cfg: ProjectConfig, fingerprint: str) -> Path:
    return cfg.state_path / "quarantine" / fingerprint


def _locate(cfg: ProjectConfig, dataset: DatasetRef) -> Path:
    """The Parquet file, or its quarantined copy when an earlier run rejected the same batch.

    Ingestion is cached on the source bytes, so re-running on rejected data hands back a
    path that quarantine has emptied; validating the held copy again lets a corrected
    suite release it.
    """
    path = Path(dataset.path)
    held = quarantine_dir(cfg, dataset.fingerprint) / "data.parquet"
    return held if not path.exists() and held.exists() else path


def _quarantine(cfg: ProjectConfig, ingested: Ingested, data: Path, result_path: Path) -> Path:
    """Move the batch and a record of its sources into quarantine, with its validation report."""
    dest = quarantine_dir(cfg, ingested.dataset.fingerprint)
    dest.mkdir(parents=True, exist_ok=True)
    if data != dest / "data.parquet":
        shutil.move(data, dest / "data.parquet")
    shutil.copy2(result_path, dest / "validation.json")
    record = {
        "fingerprint": ingested.dataset.fingerprint,
        "rows": ingested.dataset.rows,
        "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset_path": ingested.dataset.path,
        "sources": [
            {"path": p, "bytes": Path(p).stat().st_size if Path(p).exists() else None}
            for p in ingested.dataset.sources
        ],
    }
    (dest / "sources.json").write_text(json.dumps(record, indent=2) + "\n")
    return dest


def _release(held: Path, dataset: DatasetRef) -> None:
    """Put a once-rejected batch that now passes back where downstream stages expect it."""
    target = Path(dataset.path)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(held, target)
    note = f"released {datetime.now(UTC).isoformat(timespec='seconds')} to {target}\n"
    (held.parent / "RELEASED").write_text(note)


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _markdown(report: ValidationReport, paths: dict[str, Path | str | None]) -> str:
    verdict = "passed" if report.success else "**FAILED**"
    lines = [
        f"## Validation with suite `{report.suite}`: {verdict}",
        "",
        "| evaluated | met | critical failures | warning/info failures |",
        "|---|---|---|---|",
        f"| {report.evaluated} | {report.evaluated - len(report.failures)} "
        f"| {len(report.critical)} | {len(report.failures) - len(report.critical)} |",
    ]
    if report.failures:
        lines += [
            "",
            "| column | expectation | severity | unexpected | examples |",
            "|---|---|---|---|---|",
        ]
        for f in report.failures:
            examples = f.error or ", ".join(str(e) for e in f.examples)
            count = "" if f.unexpected_count is None else f.unexpected_count
            lines.append(
                f"| {_cell(f.column or '(table)')} | {f.expectation_type} | {f.severity} "
                f"| {count} | {_cell(examples)} |"
            )
    lines.append("")
    lines += [f"- {name}: `{path}`" for name, path in paths.items() if path]
    return "\n".join(lines)


@task(
    name="validate",
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=retry_on_io,
    cache_policy=NO_CACHE,
)
def validate(cfg: ProjectConfig, ingested: Ingested) -> Validation:
    """Validate the ingested table; quarantine it and raise ValidationFailed on a critical miss."""
    suite = load_suite(cfg.suite_path)
    data = _locate(cfg, ingested.dataset)
    df = pd.read_parquet(data)
    out = run_dir(cfg.state_path) / "validation"
    report = run_validation(df, suite, out / "docs")
    result_path = out / "validation.json"
    result_path.write_text(report.model_dump_json(indent=2))

    held = None
    if not report.success:
        held = _quarantine(cfg, ingested, data, result_path)
    elif data != Path(ingested.dataset.path):
        _release(data, ingested.dataset)
    paths = {"Validation result": result_path, "Data Docs": report.docs_path, "Quarantine": held}
    create_markdown_artifact(
        key=cfg.artifact_key("validation"),
        markdown=_markdown(report, paths),
        description=f"Validation of dataset {ingested.dataset.fingerprint}: {report.summary_line}",
    )
    get_run_logger().info("validation %s", report.summary_line)
    if held is not None:
        problems = "\n".join(f"  - {f.describe()}" for f in report.critical)
        sources = ingested.dataset.sources
        named = ", ".join(sources[:3]) + (
            f" and {len(sources) - 3} more" if len(sources) > 3 else ""
        )
        raise ValidationFailed(
            f"{named}: {ingested.dataset.rows} rows failed {len(report.critical)} critical "
            f"expectation(s) of suite '{report.suite}':\n{problems}\n"
            f"batch quarantined in {held}\nvalidation result: {result_path}\n"
            f"Data Docs: {report.docs_path}"
        )
    return Validation(
        suite=report.suite,
        success=report.success,
        summary_line=report.summary_line,
        failures=report.failures,
        result_path=str(result_path),
        docs_path=report.docs_path,
    )
