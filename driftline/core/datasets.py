"""Reading a project's raw batches into one typed table, and the references that travel.

Tasks pass a `DatasetRef` (a Parquet path plus fingerprint), never a DataFrame: Prefect
hashes and pickles task inputs, and a path is what lineage records anyway.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from driftline.core.atomic import atomic_path
from driftline.core.config import ProjectConfig
from driftline.core.contracts import DatasetRef, Ingested, Schema
from driftline.core.fingerprints import frame_fingerprint
from driftline.core.labels import label_text
from driftline.core.profile import profile
from driftline.core.sources import (  # noqa: F401  (callers import them from here too)
    check_sources,
    discover_sources,
)
from driftline.core.targets import decide_task
from driftline.errors import DataError


def encoding_error(path: Path, encoding: str) -> DataError:
    """The error for a file that is not text in `encoding`: its first bad line and a fix."""
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            try:
                line.decode(encoding)
            except UnicodeDecodeError as exc:
                bad = line[exc.start : exc.end + 8]
                guess = "cp1252"
                try:
                    line.decode(guess)
                except UnicodeDecodeError:
                    guess = "latin-1"
                return DataError(
                    f"{path}: line {number}: bytes {bad!r} are not valid {encoding} text; set "
                    f"data.encoding in the config to the file's encoding (e.g. {guess!r})"
                )
    return DataError(f"{path}: not valid {encoding} text; set data.encoding to its encoding")


def duplicated_columns(path: Path, columns: list[object]) -> None:
    seen: set[object] = set()
    for column in columns:
        if column in seen:
            raise DataError(
                f"{path}: column '{column}' appears more than once in the header; "
                "rename or remove the copies"
            )
        seen.add(column)


def read_raw(path: Path, fmt: str, encoding: str = "utf-8") -> pd.DataFrame:
    kind = fmt if fmt != "auto" else path.suffix.lower().lstrip(".")
    try:
        if kind == "parquet":
            df = pd.read_parquet(path)
        elif kind == "csv":
            df = pd.read_csv(path, engine="pyarrow", encoding=encoding)
        else:
            raise DataError(f"{path}: unknown file type '{path.suffix}'; use .csv or .parquet")
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file is empty") from None
    except UnicodeDecodeError:
        raise encoding_error(path, encoding) from None
    except DataError:
        raise
    except Exception as exc:  # pyarrow and pandas raise many types for unreadable bytes
        if path.stat().st_size == 0:
            raise DataError(f"{path}: file is empty") from None
        raise DataError(f"{path}: cannot be read as {kind}: {exc}") from None
    duplicated_columns(path, list(df.columns))
    if kind == "csv":  # pyarrow keeps bytes it cannot decode as bytes instead of failing
        for col in df.columns:
            if pd.api.types.is_object_dtype(df[col]) and df[col].map(type).eq(bytes).any():
                raise encoding_error(path, encoding)
    return df


def _first_bad(raw: pd.Series, parsed: pd.Series) -> tuple[int, object]:
    bad = parsed.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    i = int(np.flatnonzero(bad.to_numpy())[0])
    return i, raw.iloc[i]


def as_numeric(path: Path, col: str, s: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(s):
        return s.astype("float64")
    if pd.api.types.is_numeric_dtype(s):
        return s.astype("float64")
    parsed = pd.to_numeric(s, errors="coerce")
    if (parsed.isna() & s.notna()).any():
        blank = s.astype(str).str.strip() == ""
        if (parsed.isna() & s.notna() & ~blank).any():
            row, value = _first_bad(s, parsed)
            raise DataError(
                f"{path}: column '{col}': value {value!r} in data row {row + 1} is not a number"
            )
    return parsed.astype("float64")


def as_text(s: pd.Series) -> pd.Series:
    """Text with missing values kept missing (NaN), whatever type the reader gave the cells."""
    return s.astype("str").where(s.notna())


def as_timestamp(path: Path, col: str, s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        return s
    parsed = pd.to_datetime(s, errors="coerce")
    if (parsed.isna() & s.notna()).any():
        row, value = _first_bad(s, parsed)
        raise DataError(
            f"{path}: column '{col}': value {value!r} in data row {row + 1} is not a date/time"
        )
    return parsed


def _target(path: Path, col: str, s: pd.Series) -> pd.Series:
    if s.isna().any():
        row = int(np.flatnonzero(s.isna().to_numpy())[0])
        raise DataError(f"{path}: column '{col}': target missing in data row {row + 1}")
    return s


# A text column needs this many sampled rows, all distinct, to be taken for an identifier.
ID_LIKE_MIN_ROWS = 20


def _looks_like_id(values: pd.Series) -> bool:
    """All-distinct text: an identifier, which a model would only memorise."""
    present = values.dropna()
    return (
        not pd.api.types.is_numeric_dtype(values)
        and len(present) >= ID_LIKE_MIN_ROWS
        and present.nunique() == len(present)
    )


def infer_schema(cfg: ProjectConfig, sample: pd.DataFrame, path: Path) -> Schema:
    """The configured schema, with features inferred from a sample when none are declared.

    Inference leaves out the target, the id and timestamp columns, `features.exclude` and
    columns that look like identifiers (all-distinct text), each with a note on the schema.
    """
    reserved = {cfg.target.column, cfg.id_column, cfg.timestamp_column} - {None}
    exclude = set(cfg.features.exclude)
    unknown = sorted(exclude - set(sample.columns))
    if unknown:
        raise DataError(
            f"{path}: features.exclude names column(s) {unknown} that the data does not have"
        )
    numeric = [c for c in cfg.features.numeric if c not in exclude]
    categorical = [c for c in cfg.features.categorical if c not in exclude]
    notes = [f"features.exclude leaves out {sorted(exclude)}"] if exclude else []
    if not cfg.features.numeric and not cfg.features.categorical:
        for col in sample.columns:
            if col in reserved or col in exclude:
                continue
            if _looks_like_id(sample[col]):
                notes.append(
                    f"column '{col}' left out of the features: every value is distinct, so it "
                    "looks like an identifier (list it in features.categorical to use it)"
                )
                continue
            is_num = pd.api.types.is_numeric_dtype(sample[col])
            (numeric if is_num else categorical).append(col)
    schema = Schema(
        numeric=tuple(numeric),
        categorical=tuple(categorical),
        target=cfg.target.column,
        id_column=cfg.id_column,
        timestamp_column=cfg.timestamp_column,
        notes=tuple(notes),
    )
    if not schema.features:
        raise DataError(f"{path}: no feature columns found besides the target and id columns")
    return schema


def with_task(cfg: ProjectConfig, df: pd.DataFrame, schema: Schema, path: Path) -> Schema:
    """`schema` with the task of its target (configured or inferred), classes and a note.

    For a binary task the positive label must occur; on any other task a configured
    positive label is an error (it would mean nothing).
    """
    target = df[schema.target]
    try:
        decision = decide_task(target, schema.target, cfg.target.task)
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from None
    if decision.task == "binary":
        positive = label_text(cfg.target.positive_label)
        if positive not in decision.classes:
            raise DataError(
                f"{path}: column '{schema.target}': positive label "
                f"{cfg.target.positive_label!r} never occurs (labels seen: "
                f"{list(decision.classes)[:10]}); set target.positive_label to one of them"
            )
    elif cfg.target.positive_label_set:
        raise DataError(
            f"{path}: target.positive_label applies to binary targets only, and "
            f"{decision.note}; remove target.positive_label or set target.task"
        )
    return schema.model_copy(
        update={
            "task": decision.task,
            "classes": decision.classes,
            "notes": (decision.note, *schema.notes),
        }
    )


def read_typed(
    path: Path, raw: pd.DataFrame, schema: Schema, target_required: bool = True
) -> pd.DataFrame:
    """One source file's raw table, checked and converted to the declared types.

    With `target_required` False (a monitoring batch) the target may be missing or partly
    empty: rows without a label are kept, unlabelled.
    """
    if raw.empty:
        raise DataError(f"{path}: file has a header but no rows")
    needed = schema.columns if target_required else schema.columns[:-1]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise DataError(
            f"{path}: required column '{missing[0]}' is missing"
            + (f" (also missing: {missing[1:]})" if len(missing) > 1 else "")
        )
    out = pd.DataFrame(index=raw.index)
    if schema.id_column:
        out[schema.id_column] = as_text(raw[schema.id_column])
    if schema.timestamp_column:
        col = schema.timestamp_column
        out[col] = as_timestamp(path, col, raw[col])
    for col in schema.numeric:
        out[col] = as_numeric(path, col, raw[col])
    for col in schema.categorical:
        out[col] = as_text(raw[col])
    if target_required:
        out[schema.target] = _target(path, schema.target, raw[schema.target])
    else:
        out[schema.target] = raw[schema.target] if schema.target in raw.columns else None
    return out


def read_sources(
    cfg: ProjectConfig,
    paths: list[Path],
    schema: Schema | None = None,
    target_required: bool = True,
) -> tuple[pd.DataFrame, Schema]:
    """All source files as one typed table, with the schema they were read under.

    Without `schema` the features are inferred (when not configured) and the task decided
    from the whole target column; with one (a model's: a monitoring window, recent rows for
    retraining) the files are read under it as they are, however few classes they hold.
    `target_required` False: labels may be missing, as in a batch to monitor.
    """
    df, schema, _ = read_batches(cfg, paths, schema, target_required)
    return df, schema


def read_batches(
    cfg: ProjectConfig,
    paths: list[Path],
    schema: Schema | None = None,
    target_required: bool = True,
) -> tuple[pd.DataFrame, Schema, list[int]]:
    """`read_sources`, and the rows each file gave (what a split by batch needs)."""
    frames: list[pd.DataFrame] = []
    fixed = schema
    for path in paths:
        raw = read_raw(path, cfg.data.format, cfg.data.encoding)
        if schema is None:
            schema = infer_schema(cfg, raw.head(1000), path)
        frames.append(read_typed(path, raw, schema, target_required))
    assert schema is not None
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if fixed is None:
        schema = with_task(cfg, df, schema, paths[0])
    if schema.task == "regression" and df[schema.target].notna().any():
        df[schema.target] = as_numeric(paths[0], schema.target, df[schema.target])
    return df, schema, [len(f) for f in frames]


def write_dataset(
    df: pd.DataFrame, folder: Path, sources: list[Path], batch_rows: list[int] | None = None
) -> DatasetRef:
    """Write a table content-addressed under `folder` and return its reference
    (`batch_rows`: the rows each of `sources` gave, in order, when the table is theirs)."""
    fp = frame_fingerprint(df)
    target = folder / fp / "data.parquet"
    if not target.exists():
        with atomic_path(target) as tmp:
            df.to_parquet(tmp, index=False)
    return DatasetRef(
        path=str(target),
        fingerprint=fp,
        rows=len(df),
        columns=list(df.columns),
        sources=[str(p) for p in sources],
        batch_rows=list(batch_rows or []),
    )


def publish(
    df: pd.DataFrame,
    schema: Schema,
    sources: list[Path],
    folder: Path,
    positive_label: object,
    batch_rows: list[int] | None = None,
    arrival_order: bool = False,
) -> tuple[Ingested, dict]:
    """Write a typed table as a dataset with its profile JSON beside it; returns both.

    Ingestion and the retraining flow's training-set assembly both end here.
    """
    dataset = write_dataset(df, folder, sources, batch_rows)
    report = profile(df, schema, positive_label)
    report["fingerprint"] = dataset.fingerprint
    report["sources"] = dataset.sources
    profile_path = Path(dataset.path).with_name("profile.json")
    with atomic_path(profile_path) as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    ingested = Ingested(
        dataset=dataset,
        table_schema=schema,
        profile_path=str(profile_path),
        arrival_order=arrival_order,
    )
    return ingested, report
