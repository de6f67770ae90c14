"""Candidate models: one scikit-learn pipeline per candidate, a seeded search on the task's
primary metric within a time budget, and for a binary task a decision threshold.

Pure scikit-learn (no Prefect), so tests and benchmarks call it directly. Every random
choice takes the configured seed: the same data and config give the same model and metrics
(a search cut short by its time budget excepted: how far it gets depends on the machine).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from math import ceil, floor, log
from numbers import Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.feature_selection import SelectKBest, f_classif, f_regression
from sklearn.model_selection import (
    BaseCrossValidator,
    FixedThresholdClassifier,
    HalvingRandomSearchCV,
    KFold,
    StratifiedKFold,
    TunedThresholdClassifierCV,
)
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from driftline.core.config import CustomCandidate, FeatureSelection, ProjectConfig, Training
from driftline.core.config.encoding import Encoding
from driftline.core.contracts import Schema, SearchSummary, TaskKind
from driftline.core.encoding import (
    ColumnKinds,
    Family,
    TargetType,
    column_kinds,
    native_categories,
    preprocessor,
)
from driftline.core.estimators import estimator, search_space
from driftline.core.targets import target_values
from driftline.core.task_kinds import direction, primary_metric, scorer

# The encoding each built-in candidate is given (see driftline.core.encoding); a custom
# estimator gets "dense", which any scikit-learn estimator takes.
FAMILIES: dict[str, Family] = {
    "logistic_regression": "sparse",
    "ridge": "sparse",
    "random_forest": "ordinal",
    "hist_gradient_boosting": "ordinal",
}
TARGET_TYPES: dict[TaskKind, TargetType] = {
    "binary": "binary",
    "multiclass": "multiclass",
    "regression": "continuous",
}
# Rows each tree of the final random forest draws at most: past that, more rows per tree
# cost time in proportion and add little (a 120-tree forest on 20,000 rows a tree took minutes
# on two busy cores).
FOREST_MAX_SAMPLES = 5_000
# Successive halving keeps the best third of the settings of a round, on three times the rows,
# up to this many rows: settings rank the same on a sample that size, at a fraction of the
# cost on a large table. The chosen setting is then fitted on all rows.
HALVING_FACTOR = 3
SEARCH_MAX_ROWS = 30_000


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
    kinds: ColumnKinds | None = None,
    encoding: Encoding | None = None,
) -> Pipeline:
    """The encoding that fits the estimator (`driftline.core.encoding`), optional k-best
    selection, then the estimator: the built-in `name` for the schema's task, or the `custom`
    one.

    `kinds` says which categoricals are high-cardinality or text (`column_kinds` of the
    training data); without it every categorical is taken as low-cardinality. After a k-best
    selection the ordinal codes are no longer where HistGradientBoosting expects them, so it
    then splits on them as numbers.
    """
    model = estimator(name, schema.task, seed, custom)
    kinds = kinds or ColumnKinds(schema.numeric, schema.categorical)
    family: Family = "dense" if custom else FAMILIES[name]
    prepare = preprocessor(family, kinds, encoding or Encoding(), seed, TARGET_TYPES[schema.task])
    steps: list[tuple[str, Any]] = [("prepare", prepare)]
    if feature_selection.method == "k_best":
        score = f_regression if schema.task == "regression" else f_classif
        steps.append(("select", SelectKBest(score, k=feature_selection.k)))
    elif name == "hist_gradient_boosting" and not custom:
        model.set_params(categorical_features=native_categories(kinds))
    steps.append(("model", model))
    return Pipeline(steps)


@dataclass(frozen=True)
class SearchProgress:
    """Where one candidate's search is, after each evaluated setting."""

    candidate: str
    done: int
    planned: int
    rows: int
    score: float
    best_score: float
    seconds_left: float


