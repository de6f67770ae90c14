"""The estimators a candidate can be: built-in ones per task, or any scikit-learn-compatible
class by import path, each with its search space.

`check_candidates` is what the config (when the task is known) and the training flow (once
the task is inferred) call: a wrong import path, a missing package, an unknown parameter, an
estimator that does not fit the task or a built-in name of another task is a `ValueError`
naming the candidate and the key.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import numpy as np
from scipy.stats import loguniform, randint, uniform
from sklearn.base import BaseEstimator, clone, is_classifier, is_regressor
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge

from driftline.core.config.training import CustomCandidate, Training
from driftline.core.contracts import TaskKind
from driftline.core.task_kinds import BUILT_IN, builtin_name_error, is_classification

_FOREST = {
    "n_estimators": [60, 120],
    "max_depth": [None, 6, 10],
    "min_samples_leaf": randint(5, 30),
    "max_features": ["sqrt", 0.3],
}
# HistGradientBoosting stops early on a validation split of its fold: `max_iter` is a ceiling.
_BOOSTING = {
    "learning_rate": loguniform(0.05, 0.3),
    "max_iter": [100, 200],
    "max_leaf_nodes": [7, 15, 31],
    "min_samples_leaf": randint(20, 80),
    "l2_regularization": loguniform(1e-4, 10.0),
}
# Hyperparameter distributions per built-in candidate, sampled by the search. Each
# space has a continuous or wide range, so a budget larger than a grid never runs out of
# distinct settings.
SEARCH_SPACES: dict[str, dict[str, Any]] = {
    "logistic_regression": {"C": loguniform(1e-3, 1e2)},
    "ridge": {"alpha": loguniform(1e-3, 1e3)},
    "random_forest": _FOREST,
    "hist_gradient_boosting": _BOOSTING,
}


def _built_in(name: str, task: TaskKind, seed: int) -> BaseEstimator:
    classify = is_classification(task)
    # No class_weight="balanced": it shifts every probability towards the minority class.
    # Imbalance is the decision threshold's job (best F1 on a validation split of the training
    # rows). HistGradientBoosting is also six times faster without them (even hessians).
    if name == "logistic_regression":
        return LogisticRegression(max_iter=2000)
    if name == "ridge":
        return Ridge()
    if name == "random_forest":
        if classify:
            return RandomForestClassifier(random_state=seed)
        return RandomForestRegressor(random_state=seed)
    if name == "hist_gradient_boosting":
        if classify:
            return HistGradientBoostingClassifier(early_stopping=True, random_state=seed)
        return HistGradientBoostingRegressor(early_stopping=True, random_state=seed)
    raise ValueError(f"unknown candidate '{name}'; one of {list(BUILT_IN[task])}")


def import_class(path: str) -> type:
    """The class at a dotted import path; ValueError saying what is missing."""
    module_name, _, attr = path.rpartition(".")
    if not module_name:
        raise ValueError(f"'{path}' is not an import path like sklearn.svm.SVC")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(
            f"cannot import '{module_name}' ({exc}); install the package that provides it "
            "(for LightGBM or XGBoost: pip install -e '.[boosting]')"
        ) from None
    cls = getattr(module, attr, None)
    if not isinstance(cls, type):
        raise ValueError(f"'{module_name}' has no class '{attr}'")
    return cls


def _custom(spec: CustomCandidate, seed: int) -> BaseEstimator:
    cls = import_class(spec.estimator)
    try:
        estimator = cls()
    except TypeError as exc:
        raise ValueError(f"{spec.estimator}() cannot be made without arguments: {exc}") from None
    if not callable(getattr(estimator, "get_params", None)) or not callable(
        getattr(estimator, "fit", None)
    ):
        raise ValueError(f"{spec.estimator} is not a scikit-learn estimator (no fit/get_params)")
    known = estimator.get_params()
    unknown = [key for key in spec.params if key not in known]
    if unknown:  # some (LightGBM) take extra keyword arguments their get_params lists then
        try:
            estimator = cls(**spec.params)
        except TypeError:
            raise ValueError(
                f"params.{unknown[0]}: {cls.__name__} has no parameter '{unknown[0]}'"
            ) from None
        known = estimator.get_params()
    for key in spec.search:
        if key not in known:
            raise ValueError(f"search.{key}: {cls.__name__} has no parameter '{key}'")
    if "random_state" in known and "random_state" not in spec.params:
        estimator.set_params(random_state=seed)
    return estimator.set_params(**spec.params)


# Targets of a probe fit, as driftline hands them to an estimator: 0/1 for binary, class
# names as text for multiclass, floats for regression.
_PROBE_TARGETS: dict[TaskKind, list[Any]] = {
    "binary": [0, 1] * 15,
    "multiclass": ["a", "b", "c"] * 10,
    "regression": [float(i) for i in range(30)],
}


def _fits_task(estimator: BaseEstimator, task: TaskKind) -> str | None:
    """What stops `estimator` from serving `task`, or None: its kind, predict_proba for
    classification, and a probe fit on 30 rows of the targets driftline passes (XGBoost's
    classifiers, for one, refuse class names as labels)."""
    if is_classification(task):
        if not is_classifier(estimator):
            return f"it is not a classifier, and the task is '{task}'"
        if not hasattr(estimator, "predict_proba"):
            return "it has no predict_proba (for SVC set params: {probability: true})"
    elif not is_regressor(estimator):
        return "it is not a regressor, and the task is 'regression'"
    y = np.asarray(_PROBE_TARGETS[task], dtype=object if task == "multiclass" else None)
    X = np.random.default_rng(0).normal(size=(len(y), 2))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a probe this small makes estimators warn
            clone(estimator).fit(X, y)
    except Exception as exc:  # any failure to fit the task's targets means: not usable
        return f"it cannot fit the targets of a {task} task: {str(exc).splitlines()[0][:300]}"
    return None


def estimator(
    name: str, task: TaskKind, seed: int, custom: CustomCandidate | None = None
) -> BaseEstimator:
    """A fresh, unfitted estimator: the `custom` one, or the built-in `name` for `task`."""
    return _custom(custom, seed) if custom else _built_in(name, task, seed)


def search_space(name: str, training: Training) -> dict[str, Any]:
    """The distributions the search samples for candidate `name` (estimator keys)."""
    spec = training.custom(name)
    if spec is None:
        return SEARCH_SPACES[name]
    return {key: _distribution(value) for key, value in spec.search.items()}


def _distribution(spec: Any) -> Any:
    if isinstance(spec, list):
        return spec
    (kind, (low, high)), *_ = spec.items()
    if kind == "loguniform":
        return loguniform(low, high)
    if kind == "uniform":
        return uniform(low, high - low)
    return randint(low, high)


def candidate_names(training: Training) -> list[str] | None:
    """The configured candidates' names (None: the task's built-in set)."""
    if training.candidates is None:
        return None
    return [c if isinstance(c, str) else c.name for c in training.candidates]


def check_candidates(training: Training, task: TaskKind | None) -> list[str]:
    """The names of the candidates a run of `task` trains; ValueError naming a bad one.

    With the task not known yet (it is inferred from the data), what can be checked is:
    built-in names of some task, and each custom estimator's import and parameter names.
    """
    names = candidate_names(training) or list(BUILT_IN[task or "binary"])
    seen: set[str] = set()
    for i, name in enumerate(names):
        key = f"training.candidates[{i}]"
        if name in seen:
            raise ValueError(f"{key}: candidate '{name}' is listed twice")
        seen.add(name)
        spec = training.custom(name)
        if spec is None:
            problem = builtin_name_error(name, task)
            if problem:
                raise ValueError(f"{key}: {problem}")
            continue
        try:
            built = _custom(spec, training.seed)
        except ValueError as exc:
            field = "." if str(exc).startswith(("params.", "search.")) else ".estimator: "
            raise ValueError(f"{key} ('{name}'){field}{exc}") from None
        problem = _fits_task(built, task) if task else None
        if problem:
            raise ValueError(
                f"{key} ('{name}').estimator: {spec.estimator} does not fit: {problem}"
            )
    return names
