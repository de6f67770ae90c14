"""Candidate pipelines and the seeded search: quality, reproducibility, thresholds, selection."""

from __future__ import annotations

import inspect
import time

import numpy as np
import pandas as pd
import pytest
from conftest import write_project
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import TunedThresholdClassifierCV, train_test_split

from driftline.core.candidates import (
    SearchResult,
    build_pipeline,
    labels,
    search,
)
from driftline.core.config import FeatureSelection, ProjectConfig, Threshold, Training, load_config
from driftline.core.datasets import Schema, discover_sources, read_sources
from driftline.core.task_kinds import BUILT_IN

CANDIDATES = BUILT_IN["binary"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[ProjectConfig, pd.DataFrame, Schema]:
    """2,000 demo rows read the way ingestion reads them (str categoricals with missing values)."""
    cfg = load_config(write_project(tmp_path_factory.mktemp("candidates"), n_rows=2000, seed=3))
    df, schema = read_sources(cfg, discover_sources(cfg.resolve(cfg.data.source)))
    return cfg, df, schema


@pytest.fixture(scope="module")
def parts(data) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    cfg, df, _ = data
    y = labels(df, cfg)
    train, holdout, y_train, y_holdout = train_test_split(
        df, y, test_size=0.25, stratify=y, random_state=0
    )
    return train, holdout, y_train, y_holdout


def small(training: Training, **changes: object) -> Training:
    return training.model_copy(update={"search_budget": 2, "cv_folds": 2, **changes})


@pytest.fixture(scope="module")
def results(data, parts) -> dict[str, SearchResult]:
    """One small search per candidate; the trees use a fixed threshold to skip the OOF refits."""
    cfg, _, schema = data
    train, _, y_train, _ = parts
    fixed = Threshold(strategy="fixed", value=0.5)
    return {
        name: search(
            name,
            train,
            y_train,
            schema,
            small(cfg.training)
            if name == "logistic_regression"
            else small(cfg.training, threshold=fixed),
        )
        for name in CANDIDATES
    }


def test_labels_follow_the_positive_label(data) -> None:
    cfg, df, _ = data
    y = labels(df, cfg)
    assert set(y.unique()) == {0, 1}
    assert y.sum() == (df[cfg.target.column] == 1).sum()
    flipped = cfg.model_copy(update={"target": cfg.target.model_copy(update={"positive_label": 0})})
    assert (labels(df, flipped) == 1 - y).all()


def test_input_types_are_what_ingestion_produces(data) -> None:
    _, df, schema = data
    assert all(df[c].dtype == "float64" for c in schema.numeric)
    assert all(pd.api.types.is_string_dtype(df[c]) for c in schema.categorical)
    assert df[list(schema.categorical)].isna().any().any()


@pytest.mark.parametrize("name", CANDIDATES)
def test_each_candidate_beats_the_bar(name: str, results, parts, data) -> None:
    _, holdout, _, y_holdout = parts
    _, _, schema = data
    result = results[name]
    proba = result.model.predict_proba(holdout[schema.features])[:, 1]
    assert roc_auc_score(y_holdout, proba) > 0.75
    assert 0.5 < result.cv_score <= 1.0
    assert 0.0 < result.threshold < 1.0
    assert result.params and not any(k.startswith("model__") for k in result.params)


@pytest.mark.parametrize("name", ["random_forest", "hist_gradient_boosting"])
def test_same_data_and_config_give_identical_models(name: str, data, parts) -> None:
    cfg, _, schema = data
    train, holdout, y_train, _ = parts
    train, y_train = train.iloc[:600], y_train.iloc[:600]
    first, again = (search(name, train, y_train, schema, small(cfg.training)) for _ in range(2))
    assert again.params == first.params
    assert again.cv_score == first.cv_score
    assert again.threshold == first.threshold
    X = holdout[schema.features]
    np.testing.assert_array_equal(again.model.predict_proba(X), first.model.predict_proba(X))


def test_threshold_fixed_uses_the_value(data, parts) -> None:
    cfg, _, schema = data
    train, _, y_train, _ = parts
    training = small(cfg.training, threshold=Threshold(strategy="fixed", value=0.37))
    assert search("logistic_regression", train, y_train, schema, training).threshold == 0.37


def test_a_spent_time_budget_keeps_the_first_setting_and_records_the_rest(data, parts) -> None:
    cfg, _, schema = data
    train, _, y_train, _ = parts
    seen = []
    training = small(cfg.training, search_budget=4)
    result = search(
        "logistic_regression",
        train,
        y_train,
        schema,
        training,
        deadline=time.time() - 1,
        on_setting=seen.append,
    )
    assert [p.done for p in seen] == [1] and seen[0].seconds_left == 0
    summary = result.summary
    assert (summary.settings_tried, summary.settings_planned, summary.settings_cut_off) == (1, 6, 5)
    assert summary.budget_seconds == training.time_budget_minutes * 60
    assert "5 cut off by the budget" in summary.describe()
    assert 0 < result.threshold < 1 and result.model.predict(train[schema.features]).any()


def test_halving_evaluates_every_planned_setting_within_the_budget(data, parts) -> None:
    cfg, _, schema = data
    train, _, y_train, _ = parts
    seen = []
    training = small(cfg.training, search_budget=4, threshold=Threshold(strategy="fixed"))
    result = search("logistic_regression", train, y_train, schema, training, on_setting=seen.append)
    # Four settings on a third of the rows, then the best two on all of them.
    assert [p.done for p in seen] == [1, 2, 3, 4, 5, 6]
    assert {p.rows for p in seen[4:]} == {len(train)} and max(p.rows for p in seen[:4]) < len(train)
    assert not result.summary.cut_short and result.summary.best_rows == len(train)
    assert result.cv_score == max(p.score for p in seen[4:])


def test_best_f1_threshold_comes_from_a_split_of_the_training_rows(results, data, parts) -> None:
    cfg, _, schema = data
    train, _, y_train, _ = parts
    # By construction: the search sees the training data only, never a holdout.
    assert list(inspect.signature(search).parameters) == [
        "name",
        "X",
        "y",
        "schema",
        "training",
        "n_jobs",
        "deadline",
        "on_setting",
    ]
    result = results["logistic_regression"]
    training = small(cfg.training)
    pipeline = build_pipeline("logistic_regression", schema, training.feature_selection, 42)
    pipeline.set_params(**{f"model__{k}": v for k, v in result.params.items()})
    tuned = TunedThresholdClassifierCV(
        pipeline, scoring="f1", cv=1 / training.cv_folds, random_state=training.seed
    ).fit(train[schema.features], y_train)
    assert result.threshold == tuned.best_threshold_


def test_k_best_reduces_features(data, parts) -> None:
    cfg, _, schema = data
    train, _, y_train, _ = parts
    selection = FeatureSelection(method="k_best", k=5)
    result = search(
        "logistic_regression",
        train,
        y_train,
        schema,
        small(cfg.training, feature_selection=selection),
    )
    assert result.model.estimator.named_steps["select"].get_support().sum() == 5
    assert result.model.estimator.named_steps["model"].n_features_in_ == 5
    full = build_pipeline("logistic_regression", schema, FeatureSelection(), 0)
    assert "select" not in full.named_steps
    assert (
        full.fit(train[schema.features], y_train)[:-1].transform(train[schema.features]).shape[1]
        > 5
    )


def test_unknown_categories_and_missing_values_are_scored(results, data) -> None:
    _, _, schema = data
    row = {c: [np.nan] for c in schema.numeric} | {c: ["never-seen"] for c in schema.categorical}
    frame = pd.DataFrame(row).astype({c: "str" for c in schema.categorical})
    for result in results.values():
        p = result.model.predict_proba(frame[schema.features])[:, 1]
        assert 0.0 <= p[0] <= 1.0


def test_unknown_candidate_is_named(data) -> None:
    _, _, schema = data
    with pytest.raises(ValueError, match="unknown candidate 'svm'"):
        build_pipeline("svm", schema, FeatureSelection(), 0)
