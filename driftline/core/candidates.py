"""Candidate models: one scikit-learn pipeline per candidate, a budgeted seeded search on the
task's primary metric, and for a binary task a decision threshold.

Pure scikit-learn (no Prefect), so tests and benchmarks call it directly. Every random
choice takes the configured seed: the same data and config give the same model and metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.feature_selection import SelectKBest, f_classif, f_regression
from sklearn.impute import SimpleImputer
from sklearn.metrics import precision_recall_curve
from sklearn.model_selection import (
    BaseCrossValidator,
    FixedThresholdClassifier,
    KFold,
    RandomizedSearchCV,
    StratifiedKFold,
    cross_val_predict,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from driftline.core.config import CustomCandidate, FeatureSelection, ProjectConfig, Training
from driftline.core.contracts import Schema, TaskKind
from driftline.core.estimators import estimator, search_space
from driftline.core.targets import target_values
from driftline.core.task_kinds import direction, primary_metric, scorer


def labels(df: pd.DataFrame, cfg: ProjectConfig, task: TaskKind = "binary") -> pd.Series:
    """The target as the estimator learns it for `task` (binary: 0/1, 1 = the positive
    label; see `driftline.core.targets.target_values`)."""
    return target_values(df[cfg.target.column], task, cfg.target.positive_label)


def build_pipeline(
    name: str,
    schema: Schema,
    feature_selection: FeatureSelection,
    seed: int,
    custom: CustomCandidate | None = None,
) -> Pipeline:
    """Preprocessing (impute, scale, one-hot), optional k-best selection, then the estimator:
    the built-in `name` for the schema's task, or the `custom` one."""
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
        score = f_regression if schema.task == "regression" else f_classif
        steps.append(("select", SelectKBest(score, k=feature_selection.k)))
    steps.append(("model", estimator(name, schema.task, seed, custom)))
    return Pipeline(steps)


@dataclass(frozen=True)
class SearchResult:
    """The refitted best pipeline of one candidate's search; for a binary task its decision
    threshold inside (`threshold`; None for the other tasks). `cv_score` is the primary
    metric on the folds, in the metric's own sign."""

    name: str
    model: Any
    params: dict[str, Any]
    cv_score: float
    threshold: float | None


def best_f1_threshold(y: pd.Series | np.ndarray, proba: np.ndarray) -> float:
    """The probability cut-off (predict positive at or above it) with the highest F1."""
    precision, recall, thresholds = precision_recall_curve(y, proba)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = 2 * precision * recall / (precision + recall)
    # The curve's last point (recall 0) has no threshold; argmax keeps the first best.
    return float(thresholds[int(np.nanargmax(f1[:-1]))])


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _folds(task: TaskKind, training: Training) -> BaseCrossValidator:
    kind = KFold if task == "regression" else StratifiedKFold
    return kind(n_splits=training.cv_folds, shuffle=True, random_state=training.seed)


def search(
    name: str,
    X: pd.DataFrame,
    y: pd.Series,
    schema: Schema,
    training: Training,
    n_jobs: int = 1,
) -> SearchResult:
    """Seeded randomized search on the primary metric, refit on all of X; for a binary task
    then a threshold.

    Folds are stratified for classification, shuffled for regression. With
    `training.calibration` a classifier's refitted best is calibrated on the same folds
    (`CalibratedClassifierCV`) before its threshold is chosen. The best-F1 threshold
    comes from out-of-fold predictions on X of the best setting: the holdout is not an
    argument, so it cannot leak into the threshold. It is kept inside the model
    (`FixedThresholdClassifier` around the refitted pipeline), so `predict` applies it.
    `n_jobs` is the core budget: joblib workers for the search, and the OpenMP threads
    (HistGradientBoosting) of this thread, since idle OpenMP threads spinning on busy cores
    slow a fit down many times over.
    """
    task = schema.task
    metric = primary_metric(training.primary_metric, task)
    pipeline = build_pipeline(
        name, schema, training.feature_selection, training.seed, training.custom(name)
    )
    space = {f"model__{key}": dist for key, dist in search_space(name, training).items()}
    folds = _folds(task, training)
    searcher = RandomizedSearchCV(
        pipeline,
        space,
        n_iter=training.search_budget,
        scoring=scorer(metric),
        cv=folds,
        refit=True,
        random_state=training.seed,
        n_jobs=n_jobs,
        error_score="raise",
    )
    X = X[schema.features]
    threshold = None
    with threadpool_limits(limits=n_jobs, user_api="openmp"):
        searcher.fit(X, y)
        best = searcher.best_estimator_
        if task != "regression" and training.calibration != "none":
            best = CalibratedClassifierCV(
                clone(best), method=training.calibration, cv=folds, n_jobs=n_jobs
            ).fit(X, y)
        if task == "binary" and training.threshold.strategy == "fixed":
            threshold = training.threshold.value
        elif task == "binary":
            oof = cross_val_predict(
                clone(best), X, y, cv=folds, method="predict_proba", n_jobs=n_jobs
            )
            threshold = best_f1_threshold(y, oof[:, 1])
    params = {k.removeprefix("model__"): _plain(v) for k, v in searcher.best_params_.items()}
    score = float(searcher.best_score_)
    return SearchResult(
        name=name,
        model=best if threshold is None else FixedThresholdClassifier(best, threshold=threshold),
        params=params,
        cv_score=-score if direction(metric) == "lower" else score,
        threshold=threshold,
    )
