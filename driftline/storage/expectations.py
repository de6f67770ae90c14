"""Expectation suites: suggest one from reference data, save and load it, validate a table.

Pure functions, no Prefect. Great Expectations does the checks and renders Data Docs; driftline
decides pass/fail itself, because GX marks a run failed on any failed expectation while a
suite's `severity` says only `critical` failures should stop a batch (`warning` and `info`
are reported and pass). `import great_expectations` takes ~3 s, so it happens inside the
functions: the CLI and the flow modules import this one without paying for it.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from driftline.core.contracts import Failure, Schema, ValidationReport
from driftline.core.sources import suite_not_found
from driftline.errors import ConfigError

if TYPE_CHECKING:
    import great_expectations as gx
    from great_expectations.data_context import AbstractDataContext

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
MAX_EXAMPLES = 5
# Row-count bounds of a suggested suite: a tenth to ten times the reference's rows.
ROW_COUNT_FACTOR = 10
# Numeric ranges are widened by this share of the observed range on each side.
RANGE_MARGIN = 0.1
# Mean bounds (severity warning): the reference mean ± this many standard deviations.
MEAN_MARGIN_STD = 0.25
# Categorical value sets are suggested only for columns with at most this many values.
MAX_VALUE_SET = 50


def load_suite(path: str | Path) -> gx.ExpectationSuite:
    """Read a suite JSON; every problem is a ConfigError naming the file.

    GX logs and silently drops an expectation of an unknown type, so the count is checked:
    a typo in a suite must not quietly validate less than it says.
    """
    import great_expectations as gx

    path = Path(path)
    if not path.is_file():
        raise suite_not_found(path)
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: expectation suite is not valid JSON: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("expectations"), list):
        raise ConfigError(f"{path}: expected a JSON object with a list of 'expectations'")
    try:
        suite = gx.ExpectationSuite(**raw)
    except Exception as exc:  # GX raises pydantic, TypeError and its own errors for bad entries
        raise ConfigError(f"{path}: invalid expectation suite: {exc}") from None
    if len(suite.expectations) != len(raw["expectations"]):
        known = {e.expectation_type for e in suite.expectations}
        bad = [e.get("type") for e in raw["expectations"] if e.get("type") not in known]
        raise ConfigError(f"{path}: unknown or invalid expectation(s): {bad}")
    return suite


def features_suite(suite: gx.ExpectationSuite, columns: list[str]) -> gx.ExpectationSuite:
    """The part of a suite about these columns (table-level and target checks dropped)."""
    import great_expectations as gx

    raw = suite.to_json_dict()
    raw.pop("id", None)
    kept = [e for e in raw["expectations"] if e.get("kwargs", {}).get("column") in columns]
    for e in kept:
        e.pop("id", None)
    return gx.ExpectationSuite(**(raw | {"name": f"{suite.name}-features", "expectations": kept}))


def save_suite(suite: gx.ExpectationSuite, path: str | Path) -> Path:
    """Write a suite as GX 1.x JSON, indented, in suite order, so diffs of hand edits read well."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(suite.to_json_dict(), indent=2) + "\n")
    return path


def _num(x: float) -> float:
    """Six significant digits: bounds read cleanly in the JSON and survive a round trip."""
    return float(f"{x:.6g}")


def _type_name(s: pd.Series) -> str:
    """GX's name for a column's type; "str" for text (pandas 3's str dtype, pandas 2's object)."""
    return "str" if pd.api.types.is_string_dtype(s) else str(s.dtype)


def _numeric_expectations(s: pd.Series) -> list[Any]:
    import great_expectations.expectations as gxe

    values = s.dropna()
    if values.empty:
        return []
    lo, hi = float(values.min()), float(values.max())
    margin = (hi - lo) * RANGE_MARGIN
    low = max(0.0, lo - margin) if lo >= 0 else lo - margin
    mean, std = float(values.mean()), float(values.std(ddof=0))
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column=s.name, min_value=_num(low), max_value=_num(hi + margin)
        ),
        gxe.ExpectColumnMeanToBeBetween(
            column=s.name,
            min_value=_num(mean - MEAN_MARGIN_STD * std),
            max_value=_num(mean + MEAN_MARGIN_STD * std),
            severity="warning",
        ),
    ]


def _value_set(s: pd.Series) -> list[Any] | None:
    values = s.dropna().unique().tolist()
    return sorted(values) if len(values) <= MAX_VALUE_SET else None


