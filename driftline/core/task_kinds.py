"""The kind of learning task a project is: binary, multiclass or regression.

What each kind means everywhere else lives here: how it is inferred from the target column
when the config does not say, the metrics it records and which way each is better, its
primary metric, and the scikit-learn scorer a search optimises for a metric. No pandas
or scikit-learn import: the config validates metric names without loading them.
"""

from __future__ import annotations

from driftline.core.contracts import TaskKind

# The built-in candidates per task, in the order a default run trains them.
BUILT_IN: dict[TaskKind, tuple[str, ...]] = {
    "binary": ("logistic_regression", "random_forest", "hist_gradient_boosting"),
    "multiclass": ("logistic_regression", "random_forest", "hist_gradient_boosting"),
    "regression": ("ridge", "random_forest", "hist_gradient_boosting"),
}

# Every metric evaluation records, per task (the names gates, search and monitoring use).
TASK_METRICS: dict[TaskKind, tuple[str, ...]] = {
    "binary": ("roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "log_loss", "brier"),
    "multiclass": ("accuracy", "balanced_accuracy", "f1_macro", "f1_weighted", "log_loss"),
    "regression": ("mae", "rmse", "r2", "mape"),
}
PRIMARY_METRIC: dict[TaskKind, str] = {
    "binary": "roc_auc",
    "multiclass": "f1_macro",
    "regression": "rmse",
}
# Metrics where a smaller value is better; every other metric is "higher is better".
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "mae", "rmse", "mape"})

# The scikit-learn scorer that optimises each metric (scorers are "greater is better": a
# lower-is-better metric is searched by its negation).
_SCORERS = {
    "roc_auc": "roc_auc",
    "pr_auc": "average_precision",
    "f1": "f1",
    "precision": "precision",
    "recall": "recall",
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced_accuracy",
    "f1_macro": "f1_macro",
    "f1_weighted": "f1_weighted",
    "log_loss": "neg_log_loss",
    "brier": "neg_brier_score",
    "mae": "neg_mean_absolute_error",
    "rmse": "neg_root_mean_squared_error",
    "r2": "r2",
    "mape": "neg_mean_absolute_percentage_error",
}


def direction(metric: str) -> str:
    """'lower' when a smaller value of `metric` is better, else 'higher'."""
    return "lower" if metric in LOWER_IS_BETTER else "higher"


def scorer(metric: str) -> str:
    """The scikit-learn scoring name a search uses to optimise `metric`."""
    return _SCORERS[metric]


def is_classification(task: TaskKind) -> bool:
    return task != "regression"


def primary_metric(configured: str | None, task: TaskKind) -> str:
    """`training.primary_metric` when set, else the task's default."""
    return configured or PRIMARY_METRIC[task]


def builtin_name_error(name: str, task: TaskKind | None) -> str | None:
    """What is wrong with built-in candidate `name` for `task` (any task when None), or None."""
    known = (
        BUILT_IN[task] if task else tuple(dict.fromkeys(n for t in BUILT_IN.values() for n in t))
    )
    if name in known:
        return None
    return (
        f"'{name}' is not a built-in candidate"
        + (f" for a {task} task" if task else "")
        + f"; one of {list(known)}, or a custom estimator (name, estimator, params, search)"
    )
