"""Ingestion: raw batches → one typed Parquet dataset with a fingerprint and a quality profile."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import TASK_SOURCE, CacheKeyFnPolicy
from prefect.context import TaskRunContext
from pydantic import BaseModel

from driftline.config import ProjectConfig
from driftline.datasets import (
    DatasetRef,
    Schema,
    discover_sources,
    read_sources,
    sources_fingerprint,
    write_dataset,
)
from driftline.profile import profile, profile_table
from tasks.retry import retry_on_io


class Ingested(BaseModel):
    """What ingestion hands downstream: the dataset reference, its schema and its profile."""

    dataset: DatasetRef
    table_schema: Schema
    profile_path: str


def _ingest_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """Same source bytes, same schema settings, same state folder → same dataset."""
    cfg: ProjectConfig = parameters["cfg"]
    settings = cfg.model_dump(
        mode="json", include={"data", "target", "features", "id_column", "timestamp_column"}
    )
    settings["state"] = str(cfg.state_path)
    blob = json.dumps(settings, sort_keys=True).encode()
    config_hash = hashlib.sha256(blob).hexdigest()[:12]
    sources = discover_sources(cfg.resolve(cfg.data.source))
    return f"ingest-{sources_fingerprint(sources)}-{config_hash}"


@task(
    name="ingest",
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=retry_on_io,
    cache_policy=TASK_SOURCE + CacheKeyFnPolicy(cache_key_fn=_ingest_key),
    persist_result=True,
)
def ingest(cfg: ProjectConfig) -> Ingested:
    """Read the configured source, type it, fingerprint it, write it as Parquet, profile it."""
    sources = discover_sources(cfg.resolve(cfg.data.source))
    df, schema = read_sources(cfg, sources)
    return publish(cfg, df, schema, sources)


def publish(cfg: ProjectConfig, df: pd.DataFrame, schema: Schema, sources: list[Path]) -> Ingested:
    """Write a typed table as a dataset of the project, with its profile JSON and artifact.

    Ingestion and the retraining flow's training-set assembly both end here.
    """
    dataset = write_dataset(df, cfg.state_path / "datasets", sources)
    report = profile(df, schema, cfg.target.positive_label)
    report["fingerprint"] = dataset.fingerprint
    report["sources"] = dataset.sources
    profile_path = Path(dataset.path).with_name("profile.json")
    profile_path.write_text(json.dumps(report, indent=2))
    create_table_artifact(
        key=cfg.artifact_key("data-profile"),
        table=profile_table(report),
        description=(
            f"Data profile of {dataset.rows} rows from {len(sources)} file(s), fingerprint "
            f"`{dataset.fingerprint}`; {report['duplicate_rows']} duplicate rows; positive "
            f"share {report['target_balance']['positive_share']:.1%}."
        ),
    )
    return Ingested(dataset=dataset, table_schema=schema, profile_path=str(profile_path))
