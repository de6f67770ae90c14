"""The drift check on generated data: no false alarms, each kind of drift found, sampling safe."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from driftline.core.config import Monitoring
from driftline.core.drift import check_drift
from driftline.core.generator import CATEGORICAL, NUMERIC, TARGET, Drift, generate

FEATURES = [*NUMERIC, *CATEGORICAL]


def _check(ref: pd.DataFrame, cur: pd.DataFrame, policy: Monitoring | None = None, **kw):
    return check_drift(ref, cur, NUMERIC, CATEGORICAL, policy or Monitoring(), **kw)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return generate(3000, seed=1)


@pytest.fixture(scope="module")
def model(reference: pd.DataFrame) -> Pipeline:
    prep = make_column_transformer(
        (make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC),
        (
            make_pipeline(
                SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
            ),
            CATEGORICAL,
        ),
    )
    return make_pipeline(prep, LogisticRegression(max_iter=1000)).fit(
        reference[FEATURES], reference[TARGET]
    )


def _scored(df: pd.DataFrame, model: Pipeline) -> pd.DataFrame:
    return df.assign(probability=model.predict_proba(df[FEATURES])[:, 1])


@pytest.mark.parametrize("seed", range(20))
def test_no_false_alarm_on_the_same_distribution(seed: int) -> None:
    ref = generate(3000, seed=seed)
    cur = generate(3000, seed=seed + 1000)
    result, _ = _check(ref, cur)
    assert result.verdict
    assert result.drifted_columns == []
    assert result.alerts == []
    assert not result.dataset_drift
    assert {c.method for c in result.columns} == {"wasserstein", "jensenshannon"}


@pytest.mark.parametrize(
    ("drift", "column"),
    [
        (Drift(shift={"age": 8.0}), "age"),
        (Drift(scale={"data_usage_gb": 1.6}), "data_usage_gb"),
        (Drift(category_mix={"contract": {"two_year": 0.7}}), "contract"),
        (Drift(category_mix={"region": {"north": 0.7}}), "region"),
    ],
    ids=["shift", "scale", "category_mix-contract", "category_mix-region"],
)
def test_each_kind_of_covariate_drift_is_found(
    reference: pd.DataFrame, drift: Drift, column: str
) -> None:
    result, _ = _check(reference, generate(3000, seed=2, drift=drift))
    assert column in result.drifted_columns
    score = next(c for c in result.columns if c.column == column)
    assert score.score >= score.threshold


def test_drift_share_alerts_when_many_features_drift(reference: pd.DataFrame) -> None:
    drift = Drift(
        shift={"age": 10.0, "support_calls": 2.0},
        scale={"data_usage_gb": 1.8},
        category_mix={"contract": {"two_year": 0.7}},
    )
    result, _ = _check(reference, generate(3000, seed=3, drift=drift))
    assert result.drift_share >= 0.3
    assert result.dataset_drift
    assert [a.rule for a in result.alerts] == ["drift_share"]


def test_per_feature_override_alerts_on_its_own(reference: pd.DataFrame) -> None:
    policy = Monitoring(per_feature={"age": {"method": "psi", "threshold": 0.05}})
    result, _ = _check(reference, generate(3000, seed=4, drift=Drift(shift={"age": 5.0})), policy)
    age = next(c for c in result.columns if c.column == "age")
    assert (age.method, age.threshold, age.override, age.drifted) == ("psi", 0.05, True, True)
    assert result.drift_share < 0.3
    assert result.dataset_drift
    assert [a.rule for a in result.alerts] == ["per_feature"]


def test_concept_drift_shows_as_quality_below_the_floor(
    reference: pd.DataFrame, model: Pipeline
) -> None:
    same, _ = _check(
        _scored(reference, model),
        _scored(generate(3000, seed=5), model),
        prediction_column="probability",
        target_column=TARGET,
    )
    assert same.quality["roc_auc"] > 0.75
    assert same.alerts == []

    current = _scored(generate(3000, seed=5, drift=Drift(concept=1.0)), model)
    result, report = _check(
        _scored(reference, model), current, prediction_column="probability", target_column=TARGET
    )
    assert result.drifted_columns == []  # the features did not move
    assert result.prediction_drift is not None and not result.prediction_drift.drifted
    assert result.quality["roc_auc"] < 0.7
    assert result.rows.labelled == 3000
    assert [a.rule for a in result.alerts] == ["performance_floor"]
    assert report.quality is not None


def test_prediction_drift_is_found(reference: pd.DataFrame, model: Pipeline) -> None:
    drift = Drift(category_mix={"contract": {"month-to-month": 0.9}}, shift={"support_calls": 2.0})
    result, _ = _check(
        _scored(reference, model),
        _scored(generate(3000, seed=6, drift=drift), model),
        prediction_column="probability",
    )
    assert result.prediction_drift is not None and result.prediction_drift.drifted
    assert "prediction_drift" in [a.rule for a in result.alerts]
    assert result.quality == {} and result.quality_note == "no labels in the window"


def test_partly_labelled_window_uses_the_labelled_rows(
    reference: pd.DataFrame, model: Pipeline
) -> None:
    current = _scored(generate(3000, seed=7), model)
    current[TARGET] = current[TARGET].astype("float").where(current.index % 3 == 0)
    result, _ = _check(
        _scored(reference, model), current, prediction_column="probability", target_column=TARGET
    )
    assert result.rows.labelled == 1000
    assert result.quality["roc_auc"] > 0.75
    current[TARGET] = float("nan")
    unlabelled, _ = _check(
        _scored(reference, model), current, prediction_column="probability", target_column=TARGET
    )
    assert unlabelled.quality == {} and unlabelled.quality_note == "no labels in the window"


def test_sampling_flags_the_same_columns_as_the_full_computation() -> None:
    drift = Drift(shift={"age": 6.0}, category_mix={"contract": {"two_year": 0.6}})
    ref = generate(60_000, seed=8)
    cur = generate(60_000, seed=9, drift=drift)
    full, _ = _check(ref, cur, Monitoring(sample_rows=60_000))
    sampled, _ = _check(ref, cur, Monitoring(sample_rows=10_000), seed=3)
    assert full.rows.current_sampled == 60_000
    assert (sampled.rows.reference, sampled.rows.reference_sampled) == (60_000, 10_000)
    assert (sampled.rows.current, sampled.rows.current_sampled) == (60_000, 10_000)
    assert sampled.drifted_columns == full.drifted_columns == ["age", "contract"]
    for a, b in zip(full.columns, sampled.columns, strict=True):
        assert abs(a.score - b.score) < 0.03, a.column


def test_too_few_rows_gives_no_verdict(reference: pd.DataFrame) -> None:
    result, report = _check(reference, generate(100, seed=10, drift=Drift(shift={"age": 20.0})))
    assert not result.verdict
    assert "current window has 100 rows; monitoring.min_rows is 500" in result.reason
    assert result.alerts == [] and result.columns == []
    assert report.drift is None and report.save_html("unused.html") == []
    empty, _ = _check(reference, pd.DataFrame())
    assert not empty.verdict and empty.rows.current == 0


def test_missing_feature_column_is_named(reference: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"current data lacks feature columns \['age'\]"):
        _check(reference, generate(600, seed=11).drop(columns=["age"]))


def test_report_saves_html_and_json(reference: pd.DataFrame, tmp_path: Path) -> None:
    _, report = _check(reference, generate(1000, seed=12))
    written = report.save_html(tmp_path / "reports" / "drift.html")
    assert written == [tmp_path / "reports" / "drift.html"]
    assert written[0].stat().st_size > 10_000
    assert len(report.json_dict()["drift"]["metrics"]) == len(FEATURES)


def test_policy_validation() -> None:
    with pytest.raises(ValidationError, match="sample_rows must be at least 10000"):
        Monitoring(sample_rows=5000)
    with pytest.raises(ValidationError, match="works on numbers only"):
        Monitoring(cat_method="wasserstein")
    with pytest.raises(ValidationError, match="performance_floor"):
        Monitoring(performance_floor={"auc": 0.7})


def test_run_monitor_says_why_there_is_no_verdict(
    reference: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small dataset's check prints the reason and the key to change, not "drift share 0%"."""
    from conftest import write_project
    from typer.testing import CliRunner

    from driftline.apps.cli import app

    result, _ = _check(reference.head(88), reference.head(442))
    monkeypatch.setattr("driftline.apps.cli.run.run_flow", lambda *a, **k: result)
    path = write_project(tmp_path, n_rows=200)
    shown = CliRunner().invoke(app, ["run", "monitor", "--config", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "no verdict: current window has 442 rows; monitoring.min_rows is 500" in shown.output
    assert "reference has 88 rows" in shown.output and "lower monitoring.min_rows" in shown.output
    assert "drift share" not in shown.output and "report: none" in shown.output
