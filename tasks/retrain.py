"""Retraining's own step: assemble the training set from the champion's data and recent data."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact

from driftline.core import render
from driftline.core.config import ProjectConfig
from driftline.core.contracts import Ingested, Schema
from driftline.core.datasets import discover_sources, publish, read_sources
from driftline.core.labels import canonical_label, label_text, label_texts
from driftline.errors import DataError
from driftline.storage.prediction_log import log_root, read_labelled_log
from driftline.storage.registry import CHAMPION, ModelRegistry
from tasks.policies import retry_on_io

Strategy = Literal["combined", "recent", "sliding"]


def labelled_log(
    cfg: ProjectConfig, schema: Schema, reference: pd.Series
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The served predictions that got a true label, shaped like the training data, and the
    labels that were skipped because they mean none of the `reference` target's classes
    (label text -> rows): one bad label must not fail every later retraining."""
    log = read_labelled_log(log_root(cfg))
    log = log[log["served"].astype(bool)].reset_index(drop=True) if not log.empty else log
    out = log.reindex(columns=schema.columns).copy()
    if log.empty:
        out[schema.target] = reference.iloc[:0]
        return out, {}
    if schema.task == "regression":  # a true value is any finite number
        values = pd.to_numeric(log["true_label"], errors="coerce")
        usable = values.notna() & np.isfinite(values)
        skipped = log.loc[~usable, "true_label"].astype(str).value_counts().to_dict()
        out = out[usable.to_numpy()].copy()
        out[schema.target] = values[usable].to_numpy(dtype="float64")
        return out.reset_index(drop=True), skipped
    classes = {label_text(c): c for c in reference.dropna().unique()}
    meant = log["true_label"].map(lambda v: canonical_label(v, list(classes.values())))
    usable = meant.notna()
    skipped = log.loc[~usable, "true_label"].astype(str).value_counts().to_dict()
    out = out[usable.to_numpy()].copy()
    out[schema.target] = pd.Series(
        [classes[t] for t in meant[usable]], index=out.index, dtype=reference.dtype
    )
    return out.reset_index(drop=True), skipped


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
        recent, _ = read_sources(cfg, recent_files, schema)
        recent = recent[schema.columns]
    else:
        recent_files = [log_root(cfg)]
        recent, skipped = labelled_log(cfg, schema, reference[schema.target])
        if skipped:
            get_run_logger().warning(
                "skipped %d labelled row(s) of %s whose label '%s' cannot take "
                "(classes, or numbers for regression: %s): %s",
                sum(skipped.values()),
                recent_files[0],
                schema.target,
                sorted(label_texts(reference[schema.target]).unique())[:10],
                dict(list(skipped.items())[:10]),
            )
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
    # Rows stay in arrival order (the champion's, then the recent ones): the split holds
    # out the latest rows, the most recent labelled data neither model trained on.
    ingested, report = publish(
        df,
        schema,
        [*sources, *recent_files],
        cfg.state_path / "datasets",
        cfg.target.positive_label,
        arrival_order=True,
    )
    create_table_artifact(
        key=cfg.artifact_key("data-profile"),
        table=render.profile_rows(report),
        description=render.profile_description(report),
    )
    return ingested
