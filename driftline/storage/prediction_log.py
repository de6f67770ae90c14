"""The prediction log: every served (and shadow) prediction, and the labels fed back later.

Layout under `root` (`<state>/predictions/<project>`):
  log/date=YYYY-MM-DD/part-*.parquet   predictions, one row per record and arm
  feedback/date=YYYY-MM-DD/part-*.parquet   true labels by request id

Parts are written to a temporary name, fsynced and renamed, so a reader never sees half a
file; the server's writer (`driftline.storage.log_writer`) decides when, and what a crash
can lose.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from driftline.core.atomic import atomic_path
from driftline.core.config import ProjectConfig
from driftline.core.contracts import Schema
from driftline.core.labels import canonical_label, label_problem, label_text
from driftline.errors import DataError
from driftline.storage.request_ids import RequestIds

log = logging.getLogger("driftline.serving")

PREDICTIONS = "log"
FEEDBACK = "feedback"
TIME_COLUMN = "ts"
# Columns every prediction row has; feature columns (and the entity key) follow them.
LOG_COLUMNS = [
    "request_id",
    "batch_id",
    "ts",
    "model_version",
    "arm",
    "served",
    "probability",
    "label",
    "latency_ms",
]
FEEDBACK_COLUMNS = ["request_id", "true_label", "y_true", "received_at"]
_STOP = object()

Columns = dict[str, list[Any]]


def log_root(cfg: ProjectConfig) -> Path:
    """Where a project's prediction log lives."""
    return cfg.state_path / "predictions" / cfg.project


def feedback_columns(
    request_ids: list[str],
    labels: list[object],
    positive: object,
    classes: list[object] | None = None,
) -> Columns:
    """Feedback rows: the label (one spelling per class of `classes` when given: true, "1"
    and 1.0 are all stored as 1), whether it is the positive class, and when."""
    pos = label_text(positive)
    texts = [(canonical_label(v, classes) if classes else None) or label_text(v) for v in labels]
    now = datetime.now(UTC)
    return {
        "request_id": [str(r) for r in request_ids],
        "true_label": texts,
        "y_true": [int(t == pos) for t in texts],
        "received_at": [now] * len(texts),
    }


def write_part(root: Path, kind: str, table: pa.Table, tag: str | None = None) -> Path:
    """Write one part durably: temp file, fsync, atomic rename into its date partition.

    The name holds the writing process's pid (each server worker writes its own parts) and
    `tag` (the journal segments a part covers).
    """
    latest = pc.max(table.column("ts" if kind == PREDICTIONS else "received_at")).as_py()
    day = (latest or datetime.now(UTC)).date()
    folder = root / kind / f"date={day.isoformat()}"
    suffix = f"-{tag}" if tag else ""
    target = folder / f"part-{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}.parquet"
    with atomic_path(target, fsync=True) as tmp:
        pq.write_table(table, tmp)
    return target


def _read_parts(root: Path, kind: str, since: datetime | None) -> pd.DataFrame | None:
    files = []
    for folder in sorted((root / kind).glob("date=*")):
        day = folder.name.removeprefix("date=")
        if since is not None and day < since.date().isoformat():
            continue
        files += sorted(folder.glob("part-*.parquet"))
    if not files:
        return None
    table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")
    return table.to_pandas()


def read_prediction_log(root: str | Path, since: datetime | None = None) -> pd.DataFrame:
    """All logged predictions (both arms; `served` marks what the client got), oldest first.

    `since` (naive = UTC) keeps rows with `ts >= since`.
    """
    if since is not None:
        since = since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
    df = _read_parts(Path(root), PREDICTIONS, since)
    if df is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in LOG_COLUMNS})
    if since is not None:
        df = df[df["ts"] >= pd.Timestamp(since)]
    return df.sort_values("ts", kind="stable").reset_index(drop=True)


def read_feedback(root: str | Path) -> pd.DataFrame:
    """All labels fed back, the latest per request id."""
    df = _read_parts(Path(root), FEEDBACK, None)
    if df is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in FEEDBACK_COLUMNS})
    df = df.sort_values("received_at", kind="stable")
    return df.drop_duplicates("request_id", keep="last").reset_index(drop=True)


def read_labelled_log(root: str | Path, since: datetime | None = None) -> pd.DataFrame:
    """Logged predictions that have a true label: the log joined with `true_label`/`y_true`."""
    preds = read_prediction_log(root, since)
    labels = read_feedback(root)
    return preds.merge(labels, on="request_id", how="inner")


def read_served_window(
    root: str | Path, since: datetime | None, target_column: str
) -> pd.DataFrame:
    """The served rows logged after `since`, with their fed-back label (if any) in
    `target_column`: a monitoring window taken from the log."""
    df = read_prediction_log(root, since)
    if "served" in df.columns and len(df):
        df = df[df["served"].astype(bool)]
    if since is not None and len(df):
        df = df[df[TIME_COLUMN] > pd.Timestamp(since)]
    labels = read_feedback(root)[["request_id", "true_label"]]
    merged = df.merge(labels, on="request_id", how="left")
    return merged.rename(columns={"true_label": target_column}).reset_index(drop=True)


def write_feedback(root: str | Path, columns: Columns) -> Path:
    """Write feedback rows straight to a part (the CLI's bulk import; the API queues instead)."""
    return write_part(Path(root), FEEDBACK, pa.table(columns))


def import_feedback(
    root: str | Path,
    path: str | Path,
    positive_label: object,
    label_column: str = "label",
    classes: list[object] | None = None,
    schema: Schema | None = None,
) -> int:
    """Import a CSV/Parquet labels file with `request_id` and `label_column` columns.

    With the champion's `schema`, every label is checked against its task first (a known
    class, or a finite number): one bad label imports nothing.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: labels file not found")
    if path.suffix.lower() == ".parquet":
        df = pd.read_parquet(path)
    else:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("request_id", label_column) if c not in df.columns]
    if missing:
        raise DataError(f"{path}: required column '{missing[0]}' is missing")
    df = df[(df["request_id"].astype(str) != "") & df[label_column].notna()]
    if df.empty:
        return 0
    if schema is not None:
        bad = [
            (i, problem)
            for i, value in zip(df.index, df[label_column], strict=True)
            if (problem := label_problem(value, schema.task, schema.classes))
        ]
        if bad:
            shown = "; ".join(f"data row {i + 1}: {p}" for i, p in bad[:3])
            raise DataError(
                f"{path}: column '{label_column}': {len(bad)} label(s) a {schema.task} model "
                f"cannot take ({shown}); nothing was imported: fix or remove those rows"
            )
    ids = RequestIds(root)
    rids = df["request_id"].astype(str)
    unknown = [(i, r) for i, r in zip(df.index, rids, strict=True) if not ids.known(r)]
    if unknown:
        shown = ", ".join(f"data row {i + 1}: {r!r}" for i, r in unknown[:5])
        raise DataError(
            f"{path}: column 'request_id': {len(unknown)} id(s) no prediction of this project "
            f"has ({shown}); nothing was imported: fix or remove those rows"
        )
    cols = feedback_columns(
        df["request_id"].astype(str).tolist(), df[label_column].tolist(), positive_label, classes
    )
    write_feedback(root, cols)
    return len(df)
