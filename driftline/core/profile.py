"""A data-quality profile of an ingested table: what a person checks before trusting it.

Written by hand because it is a few pandas aggregations: Evidently's and GX's profilers
produce far larger documents and take seconds, where this runs on every ingest.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from driftline.core.contracts import Schema
from driftline.core.labels import label_texts, positive_mask


def _column(s: pd.Series, kind: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "column": s.name,
        "kind": kind,
        "dtype": str(s.dtype),
        "missing_share": round(float(s.isna().mean()), 4),
        "distinct": int(s.nunique(dropna=True)),
    }
    if kind == "numeric":
        entry.update(
            min=float(s.min()) if s.notna().any() else None,
            max=float(s.max()) if s.notna().any() else None,
            mean=round(float(s.mean()), 4) if s.notna().any() else None,
        )
    elif kind in ("categorical", "target"):
        top = s.value_counts(dropna=True).head(5)
        entry["top"] = {str(k): int(v) for k, v in top.items()}
    return entry


def profile(df: pd.DataFrame, schema: Schema, positive_label: object) -> dict[str, Any]:
    """Per-column statistics, duplicate rows and target balance of a typed table."""
    kinds = {c: "numeric" for c in schema.numeric} | {c: "categorical" for c in schema.categorical}
    kinds[schema.target] = "target"
    if schema.id_column:
        kinds[schema.id_column] = "id"
    if schema.timestamp_column:
        kinds[schema.timestamp_column] = "timestamp"
    return {
        "rows": len(df),
        "duplicate_rows": int(df.duplicated().sum()),
        "task": schema.task,
        "target_balance": _balance(df[schema.target], schema, positive_label),
        "columns": [_column(df[c], kinds[c]) for c in df.columns],
    }


def _balance(target: pd.Series, schema: Schema, positive_label: object) -> dict[str, Any]:
    """Binary: the positive share; multiclass: each class's share; regression: none."""
    if schema.task == "binary":
        share = float(positive_mask(target, positive_label).mean())
        return {"positive_label": str(positive_label), "positive_share": round(share, 4)}
    if schema.task == "multiclass":
        shares = label_texts(target).value_counts(normalize=True)
        return {"class_shares": {str(k): round(float(v), 4) for k, v in shares.items()}}
    return {}
