"""Each task end to end through the training flow on scikit-learn's bundled tables written to
CSV: regression (load_diabetes) and multiclass (load_wine, with a custom estimator given by
import path) train, gate, register and promote; a second run is gated by the task's metric in
its own direction. One candidate or two, a budget of one, two folds: seconds per run."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftline.core.config import load_config
from driftline.storage.registry import CHAMPION, ModelRegistry
from driftline.testing.tables import write_table_project
from flows.training import training

pytestmark = pytest.mark.server

FAST = {"search_budget": 1, "cv_folds": 2}


def test_regression_trains_gates_registers_and_promotes(
    prefect_server: None, tmp_path: Path
) -> None:
    path = write_table_project(
        tmp_path,
        "diabetes",
        training={**FAST, "candidates": ["ridge"]},
        gates={
            "value": {"r2": {"min": 0.2}},
            "change": {"rmse": {"max_drop_rel": 0.05}},  # rmse: lower is better, unsaid
        },
    )
    first = training(config_path=str(path))
    assert first.outcome == "promoted", first.blessing_reasons
    assert {"mae", "rmse", "r2", "mape"} <= set(first.metrics)
    registry = ModelRegistry.for_config(load_config(path))
    champion = registry.alias(CHAMPION)
    assert champion is not None and champion.version == first.version
    meta = champion.metadata
    assert meta.task == "regression" and meta.threshold is None and meta.positive_label is None
    assert "rmse" in meta.key_metrics()
    card = registry.card(first.version) or ""
    assert "Predicts the number `target`" in card
    assert "inferred task 'regression'" in card and "## Threshold" not in card

    second = training(config_path=str(path))  # same data, same seed: no drop in rmse
    assert second.outcome == "promoted", second.blessing_reasons
    version = registry.get(second.version)
    [check] = [c for c in version.metadata.blessing.checks if c.kind == "max_drop_rel"]
    assert check.status == "passed" and check.baseline == pytest.approx(check.observed)
    assert "lower is better" in check.message


def test_multiclass_with_a_custom_estimator_trains_and_promotes(
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
    )
    outcome = training(config_path=str(path))
    assert outcome.outcome == "promoted", outcome.blessing_reasons
    assert {"accuracy", "balanced_accuracy", "f1_macro", "f1_weighted", "log_loss"} <= set(
        outcome.metrics
    )
    registry = ModelRegistry.for_config(load_config(path))
    meta = registry.get(outcome.version).metadata
    assert meta.task == "multiclass"
    assert meta.table_schema.classes == ("class_0", "class_1", "class_2")
    report = Path(outcome.report_dir)
    assert (report / "candidates" / "extra_trees" / "confusion_matrix.png").is_file()
    assert (report / "candidates" / "logistic_regression" / "evaluation.json").is_file()
    card = registry.card(outcome.version) or ""
    assert "`class_0`, `class_1`, `class_2`" in card and "- Task: multiclass" in card
