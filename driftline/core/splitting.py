"""Splitting a dataset into a training set and a holdout, fairly and out of time by default.

Pure pandas and scikit-learn. `split.strategy: auto` holds out the latest data: by
`timestamp_column` when it is set; else the latest batch file(s) in name order when the
source is several files; else (one file) a seeded stratified sample. Retraining data is in
arrival order (the champion's rows, then the recent labelled ones), and its latest rows are
held out. Rows the champion trained on never enter the holdout, so the champion and a
candidate are compared on rows neither has seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from driftline.core.candidates import labels
from driftline.core.config import ProjectConfig
from driftline.core.contracts import DatasetRef, SplitStrategy, TaskKind
from driftline.core.labels import label_texts
from driftline.errors import ConfigError, DataError


@dataclass(frozen=True)
class Parts:
    """The two sides of a split, in the dataset's row order, and how the holdout was drawn."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    strategy: SplitStrategy
    time_cutoff: str | None = None
    holdout_start: str | None = None
    holdout_end: str | None = None
    holdout_files: list[str] = field(default_factory=list)


def resolve_strategy(cfg: ProjectConfig, dataset: DatasetRef, arrival_order: bool) -> SplitStrategy:
    """The strategy `split.strategy` means for this dataset (auto picks the latest data)."""
    chosen = cfg.split.strategy
    batches = len(dataset.batch_rows)
    if chosen == "time" and not cfg.timestamp_column:
        raise ConfigError(
            "split.strategy is 'time' but timestamp_column is not set; name the column "
            "(timestamp_column: ...) or use split.strategy: auto"
        )
    if chosen == "latest_batches" and batches < 2:
        raise ConfigError(
            f"split.strategy is 'latest_batches' but the data comes from {max(batches, 1)} "
            f"file ({', '.join(dataset.sources) or dataset.path}); give data.source a folder or "
            "glob of several batch files, or use split.strategy: auto"
        )
    if chosen != "auto":
        return chosen
    if cfg.timestamp_column:
        return "time"
    if arrival_order:
        return "latest_rows"
    return "latest_batches" if batches >= 2 else "random"


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


def _latest_batches(
    df: pd.DataFrame, eligible: pd.Series, dataset: DatasetRef, want: int, count: int | None
) -> tuple[pd.Series, list[str]]:
    """Holdout = the eligible rows of the latest batch files holding any: the last `count`
    of them, or by default the latest one, and earlier ones while the holdout holds fewer
    than half the `want` rows (many small files). The first file stays for training."""
    if sum(dataset.batch_rows) != len(df):
        raise DataError(
            f"latest_batches split: the dataset has {len(df)} rows but its files gave "
            f"{sum(dataset.batch_rows)}; ingest it again"
        )
    batch = np.repeat(np.arange(len(dataset.batch_rows)), dataset.batch_rows)
    per_batch = np.bincount(batch[eligible.to_numpy()], minlength=len(dataset.batch_rows))
    chosen: list[int] = []
    for b in range(len(per_batch) - 1, 0, -1):
        if per_batch[b] == 0:  # all of it trained the champion: not a fair holdout
            continue
        chosen.append(b)
        held = per_batch[chosen].sum()
        if len(chosen) == count or (count is None and 2 * held >= want):
            break
    in_holdout = pd.Series(np.isin(batch, chosen), index=df.index) & eligible
    return in_holdout, [dataset.sources[b] for b in sorted(chosen)]


def _check_classes(
    part: pd.DataFrame, cfg: ProjectConfig, task: TaskKind, which: str, strategy: str
) -> None:
    if task != "regression" and labels(part, cfg, task).nunique() < 2:
        raise DataError(
            f"{which} set of {len(part)} rows ({strategy} split) holds one class of "
            f"'{cfg.target.column}' only; use more data, another training.holdout_fraction "
            "or split.strategy"
        )


def target_summary(target: pd.Series, task: TaskKind) -> dict[str, float]:
    """What the card says of a side's target: the share of each class (by label text), or
    for regression its mean, spread and range."""
    if task == "regression":
        values = pd.to_numeric(target, errors="coerce")
        summary = values.describe()
        return {k: float(summary[k]) for k in ("mean", "std", "min", "50%", "max")}
    return {str(k): float(v) for k, v in label_texts(target).value_counts(normalize=True).items()}


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
    dataset: DatasetRef | None = None,
    arrival_order: bool = False,
) -> Parts:
    """The holdout by `split.strategy` (see the module), never holding the champion's rows.

    `seen` is the champion's training set (compared over `columns`): its rows never enter the
    holdout (retraining's combined data holds the champion's training rows). `dataset` is
    the reference of `df` (its files and their rows, for a split by batch). A random split
    is stratified by class (shuffled for regression).
    """
    dataset = dataset or DatasetRef(
        path="(in memory)", fingerprint="", rows=len(df), columns=list(df.columns), sources=[]
    )
    strategy = resolve_strategy(cfg, dataset, arrival_order)
    fraction = cfg.training.holdout_fraction
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
    cutoff = None
    files: list[str] = []
    if strategy == "time":
        assert cfg.timestamp_column
        in_holdout, cutoff = _by_time(eligible, cfg.timestamp_column, want / len(eligible))
        holdout = eligible[in_holdout]
    elif strategy == "latest_batches":
        in_holdout, files = _latest_batches(df, ~trained_on, dataset, want, cfg.split.batches)
        holdout = df[in_holdout]
    elif strategy == "latest_rows":
        holdout = eligible.tail(want)
    else:
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
    if holdout.empty or train.empty:
        raise DataError(
            f"{strategy} split of {len(df)} rows leaves {len(train)} for training and "
            f"{len(holdout)} for the holdout; use more data or another split.strategy"
        )
    _check_classes(train, cfg, task, "training", strategy)
    _check_classes(holdout, cfg, task, "holdout", strategy)
    start, end = None, None
    if cfg.timestamp_column and holdout[cfg.timestamp_column].notna().any():
        times = holdout[cfg.timestamp_column]
        start, end = str(times.min()), str(times.max())
    return Parts(
        train=train,
        holdout=holdout,
        strategy=strategy,
        time_cutoff=cutoff,
        holdout_start=start,
        holdout_end=end,
        holdout_files=files,
    )
