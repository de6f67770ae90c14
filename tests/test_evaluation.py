"""Holdout evaluation: metrics agree with scikit-learn, report files, slices, importance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import write_project
from sklearn import metrics
from sklearn.model_selection import FixedThresholdClassifier, train_test_split
from sklearn.pipeline import Pipeline

from driftline.core.candidates import build_pipeline, labels
from driftline.core.config import FeatureSelection, ProjectConfig, load_config
from driftline.core.contracts import EvaluationRecord, Schema
from driftline.core.datasets import discover_sources, read_sources
from driftline.core.evaluation import evaluate_model, feature_importance

THRESHOLD = 0.4


def at(model: object, threshold: float) -> FixedThresholdClassifier:
    """The model with its decision threshold inside, as training stores it."""
    return FixedThresholdClassifier(model, threshold=threshold)


@pytest.fixture(scope="module")
def fitted(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[ProjectConfig, Schema, Pipeline, pd.DataFrame]:
    cfg = load_config(write_project(tmp_path_factory.mktemp("evaluation"), n_rows=2000, seed=5))
    df, schema = read_sources(cfg, discover_sources(cfg.resolve(cfg.data.source)))
    y = labels(df, cfg)
    train, holdout = train_test_split(df, test_size=0.3, stratify=y, random_state=0)
    model = build_pipeline("logistic_regression", schema, FeatureSelection(), 0)
    model.fit(train[schema.features], labels(train, cfg))
    return cfg, schema, model, holdout


@pytest.fixture(scope="module")
def report(fitted, tmp_path_factory: pytest.TempPathFactory) -> tuple[EvaluationRecord, Path]:
    cfg, schema, model, holdout = fitted
    out = tmp_path_factory.mktemp("report")
    return evaluate_model(at(model, THRESHOLD), holdout, schema, cfg, out, name="lr"), out


def test_metrics_match_sklearn(fitted, report) -> None:
    cfg, schema, model, holdout = fitted
    record, _ = report
    y = labels(holdout, cfg)
    proba = model.predict_proba(holdout[schema.features])[:, 1]
    pred = (proba >= THRESHOLD).astype(int)
    expected = {
        "roc_auc": metrics.roc_auc_score(y, proba),
        "pr_auc": metrics.average_precision_score(y, proba),
        "f1": metrics.f1_score(y, pred),
        "precision": metrics.precision_score(y, pred),
        "recall": metrics.recall_score(y, pred),
        "accuracy": metrics.accuracy_score(y, pred),
        "log_loss": metrics.log_loss(y, proba),
        "brier": metrics.brier_score_loss(y, proba),
    }
    assert record.metrics == pytest.approx(expected, abs=1e-12)
    assert record.confusion_matrix == metrics.confusion_matrix(y, pred).tolist()
    assert record.rows == len(holdout) and record.positives == int(y.sum())
    assert record.threshold == THRESHOLD and record.name == "lr"


def test_report_files_are_written(report) -> None:
    record, out = report
    for key in ("confusion_matrix", "roc_curve", "pr_curve"):
        path = Path(record.artifacts[key])
        assert path.parent == out
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = EvaluationRecord.model_validate_json((out / "evaluation.json").read_text())
    assert saved == record


def test_slices_and_gaps(report) -> None:
    record, _ = report
    contract = [s for s in record.slices if s.column == "contract"]
    assert {s.group for s in contract} == {"month-to-month", "one_year", "two_year"}
    assert sum(s.rows for s in contract) == record.rows
    for metric in ("roc_auc", "recall", "precision", "positive_rate"):
        values = [v for s in contract if (v := getattr(s, metric)) is not None]
        assert record.slice_gaps["contract"][metric] == pytest.approx(max(values) - min(values))
    # The demo's churn depends strongly on the contract: predicted rates differ by group.
    assert record.slice_gaps["contract"]["positive_rate"] > 0.2
    assert {s.group for s in record.slices if s.column == "region"} == {
        "north",
        "south",
        "east",
        "west",
    }


def test_missing_values_and_numbers_get_their_own_groups(fitted) -> None:
    cfg, schema, model, holdout = fitted
    training = cfg.training.model_copy(
        update={"slice_columns": ["payment_method", "tenure_months"]}
    )
    cfg = cfg.model_copy(update={"training": training})
    record = evaluate_model(at(model, THRESHOLD), holdout, schema, cfg)
    payment = {s.group for s in record.slices if s.column == "payment_method"}
    assert "(missing)" in payment
    tenure = [s for s in record.slices if s.column == "tenure_months"]
    assert len(tenure) == 4 and sum(s.rows for s in tenure) == record.rows


def test_permutation_importance(fitted) -> None:
    cfg, schema, model, holdout = fitted
    importance = feature_importance(at(model, THRESHOLD), holdout, schema, cfg)
    assert sorted(fi.feature for fi in importance) == sorted(schema.features)
    means = [fi.mean for fi in importance]
    assert means == sorted(means, reverse=True)
    assert importance[0].mean > 0.01
    assert importance[0].feature in {"contract", "tenure_months", "support_calls"}


def test_without_out_dir_no_files(fitted) -> None:
    cfg, schema, model, holdout = fitted
    record = evaluate_model(at(model, 0.5), holdout, schema, cfg)
    assert record.artifacts == {} and record.permutation_importance == []
    assert record.slices


def test_one_class_holdout_is_refused(fitted) -> None:
    cfg, schema, model, holdout = fitted
    negatives = holdout[labels(holdout, cfg) == 0]
    with pytest.raises(ValueError, match="one class only"):
        evaluate_model(at(model, 0.5), negatives, schema, cfg)


def test_unknown_slice_column_is_named(fitted) -> None:
    cfg, schema, model, holdout = fitted
    cfg = cfg.model_copy(
        update={"training": cfg.training.model_copy(update={"slice_columns": ["planet"]})}
    )
    with pytest.raises(ValueError, match="slice column 'planet'"):
        evaluate_model(at(model, 0.5), holdout, schema, cfg)


def test_any_model_with_predict_proba_is_scored(fitted) -> None:
    """The champion is scored the same way: anything with predict_proba and a threshold."""
    cfg, schema, _, holdout = fitted

    class Constant:
        def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
            return np.tile([0.7, 0.3], (len(X), 1))

    record = evaluate_model(Constant(), holdout, schema, cfg)
    assert record.metrics["roc_auc"] == 0.5
    assert record.metrics["recall"] == 0.0
