"""Candidate models: one scikit-learn pipeline per candidate, a budgeted seeded search, a threshold.

Pure scikit-learn (no Prefect), so tests and benchmarks call it directly. Every random
choice takes the configured seed: the same data and config give the same model and metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import loguniform, randint
from sklearn.base import BaseEstimator, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve
from sklearn.model_selection import (
    FixedThresholdClassifier,
    RandomizedSearchCV,
    StratifiedKFold,
    cross_val_predict,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from driftline.core.config import FeatureSelection, ProjectConfig, Training
from driftline.core.contracts import Schema
from driftline.core.labels import positive_mask

CANDIDATES: tuple[str, ...] = ("logistic_regression", "random_forest", "hist_gradient_boosting")

# Hyperparameter distributions per candidate, sampled by RandomizedSearchCV (keys are the
# final pipeline step's parameters). Each space has a continuous or wide range, so a budget
# larger than a grid never runs out of distinct settings.
SEARCH_SPACES: dict[str, dict[str, Any]] = {
    "logistic_regression": {"C": loguniform(1e-3, 1e2)},
    "random_forest": {
        "n_estimators": [100, 200],
        "max_depth": [None, 6, 10],
        "min_samples_leaf": randint(5, 30),
        "max_features": ["sqrt", 0.5],
    },
    "hist_gradient_boosting": {
        "learning_rate": loguniform(0.03, 0.2),
        "max_iter": [50, 100, 200],
        "max_leaf_nodes": [7, 15, 31],
        "min_samples_leaf": randint(20, 80),
        "l2_regularization": loguniform(1e-4, 10.0),
    },
}


def labels(df: pd.DataFrame, cfg: ProjectConfig) -> pd.Series:
    """The target as 0/1: 1 where it is the configured positive label."""
    return positive_mask(df[cfg.target.column], cfg.target.positive_label)


def _estimator(name: str, seed: int) -> BaseEstimator:
    if name == "logistic_regression":
        return LogisticRegression(class_weight="balanced", max_iter=2000)
    if name == "random_forest":
        return RandomForestClassifier(class_weight="balanced_subsample", random_state=seed)
    if name == "hist_gradient_boosting":
        return HistGradientBoostingClassifier(class_weight="balanced", random_state=seed)
    raise ValueError(f"unknown candidate '{name}'; choose from {list(CANDIDATES)}")


def build_pipeline(
    name: str, schema: Schema, feature_selection: FeatureSelection, seed: int
) -> Pipeline:
    """Preprocessing (impute, scale, one-hot), optional k-best selection, then the estimator."""
    prepare = ColumnTransformer(
        [
            (
                "numeric",
                Pipeline(
                    [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
                ),
                list(schema.numeric),
            ),
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                        (
                            "onehot",
                            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                        ),
                    ]
                ),
                list(schema.categorical),
            ),
        ],
        sparse_threshold=0.0,
    )
    steps: list[tuple[str, Any]] = [("prepare", prepare)]
    if feature_selection.method == "k_best":
        steps.append(("select", SelectKBest(f_classif, k=feature_selection.k)))
    steps.append(("model", _estimator(name, seed)))
    return Pipeline(steps)


@dataclass(frozen=True)
class SearchResult:
    """The refitted best pipeline of one candidate's search, its decision threshold inside."""

    name: str
    model: FixedThresholdClassifier
    params: dict[str, Any]
    cv_score: float
    threshold: float


def best_f1_threshold(y: pd.Series | np.ndarray, proba: np.ndarray) -> float:
    """The probability cut-off (predict positive at or above it) with the highest F1."""
    precision, recall, thresholds = precision_recall_curve(y, proba)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = 2 * precision * recall / (precision + recall)
    # The curve's last point (recall 0) has no threshold; argmax keeps the first best.
    return float(thresholds[int(np.nanargmax(f1[:-1]))])


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def search(
    name: str,
    X: pd.DataFrame,
    y: pd.Series,
    schema: Schema,
    training: Training,
    n_jobs: int = 1,
) -> SearchResult:
    """Seeded randomized search (ROC AUC, stratified folds), refit on all of X, then a threshold.

    The best-F1 threshold comes from out-of-fold predictions on X of the best setting: the
    holdout is not an argument, so it cannot leak into the threshold. It is kept inside the
    model (`FixedThresholdClassifier` around the refitted pipeline), so `predict` applies it.
    `n_jobs` is the core budget: joblib workers for the search, and the OpenMP threads
    (HistGradientBoosting) of this thread, since idle OpenMP threads spinning on busy cores
    slow a fit down many times over.
    """
    pipeline = build_pipeline(name, schema, training.feature_selection, training.seed)
    space = {f"model__{key}": dist for key, dist in SEARCH_SPACES[name].items()}
    folds = StratifiedKFold(n_splits=training.cv_folds, shuffle=True, random_state=training.seed)
    searcher = RandomizedSearchCV(
        pipeline,
        space,
        n_iter=training.search_budget,
        scoring="roc_auc",
        cv=folds,
        refit=True,
        random_state=training.seed,
        n_jobs=n_jobs,
        error_score="raise",
    )
    X = X[schema.features]
    with threadpool_limits(limits=n_jobs, user_api="openmp"):
        searcher.fit(X, y)
        if training.threshold.strategy == "fixed":
            threshold = training.threshold.value
        else:
            best = clone(searcher.best_estimator_)
            oof = cross_val_predict(best, X, y, cv=folds, method="predict_proba", n_jobs=n_jobs)
            threshold = best_f1_threshold(y, oof[:, 1])
    params = {k.removeprefix("model__"): _plain(v) for k, v in searcher.best_params_.items()}
    return SearchResult(
        name=name,
        model=FixedThresholdClassifier(searcher.best_estimator_, threshold=threshold),
        params=params,
        cv_score=float(searcher.best_score_),
        threshold=threshold,
    )
