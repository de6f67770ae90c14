"""Expectation suites without Prefect: suggestion, broken data, severity, JSON round trip."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd
import pytest
from conftest import ROOT, write_project

from driftline.core.config import ConfigError, load_config
from driftline.core.datasets import Schema, discover_sources, read_sources
from driftline.storage.expectations import load_suite, run_validation, save_suite, suggest_suite
from driftline.storage.offline_assets import remote_urls

DEMO_SUITE = ROOT / "expectations" / "churn.json"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Schema]:
    """2,000 demo rows read through ingestion's own code path, as validation sees them."""
    cfg = load_config(write_project(tmp_path_factory.mktemp("reference")))
    return read_sources(cfg, discover_sources(cfg.resolve(cfg.data.source)))


@pytest.fixture(scope="module")
def suite(reference: tuple[pd.DataFrame, Schema]) -> gx.ExpectationSuite:
    df, schema = reference
    return suggest_suite(df, schema, "reference")


def _critical(report) -> set[tuple[str, str | None]]:
    return {(f.expectation_type, f.column) for f in report.critical}


def test_suggested_suite_passes_its_own_data(reference, suite) -> None:
    df, schema = reference
    report = run_validation(df, suite)
    assert report.success and report.failures == []
    assert report.evaluated == len(suite.expectations)
    kinds = {e.expectation_type for e in suite.expectations}
    assert {
        "expect_table_columns_to_match_set",
        "expect_table_row_count_to_be_between",
        "expect_column_values_to_be_of_type",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
    } <= kinds
    target_set = next(
        e
        for e in suite.expectations
        if getattr(e, "column", None) == schema.target
        and e.expectation_type == "expect_column_values_to_be_in_set"
    )
    assert sorted(target_set.value_set) == [0, 1]


def test_demo_suite_passes_fresh_demo_data(reference) -> None:
    report = run_validation(reference[0], load_suite(DEMO_SUITE))
    assert report.success, report.summary_line
    assert {f.severity for f in report.failures} <= {"warning", "info"}
    severities = {e.severity.value for e in load_suite(DEMO_SUITE).expectations}
    assert severities == {"critical", "warning"}


