"""Splitting a dataset into a training set and a holdout, fairly.

Pure pandas and scikit-learn: stratified and seeded, or by time when the project has a
timestamp column; rows the champion trained on never enter the holdout, so the champion and
a candidate are compared on rows neither has seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd
from sklearn.model_selection import train_test_split

from driftline.core.candidates import labels
from driftline.core.config import ProjectConfig
from driftline.core.contracts import TaskKind
from driftline.errors import DataError


@dataclass(frozen=True)
class Parts:
    """The two sides of a split, in the dataset's row order, and how they were drawn."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    strategy: Literal["stratified", "time"]
    time_cutoff: str | None


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


def _check_classes(part: pd.DataFrame, cfg: ProjectConfig, task: TaskKind, which: str) -> None:
    if task != "regression" and labels(part, cfg, task).nunique() < 2:
        raise DataError(
            f"{which} set of {len(part)} rows holds one class of '{cfg.target.column}' only; "
            "use more data or a different holdout_fraction"
        )


def seen_rows(df: pd.DataFrame, seen: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Rows of `df` whose values (over `columns`) occur in `seen`.

    Written by hand because no library compares rows across two tables by content; pandas'
    row hashes make it one vectorised `isin`.
    """
    hashes = pd.util.hash_pandas_object(df[columns], index=False)
    known = pd.util.hash_pandas_object(seen[columns], index=False)
    return pd.Series(hashes.isin(known).to_numpy(), index=df.index)


def split_frame(
    df: pd.DataFrame,
    cfg: ProjectConfig,
    columns: list[str],
    seen: pd.DataFrame | None,
    task: TaskKind = "binary",
) -> Parts:
    """Stratified (seeded; shuffled for regression) holdout, or the latest rows by
    `timestamp_column` when it is set.

    `seen` is the champion's training set (compared over `columns`): its rows never enter the
    holdout (retraining's combined data holds the champion's training rows).
    """
    fraction = cfg.training.holdout_fraction
    cutoff = None
    trained_on = (
        seen_rows(df, seen, columns) if seen is not None else pd.Series(False, index=df.index)
    )
    eligible = df[~trained_on]
    want = min(round(len(df) * fraction), len(eligible))
    if want < 2:
        raise DataError(
            f"split: only {len(eligible)} of {len(df)} rows are unseen by the champion; "
            "a fair holdout needs new rows"
        )
    if cfg.timestamp_column:
        strategy: Literal["stratified", "time"] = "time"
        in_holdout, cutoff = _by_time(eligible, cfg.timestamp_column, want / len(eligible))
        holdout = eligible[in_holdout]
    else:
        strategy = "stratified"
        y = labels(eligible, cfg, task) if task != "regression" else None
        if y is not None and (y.nunique() < 2 or y.value_counts().min() < 2):
            raise DataError(
                f"stratified split: a class of '{cfg.target.column}' has fewer than 2 rows"
            )
        holdout = (
            eligible
            if want == len(eligible)
            else train_test_split(
                eligible, test_size=want, stratify=y, random_state=cfg.training.seed
            )[1]
        )
    # Rows keep the dataset's order on both sides: the same rows give the same files (and
    # bit-identical metrics), however they were drawn.
    holdout = holdout.sort_index()
    train = df.drop(index=holdout.index)
    _check_classes(train, cfg, task, "training")
    _check_classes(holdout, cfg, task, "holdout")
    return Parts(train=train, holdout=holdout, strategy=strategy, time_cutoff=cutoff)
