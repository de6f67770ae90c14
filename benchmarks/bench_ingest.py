"""Ingestion and validation against bare pandas.

(1) driftline's read → type-check → Parquet write of one CSV against `pandas.read_csv` of it;
(2) `run_validation` with the demo suite against the same checks written in plain pandas.
Both show what the extra guarantees (typed columns, errors naming file and column; GX results
and severities) cost over the least a script could do.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.harness import Figure, best_of
from driftline.core.config import load_config
from driftline.core.datasets import read_sources, write_dataset
from driftline.core.generator import write_batches
from driftline.storage.expectations import load_suite, run_validation

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "expectations" / "churn.json"


def _pandas_checks(df: pd.DataFrame, suite: dict[str, Any]) -> list[bool]:
    """The demo suite's expectations as plain pandas: one boolean per expectation."""
    results = []
    for e in suite["expectations"]:
        kind, k = e["type"].removeprefix("expect_"), e["kwargs"]
        s = df[k["column"]] if "column" in k else None
        mostly = k.get("mostly", 1.0)
        if kind == "table_columns_to_match_set":
            ok = set(df.columns) == set(k["column_set"])
        elif kind == "table_row_count_to_be_between":
            ok = k["min_value"] <= len(df) <= k["max_value"]
        elif kind == "column_values_to_be_of_type":
            ok = ("str" if pd.api.types.is_string_dtype(s) else str(s.dtype)) == k["type_"]
        elif kind == "column_values_to_not_be_null":
            ok = s.notna().mean() >= mostly
        elif kind == "column_values_to_be_between":
            ok = s.dropna().between(k["min_value"], k["max_value"]).mean() >= mostly
        elif kind == "column_mean_to_be_between":
            ok = k["min_value"] <= s.mean() <= k["max_value"]
        elif kind == "column_values_to_be_in_set":
            ok = s.dropna().isin(k["value_set"]).mean() >= mostly
        elif kind == "column_values_to_be_unique":
            ok = not s.dropna().duplicated().any()
        else:
            raise KeyError(f"no pandas version of {e['type']}")
        results.append(bool(ok))
    return results


def figures(scale: float) -> list[Figure]:
    rows = max(1000, int(1_000_000 * scale))
    with tempfile.TemporaryDirectory(prefix="driftline-bench-ingest-") as tmp:
        return _measure(rows, Path(tmp))


def _measure(rows: int, tmp: Path) -> list[Figure]:
    (csv,) = write_batches(tmp / "raw", n_rows=rows, n_batches=1, seed=0)
    cfg = load_config(ROOT / "driftline.yaml").with_source(csv)

    def driftline_ingest() -> pd.DataFrame:
        df, _ = read_sources(cfg, [csv])
        write_dataset(df, tmp / "datasets" / uuid.uuid4().hex, [csv])
        return df

    ingest = best_of(driftline_ingest)
    bare = best_of(lambda: pd.read_csv(csv))

    df = driftline_ingest()
    suite, raw_suite = load_suite(SUITE), json.loads(SUITE.read_text())
    report = run_validation(df, suite)
    checks = _pandas_checks(df, raw_suite)
    if report.success != all(checks) or len(checks) != report.evaluated:
        raise AssertionError(f"GX and pandas disagree: {report.summary_line}; pandas {checks}")
    gx_time = best_of(lambda: run_validation(df, suite))
    pandas_time = best_of(lambda: _pandas_checks(df, raw_suite))
    label = f"{rows / 1e6:g}M rows"
    return [
        Figure(
            "ingest",
            f"read+type+write CSV, {label}",
            ingest,
            bare,
            "s",
            "pandas.read_csv",
        ),
        Figure(
            "ingest",
            f"validate {report.evaluated} expectations, {label}",
            gx_time,
            pandas_time,
            "s",
            "plain pandas checks",
        ),
    ]