def suggest_suite(df: pd.DataFrame, schema: Schema, name: str) -> gx.ExpectationSuite:
    """A first suite from a reference table, meant to be read and edited before it is trusted.

    Critical: the column set, each column's type, null shares (with `mostly` allowing twice
    the observed share plus one point), numeric ranges (widened by a tenth of the range,
    never below zero for non-negative columns), categorical and target value sets.
    Warning: row-count bounds, numeric means, unique ids.
    """
    import great_expectations as gx
    import great_expectations.expectations as gxe

    columns = [c for c in schema.columns if c in df.columns]
    n = len(df)
    exps: list[Any] = [
        gxe.ExpectTableColumnsToMatchSet(column_set=columns, exact_match=True),
        gxe.ExpectTableRowCountToBeBetween(
            min_value=max(1, n // ROW_COUNT_FACTOR),
            max_value=n * ROW_COUNT_FACTOR,
            severity="warning",
        ),
    ]
    for col in columns:
        s = df[col]
        exps.append(gxe.ExpectColumnValuesToBeOfType(column=col, type_=_type_name(s)))
        null_share = float(s.isna().mean())
        allowed = min(1.0, 2 * null_share + 0.01) if null_share else 0.0
        if allowed < 1.0:
            exps.append(gxe.ExpectColumnValuesToNotBeNull(column=col, mostly=_num(1.0 - allowed)))
        if col in schema.numeric:
            exps += _numeric_expectations(s)
        elif col in (*schema.categorical, schema.target) and (vs := _value_set(s)) is not None:
            exps.append(gxe.ExpectColumnValuesToBeInSet(column=col, value_set=vs))
        elif col == schema.id_column:
            exps.append(gxe.ExpectColumnValuesToBeUnique(column=col, severity="warning"))
    return gx.ExpectationSuite(name=name, expectations=exps)


def _context(docs_dir: Path | None) -> AbstractDataContext:
    """An in-memory GX context, quiet, with a Data Docs site under `docs_dir` when given."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # This GX module pins its logger to INFO and announces a temp folder on every context.
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    if docs_dir is not None:
        ctx.add_data_docs_site(
            "driftline",
            {
                "class_name": "SiteBuilder",
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(Path(docs_dir).resolve()),
                },
            },
        )
    return ctx


def _examples(result: dict[str, Any]) -> list[Any]:
    """A few distinct offending values, the mismatched columns, or the observed value."""
    if "partial_unexpected_list" in result:
        distinct: list[Any] = []
        for value in result["partial_unexpected_list"]:
            if value not in distinct:
                distinct.append(value)
        return distinct[:MAX_EXAMPLES]
    mismatched = (result.get("details") or {}).get("mismatched")
    if isinstance(mismatched, dict):
        return [f"{kind} {columns}" for kind, columns in mismatched.items() if columns]
    if "observed_value" in result:
        return [result["observed_value"]]
    return []


def _error(info: dict[str, Any] | None) -> str | None:
    """GX's error message: flat for the expectation, or keyed by metric when a metric failed."""
    if not info:
        return None
    if "raised_exception" in info:
        return info.get("exception_message") if info["raised_exception"] else None
    nested = [v for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]
    return nested[0].get("exception_message") if nested else None


def _failure(entry: dict[str, Any]) -> Failure:
    config = entry["expectation_config"]
    result = entry.get("result") or {}
    count = result.get("unexpected_count")
    return Failure(
        expectation_type=config["type"],
        column=config["kwargs"].get("column"),
        severity=str(config.get("severity") or "critical"),
        unexpected_count=None if count is None else int(count),
        examples=_examples(result),
        expectation_id=str(config.get("id")),
        error=_error(entry.get("exception_info")),
    )


def _json_safe(value: Any) -> Any:
    """GX's JSON dict keeps NaN (e.g. a mean of an all-null column); strict JSON has no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def run_validation(
    df: pd.DataFrame,
    suite: gx.ExpectationSuite,
    docs_dir: Path | None = None,
    assets_dir: Path | None = None,
) -> ValidationReport:
    """Validate a typed table; fails only on failed critical expectations.

    With `docs_dir`, GX renders its Data Docs there and the report names the site's index;
    the pages load their scripts and styles from `assets_dir` (default: inside the site),
    not from a CDN.
    """
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    ctx = _context(docs_dir)
    batch_definition = (
        ctx.data_sources.add_pandas("driftline")
        .add_dataframe_asset("table")
        .add_batch_definition_whole_dataframe("whole")
    )
    # A copy without ids: the context assigns fresh ones, and a suite can be validated twice.
    raw = suite.to_json_dict()
    raw.pop("id", None)
    for e in raw["expectations"]:
        e.pop("id", None)
    bound = ctx.suites.add(gx.ExpectationSuite(**raw))
    definition = ctx.validation_definitions.add(
        gx.ValidationDefinition(name=suite.name, data=batch_definition, suite=bound)
    )
    actions = []
    if docs_dir is not None:
        actions.append(UpdateDataDocsAction(name="docs", site_names=["driftline"]))
    checkpoint = ctx.checkpoints.add(
        gx.Checkpoint(
            name=suite.name,
            validation_definitions=[definition],
            actions=actions,
            result_format="SUMMARY",
        )
    )
    run = checkpoint.run(batch_parameters={"dataframe": df})
    if docs_dir is not None:
        from driftline.storage.offline_assets import make_offline

        make_offline(Path(docs_dir), Path(assets_dir or Path(docs_dir) / "assets"))
    (suite_result,) = run.run_results.values()
    result = _json_safe(suite_result.to_json_dict())
    order = {e.id: i for i, e in enumerate(bound.expectations)}
    failures = sorted(
        (_failure(r) for r in result["results"] if not r["success"]),
        key=lambda f: (SEVERITY_ORDER.get(f.severity, 0), order.get(f.expectation_id, 0)),
    )
    return ValidationReport(
        suite=suite.name,
        success=not any(f.severity == "critical" for f in failures),
        evaluated=len(result["results"]),
        failures=failures,
        result=result,
        docs_path=None if docs_dir is None else str(Path(docs_dir).resolve() / "index.html"),
    )
