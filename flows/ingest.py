"""Ingest and validate: the first stage of every training, retraining and scoring run."""

from __future__ import annotations

from prefect import flow

from driftline.core.config import DEFAULT_CONFIG_PATH, load_config
from driftline.core.contracts import IngestAndValidateResult
from driftline.core.datasets import check_sources
from driftline.orchestration.events import emit_run_failed
from driftline.orchestration.run_folders import run_dir
from tasks.ingest import ingest
from tasks.validate import validate


@flow(name="ingest-and-validate", on_failure=[emit_run_failed], log_prints=True)
def ingest_and_validate(
    config_path: str = str(DEFAULT_CONFIG_PATH), data: str | None = None
) -> IngestAndValidateResult:
    """Read the project's raw data into a typed, fingerprinted Parquet dataset and validate it
    with the project's Great Expectations suite; a critical failure quarantines the batch and
    fails the run.

    Args:
        config_path: Project config file (YAML).
        data: Override the config's data source (file, glob or folder).
    """
    cfg = load_config(config_path).with_source(data)
    check_sources(cfg)  # a missing source fails here, naming it, before any task runs
    ingested = ingest(cfg)
    validation = validate(cfg, ingested, str(run_dir(cfg.state_path) / "validation"))
    return IngestAndValidateResult(ingested=ingested, validation=validation)
