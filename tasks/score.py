"""Batch scoring: files → typed feature chunks → validated → champion probabilities → Parquet.

One pass in chunks, so memory stays bounded by the chunk size: each chunk is typed exactly as
ingestion types it, checked against the features part of the project's suite, scored, and
appended to a Parquet file written aside and renamed into place only when every chunk passed.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from driftline.config import ProjectConfig
from driftline.datasets import DataError, as_numeric, as_text, as_timestamp, read_raw
from driftline.registry import ModelRegistry
from driftline.serving.holder import LoadedModel, verify
from driftline.serving.schema import FeatureSpec

if TYPE_CHECKING:
    import great_expectations as gx

DEFAULT_CHUNK_ROWS = 100_000


class ScoringFailed(DataError):
    """A chunk of the input failed a critical expectation; nothing was written."""


class ScoreResult(BaseModel):
    output: str
    rows: int
    model_version: str
    sources: list[str]
    validated: bool


def load_verified(registry: ModelRegistry, version: str) -> LoadedModel:
    """A registered version, its bytes checked and the model probed, ready to score."""
    mv = registry.get(version)
    return verify(mv, registry.load_model(mv.version), None)


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
    path: Path, fmt: str, chunk_rows: int, columns: list[str]
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
        yield from pd.read_csv(path, chunksize=chunk_rows, usecols=lambda c: c in wanted)
    else:
        yield read_raw(path, fmt)  # raises the DataError naming the unknown type


def type_chunk(
    raw: pd.DataFrame, spec: FeatureSpec, path: Path, passthrough: list[str], timestamp: str | None
) -> pd.DataFrame:
    """Feature columns typed as ingestion types them, plus id/timestamp columns if present."""
    missing = [c for c in spec.features if c not in raw.columns]
    if missing:
        raise DataError(f"{path}: required feature column '{missing[0]}' is missing")
    out = pd.DataFrame(index=raw.index)
    for col in passthrough:
        if col in raw.columns:
            out[col] = as_timestamp(path, col, raw[col]) if col == timestamp else raw[col]
    for col in spec.numeric:
        out[col] = as_numeric(path, col, raw[col])
    for col in spec.categorical:
        out[col] = as_text(raw[col])
    return out


def predictions_table(typed: pd.DataFrame, model: LoadedModel, passthrough: list[str]) -> pa.Table:
    """The output rows of one chunk: passthrough columns, probability, label, version."""
    proba = model.probabilities(typed[model.spec.features])
    cols = {c: pa.array(typed[c]) for c in passthrough if c in typed.columns}
    version = pa.DictionaryArray.from_arrays(np.zeros(len(proba), np.int32), [model.name])
    cols |= {
        "probability": pa.array(proba),
        "label": pa.array((proba >= model.threshold).astype(np.int64)),
        "model_version": version,
    }
    return pa.table(cols)


def features_suite(suite: gx.ExpectationSuite, columns: list[str]) -> gx.ExpectationSuite:
    """The part of a suite about these columns (table-level and target checks dropped)."""
    import great_expectations as gx

    raw = suite.to_json_dict()
    raw.pop("id", None)
    kept = [e for e in raw["expectations"] if e.get("kwargs", {}).get("column") in columns]
    for e in kept:
        e.pop("id", None)
    return gx.ExpectationSuite(**(raw | {"name": f"{suite.name}-features", "expectations": kept}))


def _prefetched(chunks: Iterator[Any], pool: ThreadPoolExecutor) -> Iterator[Any]:
    """Read the next chunk while this one is scored (pyarrow reads without holding the GIL)."""
    future = pool.submit(next, chunks, None)
    while (chunk := future.result()) is not None:
        future = pool.submit(next, chunks, None)
        yield chunk


def score_files(
    files: list[Path],
    model: LoadedModel,
    output: Path,
    *,
    fmt: str = "auto",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    passthrough: list[str] | None = None,
    timestamp: str | None = None,
    check: Any = None,
    progress: Any = None,
) -> int:
    """Score files in chunks into one Parquet file; returns the rows written.

    Reading the next chunk and writing the last one overlap with scoring (two I/O threads).
    `check(typed_chunk, path)` raises to stop (validation); `progress(rows_done)` reports.
    """
    passthrough = passthrough or []
    wanted = [*passthrough, *model.spec.features]
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    writer: pq.ParquetWriter | None = None
    done = 0
    chunks = ((path, raw) for path in files for raw in read_chunks(path, fmt, chunk_rows, wanted))
    try:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="score-io") as pool:
            written: Future[None] | None = None
            for path, raw in _prefetched(chunks, pool):
                typed = type_chunk(raw, model.spec, path, passthrough, timestamp)
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
        if writer is None:
            raise DataError(f"{files[0] if files else 'input'}: no rows to score")
        writer.close()
        writer = None
        tmp.replace(output)
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
    return done


@task(name="score", cache_policy=NO_CACHE)
def score(
    cfg: ProjectConfig,
    sources: list[str],
    version: str,
    output: str,
    validate: bool = True,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    docs_dir: str | None = None,
) -> ScoreResult:
    """Score the input files with one registered version, validating each chunk first."""
    logger = get_run_logger()
    model = load_verified(ModelRegistry.for_config(cfg), version)
    files = [Path(s) for s in sources]
    total = sum(count_rows(p, cfg.data.format) for p in files)
    passthrough = [c for c in (cfg.id_column, cfg.timestamp_column) if c]
    check = None
    if validate:
        from driftline.expectations import load_suite, run_validation

        suite = features_suite(load_suite(cfg.suite_path), model.spec.features)

        def check(typed: pd.DataFrame, path: Path) -> None:
            report = run_validation(typed[model.spec.features], suite)
            if not report.success:
                docs = Path(docs_dir) if docs_dir else None
                report = run_validation(typed[model.spec.features], suite, docs)
                where = f"; Data Docs: {report.docs_path}" if report.docs_path else ""
                raise ScoringFailed(f"{path}: {report.summary_line}{where}")

    progress = None
    if total > chunk_rows:
        artifact = create_progress_artifact(
            progress=0.0, description=f"Scoring {total} rows with {cfg.project} {version}"
        )

        def progress(done: int) -> None:
            update_progress_artifact(artifact_id=artifact, progress=100.0 * done / total)

    rows = score_files(
        files,
        model,
        Path(output),
        fmt=cfg.data.format,
        chunk_rows=chunk_rows,
        passthrough=passthrough,
        timestamp=cfg.timestamp_column,
        check=check,
        progress=progress,
    )
    logger.info("scored %d rows with %s into %s", rows, version, output)
    return ScoreResult(
        output=output, rows=rows, model_version=version, sources=sources, validated=validate
    )
