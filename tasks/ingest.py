"""Ingestion: raw batches → one typed Parquet dataset with a fingerprint and a quality profile."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.artifacts import create_table_artifact

from driftline.core import render
from driftline.core.config import ProjectConfig
from driftline.core.contracts import Ingested
from driftline.core.datasets import discover_sources, publish, read_batches
from driftline.core.fingerprints import sources_fingerprint
from tasks.policies import cached_on, retry_on_io


def _shapes(parameters: dict[str, Any]) -> dict[str, Any]:
    """Same source bytes, same schema settings, same state folder → same dataset."""
    cfg: ProjectConfig = parameters["cfg"]
    settings = cfg.model_dump(
        mode="json", include={"data", "target", "features", "id_column", "timestamp_column"}
    )
    sources = discover_sources(cfg.resolve(cfg.data.source))
    # "batch_rows": results cached before datasets recorded their rows per file are not reused.
    return {
        "sources": sources_fingerprint(sources),
        **settings,
        "state": str(cfg.state_path),
        "batch_rows": True,
    }


@task(
    name="ingest",
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=retry_on_io,
    cache_policy=cached_on(_shapes),
    persist_result=True,
    result_serializer="json",  # read back without unpickling (as a model file is)
)
def ingest(cfg: ProjectConfig) -> Ingested:
    """Read the configured source, type it, fingerprint it, write it as Parquet, profile it."""
    sources = discover_sources(cfg.resolve(cfg.data.source))
    df, schema, batch_rows = read_batches(cfg, sources)
    ingested, report = publish(
        df, schema, sources, cfg.state_path / "datasets", cfg.target.positive_label, batch_rows
    )
    create_table_artifact(
        key=cfg.artifact_key("data-profile"),
        table=render.profile_rows(report),
        description=render.profile_description(report),
    )
    return ingested
