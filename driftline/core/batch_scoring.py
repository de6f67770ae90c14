"""Batch scoring: files → typed feature chunks → checked → the task's predictions → Parquet.

One pass in chunks, so memory stays bounded by the chunk size: each chunk is typed exactly as
ingestion types it, checked (the caller's validation), scored, and appended to a Parquet file
written aside and renamed into place only when every chunk passed.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from driftline.core.atomic import atomic_path
from driftline.core.datasets import (
    as_numeric,
    as_text,
    as_timestamp,
    duplicated_columns,
    encoding_error,
    read_raw,
)
from driftline.core.scoring import FeatureSpec, ScoringModel, output_columns
from driftline.errors import DataError

DEFAULT_CHUNK_ROWS = 100_000


def count_rows(path: Path, fmt: str) -> int:
    """Rows in a file without reading it: Parquet metadata, or newlines of a CSV."""
    kind = fmt if fmt != "auto" else path.suffix.lower().lstrip(".")
    if kind == "parquet":
        return pq.ParquetFile(path).metadata.num_rows
    lines = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 22):
            lines += block.count(b"\n")
    return max(0, lines - 1)


def read_chunks(
    path: Path, fmt: str, chunk_rows: int, columns: list[str], encoding: str = "utf-8"
) -> Iterator[pd.DataFrame]:
    """The rows of one CSV/Parquet file, `chunk_rows` at a time, only `columns` (if present)."""
    kind = fmt if fmt != "auto" else path.suffix.lower().lstrip(".")
    wanted = set(columns)
    if kind == "parquet":
        pf = pq.ParquetFile(path)
        present = [c for c in pf.schema_arrow.names if c in wanted]
        for batch in pf.iter_batches(batch_size=chunk_rows, columns=present):
            yield batch.to_pandas()
    elif kind == "csv":
        with path.open(encoding=encoding, errors="replace", newline="") as fh:
            duplicated_columns(path, next(csv.reader(fh), []))  # pandas would rename copies
        try:
            yield from pd.read_csv(
                path, chunksize=chunk_rows, usecols=lambda c: c in wanted, encoding=encoding
            )
        except UnicodeDecodeError:
            raise encoding_error(path, encoding) from None
    else:
        yield read_raw(path, fmt, encoding)  # raises the DataError naming the unknown type


def type_chunk(
    raw: pd.DataFrame,
    spec: FeatureSpec,
    path: Path,
    passthrough: list[str],
    timestamp: str | None,
    keep: list[str] | None = None,
) -> pd.DataFrame:
    """Feature columns typed as ingestion types them, plus id/timestamp columns if present
    and the `keep` columns (which must be present)."""
    missing = [c for c in spec.features if c not in raw.columns]
    if missing:
        raise DataError(f"{path}: required feature column '{missing[0]}' is missing")
    absent = [c for c in keep or [] if c not in raw.columns]
    if absent:
        raise DataError(f"{path}: column '{absent[0]}' to keep (--keep) is missing")
    out = pd.DataFrame(index=raw.index)
    for col in passthrough:
        if col in raw.columns:
            out[col] = as_timestamp(path, col, raw[col]) if col == timestamp else raw[col]
    for col in spec.numeric:
        out[col] = as_numeric(path, col, raw[col])
    for col in spec.categorical:
        out[col] = as_text(raw[col])
    return out


def predictions_table(typed: pd.DataFrame, model: ScoringModel, passthrough: list[str]) -> pa.Table:
    """The output rows of one chunk: passthrough columns, the task's prediction columns
    (`driftline.core.scoring.output_columns`), the model version."""
    outputs = output_columns(model.predict(typed[model.spec.features]), model.task)
    cols = {c: pa.array(typed[c]) for c in passthrough if c in typed.columns}
    version = pa.DictionaryArray.from_arrays(np.zeros(len(typed), np.int32), [model.name])
    cols |= {name: pa.array(values) for name, values in outputs.items()}
    cols["model_version"] = version
    return pa.table(cols)


def _prefetched(chunks: Iterator[Any], pool: ThreadPoolExecutor) -> Iterator[Any]:
    """Read the next chunk while this one is scored (pyarrow reads without holding the GIL)."""
    future = pool.submit(next, chunks, None)
    while (chunk := future.result()) is not None:
        future = pool.submit(next, chunks, None)
        yield chunk


def score_files(
    files: list[Path],
    model: ScoringModel,
    output: Path,
    *,
    fmt: str = "auto",
    encoding: str = "utf-8",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    passthrough: list[str] | None = None,
    timestamp: str | None = None,
    check: Callable[[pd.DataFrame, Path], None] | None = None,
    progress: Callable[[int], None] | None = None,
    keep: list[str] | None = None,
) -> int:
    """Score files in chunks into one Parquet file; returns the rows written.

    `passthrough` columns (id, timestamp) are copied when present, `keep` columns always
    (a missing one is an error). Reading the next chunk and writing the last one overlap
    with scoring (two I/O threads). `check(typed_chunk, path)` raises to stop (validation);
    `progress(rows_done)` reports.
    """
    keep = [c for c in keep or [] if c not in (passthrough or [])]
    passthrough = [*(passthrough or []), *keep]
    wanted = [*passthrough, *model.spec.features]
    done = 0
    chunks = (
        (path, raw)
        for path in files
        for raw in read_chunks(path, fmt, chunk_rows, wanted, encoding)
    )
    with atomic_path(output) as tmp:
        writer: pq.ParquetWriter | None = None
        try:
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="score-io") as pool:
                written: Future[None] | None = None
                for path, raw in _prefetched(chunks, pool):
                    typed = type_chunk(raw, model.spec, path, passthrough, timestamp, keep)
                    if check is not None:
                        check(typed, path)
                    table = predictions_table(typed, model, passthrough)
                    if writer is None:
                        writer = pq.ParquetWriter(tmp, table.schema)
                    if written is not None:
                        written.result()
                    written = pool.submit(writer.write_table, table.cast(writer.schema))
                    done += table.num_rows
                    if progress is not None:
                        progress(done)
                if written is not None:
                    written.result()
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise DataError(f"{files[0] if files else 'input'}: no rows to score")
    return done
