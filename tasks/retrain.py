"""Retraining's own step: assemble the training set from the champion's data and recent data."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact

from driftline.core import render
from driftline.core.config import ProjectConfig
from driftline.core.contracts import Ingested, Schema
from driftline.core.datasets import discover_sources, publish, read_sources
from driftline.errors import DataError
from driftline.storage.prediction_log import log_root, read_labelled_log
from driftline.storage.registry import CHAMPION, ModelRegistry
from tasks.policies import retry_on_io

Strategy = Literal["combined", "recent", "sliding"]


def labelled_log(cfg: ProjectConfig, schema: Schema, target_dtype: object) -> pd.DataFrame:
    """The served predictions that got a true label, shaped like the training data."""
    log = read_labelled_log(log_root(cfg))
    log = log[log["served"].astype(bool)] if not log.empty else log
    out = log.reindex(columns=schema.columns).copy()
    out[schema.target] = log["true_label"].astype(target_dtype) if not log.empty else None
    return out.reset_index(drop=True)


def combine(
    reference: pd.DataFrame, recent: pd.DataFrame, strategy: Strategy, sliding_rows: int
) -> pd.DataFrame:
    """The training set a strategy asks for (recent rows last, so a window keeps the newest)."""
    if strategy == "recent":
        return recent.reset_index(drop=True)
    both = pd.concat([reference, recent], ignore_index=True)
    return both.tail(sliding_rows).reset_index(drop=True) if strategy == "sliding" else both


@task(
    name="assemble-training-set", retries=2, retry_delay_seconds=2, retry_condition_fn=retry_on_io
)
def assemble_training_set(
    cfg: ProjectConfig, strategy: Strategy, recent_source: str | None
) -> Ingested:
    """Reference data (the champion's training set, else the configured source) plus recent
    labelled data (a batch file/glob, else the labelled prediction log), by strategy."""
    champion = ModelRegistry.for_config(cfg).alias(CHAMPION)
    if champion is not None and champion.metadata.data is not None:
        schema = champion.metadata.table_schema
        reference = champion.metadata.data.load(columns=schema.columns)
        sources = [Path(champion.metadata.data.path)]
    else:
        sources = discover_sources(cfg.resolve(cfg.data.source))
        reference, schema = read_sources(cfg, sources)
    if recent_source:
        recent_files = discover_sources(cfg.resolve(recent_source))
        recent, _ = read_sources(cfg, recent_files)
        recent = recent[schema.columns]
    else:
        recent_files = [log_root(cfg)]
        recent = labelled_log(cfg, schema, reference[schema.target].dtype)
    if recent.empty and strategy == "recent":
        raise DataError(f"retraining: strategy 'recent' but {recent_files[0]} has no labelled rows")
    df = combine(reference, recent, strategy, cfg.monitoring.retraining.sliding_rows)
    get_run_logger().info(
        "training set (%s): %d reference + %d recent rows -> %d rows",
        strategy,
        len(reference),
        len(recent),
        len(df),
    )
    ingested, report = publish(
        df,
        schema,
        [*sources, *recent_files],
        cfg.state_path / "datasets",
        cfg.target.positive_label,
    )
    create_table_artifact(
        key=cfg.artifact_key("data-profile"),
        table=render.profile_rows(report),
        description=render.profile_description(report),
    )
    return ingested
