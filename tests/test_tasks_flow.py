"""Each task end to end on scikit-learn's bundled tables written to CSV: regression
(load_diabetes) and multiclass (load_wine, with a custom estimator given by import path)
train, gate, register and promote through the training flow, then serve (`/predict` answers
the task's shape, `/feedback` refuses labels the task cannot take), batch-score (with
`--keep` columns) and monitor a labelled window in the task's metrics. One candidate or two,
a budget of one, two folds: seconds per run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from driftline.apps.serving.app import create_app
from driftline.core.config import ProjectConfig, load_config
from driftline.storage.prediction_log import import_feedback, log_root
from driftline.storage.registry import CHAMPION, ModelRegistry
from driftline.testing.tables import TARGET, write_table_project
from flows.monitoring import monitoring
from flows.retraining import retraining
from flows.scoring import batch_scoring
from flows.training import training

pytestmark = [pytest.mark.server, pytest.mark.slow]

FAST = {"search_budget": 1, "cv_folds": 2}
WATCH = {"min_rows": 30}  # the holdouts (the reference samples) have 36 and 89 rows


def _serve_and_label(cfg: ProjectConfig, data: pd.DataFrame, wrong_label: object) -> list[dict]:
    """Every row through /predict, one refused and one accepted /feedback; then every true
    label imported from a file (as `driftline feedback import` does). The answers."""
    features = [c for c in data.columns if c != TARGET]
    records = data[features].to_dict(orient="records")
    with TestClient(create_app(cfg)) as client:
        answer = client.post("/predict", json={"records": records})
        assert answer.status_code == 200, answer.text
        predictions = answer.json()["predictions"]
        first = predictions[0]["request_id"]
        refused = client.post("/feedback", json={"request_id": first, "label": wrong_label})
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "label"]
        ok = client.post("/feedback", json={"request_id": first, "label": data[TARGET].iloc[0]})
        assert ok.status_code == 202, ok.text
        schema = client.get("/openapi.json").json()["components"]["schemas"]
    labels = cfg.state_path / "labels.csv"
    ids = [p["request_id"] for p in predictions]
    pd.DataFrame({"request_id": ids, "label": data[TARGET]}).to_csv(labels, index=False)
    champion = ModelRegistry.for_config(cfg).alias(CHAMPION)
    assert champion is not None
    schema_model = champion.metadata.table_schema
    assert import_feedback(log_root(cfg), labels, 1, schema=schema_model) == len(data)
    return predictions, schema


def test_regression_trains_serves_scores_and_monitors(prefect_server: None, tmp_path: Path) -> None:
    path = write_table_project(
        tmp_path,
        "diabetes",
        training={**FAST, "candidates": ["ridge"]},
        gates={
            "value": {"r2": {"min": 0.2}},
            "change": {"rmse": {"max_drop_rel": 0.05}},  # rmse: lower is better, unsaid
        },
        monitoring=WATCH,
    )
    cfg = load_config(path)
    first = training(config_path=str(path))
    assert first.outcome == "promoted", first.blessing_reasons
    assert {"mae", "rmse", "r2", "mape"} <= set(first.metrics)
    registry = ModelRegistry.for_config(cfg)
    champion = registry.alias(CHAMPION)
    assert champion is not None and champion.version == first.version
    meta = champion.metadata
    assert meta.task == "regression" and meta.threshold is None and meta.positive_label is None
    assert "rmse" in meta.key_metrics()
    card = registry.card(first.version) or ""
    assert "Predicts the number `target`" in card
    assert "inferred task 'regression'" in card and "## Threshold" not in card

    # Same data and seed (retrained on purpose: unchanged runs register nothing): no rmse drop.
    second = training(config_path=str(path), retrain_unchanged=True)
    assert second.outcome == "promoted", second.blessing_reasons
    [check] = [
        c for c in registry.get(second.version).metadata.blessing.checks if c.kind == "max_drop_rel"
    ]
    assert check.status == "passed" and check.baseline == pytest.approx(check.observed)
    assert "lower is better" in check.message

    data = pd.read_csv(tmp_path / "data.csv")
    predictions, openapi = _serve_and_label(cfg, data, "lots")
    assert set(predictions[0]) == {"request_id", "prediction", "model_version"}
    assert isinstance(predictions[0]["prediction"], float)
    assert "ValuePrediction" in openapi and "ClassPrediction" not in openapi

    out = tmp_path / "scored.parquet"
    scored = batch_scoring(
        input=str(tmp_path / "data.csv"),
        output=str(out),
        config_path=str(path),
        keep=["age", "bmi"],
    )
    table = pd.read_parquet(out)
    assert scored.rows == len(data) and list(table.columns) == [
        "age",
        "bmi",
        "prediction",
        "model_version",
    ]

    result = monitoring(config_path=str(path))
    assert result is not None and result.rows.labelled == len(data)
    assert {"mae", "rmse", "r2", "mape"} <= set(result.quality)
    assert result.quality["r2"] > 0.2 and result.quality["mape"] < 1
    assert result.prediction_drift is not None and result.prediction_drift.kind == "numeric"
    assert result.target_drift is not None and result.target_drift.kind == "numeric"
    assert not result.performance_alert  # the default floor of a regression task: r2 >= 0

    # Retraining on the champion's rows plus the labelled log: numbers, not classes.
    retrained = retraining(config_path=str(path), reason="manual")
    assert retrained.status == "completed" and retrained.training is not None
    assert retrained.training.outcome == "promoted", retrained.training.blessing_reasons
    assert "rmse" in retrained.training.metrics


def test_multiclass_with_a_custom_estimator_trains_serves_scores_and_monitors(
    prefect_server: None, tmp_path: Path
) -> None:
    extra_trees = {
        "name": "extra_trees",
        "estimator": "sklearn.ensemble.ExtraTreesClassifier",
        "params": {"n_estimators": 40},
        "search": {"max_depth": {"randint": [3, 10]}, "max_features": ["sqrt", 0.5]},
    }
    path = write_table_project(
        tmp_path,
        "wine",
        training={**FAST, "candidates": ["logistic_regression", extra_trees]},
        gates={"value": {"f1_macro": {"min": 0.8}, "log_loss": {"max": 1.0}}},
        monitoring={**WATCH, "performance_floor": {"f1_macro": 0.99, "log_loss": 0.01}},
    )
    cfg = load_config(path)
    outcome = training(config_path=str(path))
    assert outcome.outcome == "promoted", outcome.blessing_reasons
    assert {"accuracy", "balanced_accuracy", "f1_macro", "f1_weighted", "log_loss"} <= set(
        outcome.metrics
    )
    registry = ModelRegistry.for_config(cfg)
    meta = registry.get(outcome.version).metadata
    classes = ("class_0", "class_1", "class_2")
    assert meta.task == "multiclass" and meta.table_schema.classes == classes
    report = Path(outcome.report_dir)
    assert (report / "candidates" / "extra_trees" / "confusion_matrix.png").is_file()
    assert (report / "candidates" / "logistic_regression" / "evaluation.json").is_file()
    card = registry.card(outcome.version) or ""
    assert "`class_0`, `class_1`, `class_2`" in card and "- Task: multiclass" in card
    assert "## Per class (holdout)" in card and "| class_2 |" in card

    data = pd.read_csv(tmp_path / "data.csv")
    predictions, openapi = _serve_and_label(cfg, data, "class_9")
    answer = predictions[0]
    assert set(answer) == {"request_id", "label", "probabilities", "model_version"}
    assert answer["label"] in classes and set(answer["probabilities"]) == set(classes)
    assert sum(answer["probabilities"].values()) == pytest.approx(1.0)
    assert "ClassPrediction" in openapi

    out = tmp_path / "scored.parquet"
    batch_scoring(
        input=str(tmp_path / "data.csv"), output=str(out), config_path=str(path), keep=["alcohol"]
    )
    table = pd.read_parquet(out)
    probas = [f"proba_{c}" for c in classes]
    assert list(table.columns) == ["alcohol", "label", "probability", *probas, "model_version"]
    assert (table[probas].sum(axis=1) - 1).abs().max() < 1e-9

    result = monitoring(config_path=str(path))
    assert result is not None and result.rows.labelled == len(data)
    assert {"accuracy", "f1_macro", "log_loss"} <= set(result.quality)
    assert result.quality["accuracy"] > 0.8
    assert result.prediction_drift is not None and result.prediction_drift.kind == "categorical"
    assert result.target_drift is not None and result.target_drift.kind == "categorical"
    floor = next(a for a in result.alerts if a.rule == "performance_floor")
    assert "log_loss" in floor.message and ">" in floor.message  # an error metric: a ceiling