class BudgetedHalvingSearch(HalvingRandomSearchCV):
    """Successive halving over random settings that stops launching settings at a deadline.

    Halving drops the weaker two thirds of the settings after each round, and gives the rest
    three times the rows (up to `max_resources`). Each setting is evaluated on its own (its
    folds in parallel), so the clock is read between settings: once the next setting and the
    final fits would not finish before `deadline` (epoch seconds), no more are launched and
    the best so far (of the last round reached) is kept; at least one setting always runs.
    `on_setting(SearchProgress)` is called after each. Hand-written part: only this loop,
    around scikit-learn's own search.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **HalvingRandomSearchCV._parameter_constraints,
        "deadline": [Real, None],
        "on_setting": [callable, None],
        "name": [str],
    }

    def __init__(
        self,
        estimator: BaseEstimator,
        param_distributions: dict[str, Any],
        *,
        n_candidates: int = 6,
        cv: Any = 3,
        scoring: str = "roc_auc",
        random_state: int | None = None,
        n_jobs: int | None = None,
        max_resources: int | str = "auto",
        deadline: float | None = None,
        on_setting: Callable[[SearchProgress], None] | None = None,
        name: str = "model",
    ) -> None:
        super().__init__(
            estimator,
            param_distributions,
            n_candidates=n_candidates,
            factor=HALVING_FACTOR,
            max_resources=max_resources,
            min_resources="exhaust",
            cv=cv,
            scoring=scoring,
            refit=False,
            error_score="raise",
            return_train_score=False,
            random_state=random_state,
            n_jobs=n_jobs,
        )
        self.deadline = deadline
        self.on_setting = on_setting
        self.name = name

    def fit(self, X: Any, y: Any = None, **params: Any) -> BudgetedHalvingSearch:
        self.n_rows_ = len(X)  # what the final fits after the search are on
        return super().fit(X, y, **params)

    def _run_search(self, evaluate_candidates: Any, *, callback_ctx: Any = None) -> None:
        rounds = 1 + floor(log(self.n_candidates, self.factor))
        self.settings_planned_ = sum(
            ceil(self.n_candidates / self.factor**i) for i in range(rounds)
        )
        self.settings_tried_ = 0
        seen: dict[str, Any] = {}

        def one_at_a_time(
            candidate_params: Any,
            cv: Any = None,
            more_results: Any = None,
            callback_ctx: Any = None,
        ) -> dict[str, Any]:
            extra = more_results or {}
            for i, params in enumerate(candidate_params):
                rows = (
                    int(extra["n_resources"][i]) if "n_resources" in extra else self.max_resources_
                )
                if self.settings_tried_ and self._out_of_time(seen, rows):
                    break
                seen.update(
                    evaluate_candidates(
                        [params],
                        cv,
                        more_results={k: [v[i]] for k, v in extra.items()},
                        callback_ctx=None,  # scikit-learn's callbacks take one call per round
                    )
                )
                self.settings_tried_ += 1
                self._report(seen, rows)
            return seen

        super()._run_search(one_at_a_time, callback_ctx=callback_ctx)

    def _out_of_time(self, results: dict[str, Any], rows: int) -> bool:
        """Whether a setting on `rows` rows, then the two final fits on all rows, would end
        after the deadline (estimated from the last setting's seconds per row)."""
        if self.deadline is None:
            return False
        last_rows = results["n_resources"][-1]
        per_row = results["mean_fit_time"][-1] / max(1, last_rows)
        folds_at_once = max(1, min(self.n_jobs or 1, self.n_splits_))
        setting = per_row * rows * self.n_splits_ / folds_at_once
        final = per_row * self.n_rows_ * 2
        return time.time() + setting + final > self.deadline

    def _report(self, results: dict[str, Any], rows: int) -> None:
        if self.on_setting is None:
            return
        scores = np.asarray(results["mean_test_score"], dtype=float)
        top = np.asarray(results["iter"]) == max(results["iter"])
        self.on_setting(
            SearchProgress(
                candidate=self.name,
                done=self.settings_tried_,
                planned=self.settings_planned_,
                rows=rows,
                score=float(scores[-1]),
                best_score=float(np.nanmax(scores[top])),
                seconds_left=max(0.0, self.deadline - time.time()) if self.deadline else math.inf,
            )
        )


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
    summary: SearchSummary


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _folds(task: TaskKind, training: Training) -> BaseCrossValidator:
    kind = KFold if task == "regression" else StratifiedKFold
    return kind(n_splits=training.cv_folds, shuffle=True, random_state=training.seed)


def deadline_for(training: Training, start: float | None = None) -> float:
    """The epoch second by which a search that starts at `start` (now) stops launching settings."""
    return (time.time() if start is None else start) + training.time_budget_minutes * 60


def share_of(deadline: float, candidates_left: int) -> float:
    """The deadline of the next of `candidates_left` candidates searched one after another:
    an equal share of the time left before `deadline` (what one leaves, the next ones get)."""
    now = time.time()
    return now + max(0.0, deadline - now) / max(1, candidates_left)


def search(
    name: str,
    X: pd.DataFrame,
    y: pd.Series,
    schema: Schema,
    training: Training,
    n_jobs: int = 1,
    deadline: float | None = None,
    on_setting: Callable[[SearchProgress], None] | None = None,
) -> SearchResult:
    """Seeded successive-halving search on the primary metric within the time budget, then the
    best setting fitted on all of X; for a binary task with its threshold.

    Folds are stratified for classification, shuffled for regression. `deadline` (epoch
    seconds; default: `training.time_budget_minutes` from now) is what the candidates of one
    run share. With `training.calibration` a classifier's best setting is calibrated on the
    same folds (`CalibratedClassifierCV`) before its threshold is chosen. The best-F1
    threshold is tuned by `TunedThresholdClassifierCV` on a stratified validation split of X,
    which then refits on all of X: the holdout is not an argument, so it cannot leak into the
    threshold. It is kept inside the model (`FixedThresholdClassifier`), so `predict` applies
    it. `n_jobs` is the core budget: joblib workers for the search, and
    the OpenMP threads (HistGradientBoosting) of this thread, since idle OpenMP threads
    spinning on busy cores slow a fit down many times over. Scores given to `on_setting` are
    in the metric's own sign.
    """
    started = time.time()
    deadline = deadline_for(training, started) if deadline is None else deadline
    task = schema.task
    metric = primary_metric(training.primary_metric, task)
    sign = -1.0 if direction(metric) == "lower" else 1.0
    X = X[schema.features]
    kinds = column_kinds(X, schema.numeric, schema.categorical, training.encoding)
    pipeline = build_pipeline(
        name,
        schema,
        training.feature_selection,
        training.seed,
        training.custom(name),
        kinds,
        training.encoding,
    )
    space = {f"model__{key}": dist for key, dist in search_space(name, training).items()}

    def report(p: SearchProgress) -> None:
        if on_setting is not None:
            on_setting(dataclasses.replace(p, score=sign * p.score, best_score=sign * p.best_score))

    searcher = BudgetedHalvingSearch(
        pipeline,
        space,
        n_candidates=training.search_budget,
        cv=_folds(task, training),
        scoring=scorer(metric),
        random_state=training.seed,
        n_jobs=n_jobs,
        max_resources=min(len(X), SEARCH_MAX_ROWS),
        deadline=deadline,
        on_setting=report,
        name=name,
    )
    threshold = None
    with threadpool_limits(limits=n_jobs, user_api="openmp"):
        searcher.fit(X, y)
        best = clone(pipeline).set_params(**searcher.best_params_)
        if name == "random_forest" and not training.custom(name):
            best.set_params(model__n_jobs=n_jobs)  # its trees on this search's cores
            if len(X) > FOREST_MAX_SAMPLES:
                best.set_params(model__max_samples=FOREST_MAX_SAMPLES / len(X))
        if task != "regression" and training.calibration != "none":
            best = CalibratedClassifierCV(
                best, method=training.calibration, cv=_folds(task, training), n_jobs=n_jobs
            )
        if task == "binary" and training.threshold.strategy == "best_f1":
            tuned = TunedThresholdClassifierCV(
                best,
                scoring="f1",
                cv=1 / training.cv_folds,
                refit=True,
                random_state=training.seed,
            ).fit(X, y)
            fitted, threshold = tuned.estimator_, float(tuned.best_threshold_)
        else:
            fitted = best.fit(X, y)
            threshold = training.threshold.value if task == "binary" else None
    params = {k.removeprefix("model__"): _plain(v) for k, v in searcher.best_params_.items()}
    tried = searcher.settings_tried_
    return SearchResult(
        name=name,
        model=fitted
        if threshold is None
        else FixedThresholdClassifier(fitted, threshold=threshold),
        params=params,
        cv_score=sign * float(searcher.best_score_),
        threshold=threshold,
        summary=SearchSummary(
            budget_seconds=training.time_budget_minutes * 60,
            settings_planned=searcher.settings_planned_,
            settings_tried=tried,
            settings_cut_off=max(0, searcher.settings_planned_ - tried),
            best_rows=int(searcher.cv_results_["n_resources"][searcher.best_index_]),
            seconds=time.time() - started,
            encoding=kinds.describe(),
        ),
    )