def _set(col: str, rows: slice, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[rows, col] = value
        return df

    return edit


def _retype_age(df: pd.DataFrame) -> pd.DataFrame:
    df["age"] = df["age"].astype("str")
    return df


BROKEN = {
    "out-of-range numeric": (
        _set("monthly_charges", slice(0, 4), 10_000.0),
        ("expect_column_values_to_be_between", "monthly_charges"),
        5,
        [10_000.0],
    ),
    "unknown category": (
        _set("contract", slice(10, 12), "weekly"),
        ("expect_column_values_to_be_in_set", "contract"),
        3,
        ["weekly"],
    ),
    "target value outside set": (
        _set("churned", slice(0, 1), 2),
        ("expect_column_values_to_be_in_set", "churned"),
        2,
        [2],
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_value_fails_exactly_its_expectation(reference, suite, case: str) -> None:
    edit, expected, count, examples = BROKEN[case]
    report = run_validation(edit(reference[0].copy()), suite)
    assert not report.success
    assert _critical(report) == {expected}
    failure = report.critical[0]
    assert failure.unexpected_count == count
    assert failure.examples == examples
    assert failure.expectation_id
    assert report.summary_line.startswith("FAILED") and expected[0] in report.summary_line


def test_too_many_nulls_counts_them(reference, suite) -> None:
    df = reference[0].copy()
    df.loc[: len(df) // 2 - 1, "payment_method"] = None
    report = run_validation(df, suite)
    assert _critical(report) == {("expect_column_values_to_not_be_null", "payment_method")}
    assert report.critical[0].unexpected_count == df["payment_method"].isna().sum()
    assert report.critical[0].examples == [None]


def test_missing_column_fails_the_column_set(reference, suite) -> None:
    report = run_validation(reference[0].drop(columns=["age"]), suite)
    assert not report.success
    table = next(f for f in report.critical if f.column is None)
    assert table.expectation_type == "expect_table_columns_to_match_set"
    assert table.examples == ["missing ['age']"]
    assert {f.column for f in report.critical} == {None, "age"}
    assert any(f.error and "age" in f.error for f in report.critical)


def test_wrong_type_fails_the_type_expectation(reference, suite) -> None:
    report = run_validation(_retype_age(reference[0].copy()), suite)
    assert not report.success
    assert ("expect_column_values_to_be_of_type", "age") in _critical(report)
    type_failure = next(f for f in report.critical if f.column == "age")
    assert type_failure.examples == ["str"]
    assert {f.column for f in report.critical} == {"age"}


def test_warnings_are_reported_but_pass(reference) -> None:
    df = reference[0].copy()
    df.loc[:9, "region"] = "mars"
    warn_only = gx.ExpectationSuite(
        name="soft",
        expectations=[
            gxe.ExpectColumnValuesToBeInSet(
                column="region", value_set=["north", "south", "east", "west"], severity="warning"
            ),
            gxe.ExpectColumnMeanToBeBetween(
                column="age", min_value=0, max_value=1, severity="info"
            ),
            gxe.ExpectColumnValuesToNotBeNull(column="contract"),
        ],
    )
    report = run_validation(df, warn_only)
    assert report.success
    assert report.result["success"] is False  # GX's own verdict counts warnings
    assert [(f.severity, f.column) for f in report.failures] == [
        ("warning", "region"),
        ("info", "age"),
    ]
    assert report.failures[0].unexpected_count == 10
    assert report.failures[0].examples == ["mars"]
    assert report.summary_line.startswith("passed") and "2 warning/info" in report.summary_line

    df.loc[0, "contract"] = None
    mixed = run_validation(df, warn_only)
    assert not mixed.success
    assert [f.severity for f in mixed.failures] == ["critical", "warning", "info"]


def test_data_docs_land_in_the_given_folder(reference, suite, tmp_path: Path) -> None:
    report = run_validation(reference[0], suite, tmp_path / "docs")
    assert report.docs_path == str(tmp_path / "docs" / "index.html")
    assert Path(report.docs_path).is_file()
    pages = list((tmp_path / "docs" / "validations").rglob("*.html"))
    assert pages
    json.dumps(report.result, allow_nan=False)
    for page in [Path(report.docs_path), *pages]:  # offline: every asset is a local file
        text = page.read_text()
        assert remote_urls(text) == [], page
        local = re.findall(r'(?:src|href)="([^"#?]+\.(?:js|css|png))', text)
        assert local and all((page.parent / ref).is_file() for ref in local), page


def test_suite_json_round_trips(suite, tmp_path: Path) -> None:
    path = save_suite(suite, tmp_path / "s.json")
    loaded = load_suite(path)
    assert loaded.to_json_dict() == suite.to_json_dict()
    assert save_suite(loaded, tmp_path / "again.json").read_text() == path.read_text()
    assert save_suite(load_suite(DEMO_SUITE), tmp_path / "demo.json").read_text() == (
        DEMO_SUITE.read_text()
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("{not json", "not valid JSON"),
        ('{"name": "x"}', "list of 'expectations'"),
        (
            '{"name": "x", "expectations": [{"type": "expect_column_to_be_nice", "kwargs": {}}]}',
            "expect_column_to_be_nice",
        ),
        (
            '{"name": "x", "expectations": [{"type": "expect_column_values_to_be_between",'
            ' "kwargs": {"column": "a", "min_valu": 1}}]}',
            "invalid expectation suite",
        ),
    ],
)
def test_load_suite_errors_name_the_file(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "broken.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message) as info:
        load_suite(path)
    assert str(path) in str(info.value)


def test_cli_suggest_writes_a_suite_that_passes_the_data(project, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from driftline.apps.cli import app

    config = project.base_dir / "driftline.yaml"
    args = ["expectations", "suggest", "-c", str(config), "--name", "mine", "--out", str(tmp_path)]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    suite = load_suite(tmp_path / "mine.json")
    assert suite.name == "mine"
    df, _ = read_sources(project, discover_sources(project.resolve(project.data.source)))
    assert run_validation(df, suite).success

    again = CliRunner().invoke(app, args)
    assert again.exit_code == 1 and "--force" in again.output
    missing = CliRunner().invoke(app, [*args, "--force", "--data", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 1 and "nope.csv: file not found" in missing.output
