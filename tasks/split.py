"""Split: the ingested dataset → a training set and a holdout, both content-addressed Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd
from prefect import task
from prefect.cache_policies import INPUTS, TASK_SOURCE
from pydantic import BaseModel
from sklearn.model_selection import train_test_split

from driftline.candidates import labels
from driftline.config import ProjectConfig
from driftline.datasets import DataError, DatasetRef, write_dataset
from tasks.ingest import Ingested
from tasks.retry import retry_on_io


class Split(BaseModel):
    """The training set and the holdout every model of a run is scored on."""

    train: DatasetRef
    holdout: DatasetRef
    strategy: Literal["stratified", "time"]
    time_cutoff: str | None = None


def _by_time(df: pd.DataFrame, column: str, fraction: float) -> tuple[pd.Series, str]:
    """Holdout = rows at or after the cutoff time, so one timestamp never lands on both sides.

    Rows without a timestamp stay in training (they cannot be 'later').
    """
    times = df[column].dropna().sort_values(kind="stable")
    if times.empty:
        raise DataError(f"time split: column '{column}' holds no timestamps")
    cutoff = times.iloc[min(int(len(times) * (1 - fraction)), len(times) - 1)]
    holdout = df[column] >= cutoff
    if holdout.all():
        raise DataError(
            f"time split: every row has the timestamp {cutoff}; nothing is left for training"
        )
    return holdout, str(cutoff)


def _check_classes(part: pd.DataFrame, cfg: ProjectConfig, which: str) -> None:
    if labels(part, cfg).nunique() < 2:
        raise DataError(
            f"{which} set of {len(part)} rows holds one class of '{cfg.target.column}' only; "
            "use more data or a different holdout_fraction"
        )


@task(
    name="split",
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=retry_on_io,
    cache_policy=INPUTS + TASK_SOURCE,
    persist_result=True,
)
def split(cfg: ProjectConfig, ingested: Ingested) -> Split:
    """Stratified (seeded) holdout, or the latest rows by `timestamp_column` when it is set."""
    df = ingested.dataset.load()
    fraction = cfg.training.holdout_fraction
    cutoff = None
    if cfg.timestamp_column:
        strategy: Literal["stratified", "time"] = "time"
        in_holdout, cutoff = _by_time(df, cfg.timestamp_column, fraction)
        train, holdout = df[~in_holdout], df[in_holdout]
    else:
        strategy = "stratified"
        y = labels(df, cfg)
        if y.value_counts().reindex([0, 1], fill_value=0).min() < 2:
            raise DataError(
                f"stratified split: a class of '{cfg.target.column}' has fewer than 2 rows"
            )
        train, holdout = train_test_split(
            df, test_size=fraction, stratify=y, random_state=cfg.training.seed
        )
    _check_classes(train, cfg, "training")
    _check_classes(holdout, cfg, "holdout")
    folder = cfg.state_path / "datasets"
    parent = [Path(ingested.dataset.path)]
    return Split(
        train=write_dataset(train.reset_index(drop=True), folder, parent),
        holdout=write_dataset(holdout.reset_index(drop=True), folder, parent),
        strategy=strategy,
        time_cutoff=cutoff,
    )
