"""Validation: the ingested table against the project's suite; a critical failure quarantines it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from driftline.core import render
from driftline.core.atomic import write_atomic
from driftline.core.config import ProjectConfig
from driftline.core.contracts import Ingested, Validation
from driftline.errors import ValidationFailed
from driftline.storage.dashboard import where_to_look
from driftline.storage.expectations import load_suite, run_validation
from driftline.storage.quarantine import Quarantine
from driftline.storage.report_index import ReportIndex
from tasks.policies import retry_on_io


@task(
    name="validate",
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=retry_on_io,
    cache_policy=NO_CACHE,
)
def validate(cfg: ProjectConfig, ingested: Ingested, out_dir: str) -> Validation:
    """Validate the ingested table into `out_dir`; quarantine it and raise ValidationFailed on
    a critical miss (a batch that once failed and now passes is released)."""
    suite = load_suite(cfg.suite_path)
    quarantine = Quarantine.for_config(cfg)
    data = quarantine.locate(ingested.dataset)
    report = run_validation(
        pd.read_parquet(data), suite, Path(out_dir) / "docs", cfg.state_path / "assets"
    )
    result_path = Path(out_dir) / "validation.json"
    write_atomic(result_path, report.model_dump_json(indent=2))

    held = None
    if not report.success:
        held = quarantine.hold(ingested.dataset, data, result_path)
    elif data != Path(ingested.dataset.path):
        quarantine.release(data, ingested.dataset)
    paths = {"Validation result": result_path, "Data Docs": report.docs_path, "Quarantine": held}
    create_markdown_artifact(
        key=cfg.artifact_key("validation"),
        markdown=render.validation(report, paths) + where_to_look(cfg),
        description=f"Validation of dataset {ingested.dataset.fingerprint}: {report.summary_line}",
    )
    if report.docs_path is not None:
        outcome = "passed" if report.success else "failed: batch quarantined"
        ReportIndex.for_config(cfg).add(
            "validation", outcome, f"Data Docs: {report.summary_line}", report.docs_path
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
