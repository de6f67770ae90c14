"""Scoring a fitted model on the holdout: metrics, slices, plots and permutation importance,
per task (binary, multiclass, regression).

Pure scikit-learn and matplotlib (no Prefect). Every model of a task is scored the same way
(through `driftline.core.scoring.predict`), so a candidate and the champion compare on equal
terms.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.calibration import CalibrationDisplay, calibration_curve
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    PrecisionRecallDisplay,
    PredictionErrorDisplay,
    RocCurveDisplay,
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_absolute_percentage_error,
    precision_recall_fscore_support,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.model_selection import train_test_split

from driftline.core.candidates import labels
from driftline.core.config import ProjectConfig
from driftline.core.contracts import (
    Calibration,
    EvaluationRecord,
    FeatureImportance,
    Schema,
    SliceGroup,
)
from driftline.core.scoring import Predictions, decision_threshold, predict
from driftline.core.task_kinds import LOWER_IS_BETTER, primary_metric, scorer

IMPORTANCE_MAX_ROWS = 2000
IMPORTANCE_REPEATS = 3
SLICE_METRICS = ("roc_auc", "recall", "precision", "positive_rate")
# The per-group metrics of the other tasks (their gaps are reported like the binary ones).
TASK_SLICE_METRICS = {"multiclass": ("accuracy", "f1_macro"), "regression": ("mae", "rmse")}
MISSING_GROUP = "(missing)"
CALIBRATION_BINS = 10


def classification_metrics(y: np.ndarray, proba: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Ranking and probability metrics of the probabilities, label metrics of the labels."""
    return {
        "roc_auc": float(roc_auc_score(y, proba)),
        "pr_auc": float(average_precision_score(y, proba)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "accuracy": float(accuracy_score(y, pred)),
        "log_loss": float(log_loss(y, proba, labels=[0, 1])),
        "brier": float(brier_score_loss(y, proba)),
    }


def multiclass_metrics(
    y: np.ndarray, p: Predictions
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Label metrics of the predicted classes, log loss of the probabilities, and precision
    and recall per class."""
    classes = list(p.classes)
    metrics = {
        "accuracy": float(accuracy_score(y, p.values)),
        "balanced_accuracy": float(balanced_accuracy_score(y, p.values)),
        "f1_macro": float(f1_score(y, p.values, average="macro", zero_division=0)),
        "f1_weighted": float(f1_score(y, p.values, average="weighted", zero_division=0)),
        "log_loss": float(log_loss(y, p.proba, labels=classes)),
    }
    precision, recall, _, support = precision_recall_fscore_support(
        y, p.values, labels=classes, zero_division=0
    )
    per_class = {
        c: {"precision": float(pr), "recall": float(rc), "support": float(n)}
        for c, pr, rc, n in zip(classes, precision, recall, support, strict=True)
    }
    return metrics, per_class


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, R² and MAPE; MAPE over the rows whose actual value is not zero (a zero
    makes a percentage error infinite), and left out when every actual value is zero."""
    metrics = {
        "mae": float(mean_absolute_error(y, pred)),
        "rmse": float(root_mean_squared_error(y, pred)),
        "r2": float(r2_score(y, pred)),
    }
    nonzero = y != 0
    if nonzero.any():
        metrics["mape"] = float(mean_absolute_percentage_error(y[nonzero], pred[nonzero]))
    return metrics


def _slice_groups(values: pd.Series) -> pd.Series:
    """Group labels of a slice column: categories as text, numbers in quartile bins."""
    if pd.api.types.is_numeric_dtype(values):
        values = pd.qcut(values, 4, duplicates="drop")
    return values.astype(str).where(values.notna(), MISSING_GROUP)


def _slices(
    holdout_df: pd.DataFrame,
    columns: list[str],
    names: tuple[str, ...],
    group_fields: Callable[[np.ndarray], dict[str, float | None]],
) -> tuple[list[SliceGroup], dict[str, dict[str, float]]]:
    """Per-group metrics (`group_fields` of a row mask) for each slice column, and the
    largest gap between groups for each metric of `names`."""
    groups_out: list[SliceGroup] = []
    gaps: dict[str, dict[str, float]] = {}
    for column in columns:
        if column not in holdout_df.columns:
            raise ValueError(f"slice column '{column}' is not in the holdout data")
        keys = _slice_groups(holdout_df[column]).to_numpy()
        rows = []
        for group in sorted(set(keys)):
            mask = keys == group
            rows.append(
                SliceGroup(column=column, group=group, rows=int(mask.sum()), **group_fields(mask))
            )
        groups_out.extend(rows)
        gaps[column] = {
            m: max(vals) - min(vals)
            for m in names
            if len(vals := [v for r in rows if (v := getattr(r, m)) is not None]) >= 2
        }
    return groups_out, gaps


def slice_metrics(
    holdout_df: pd.DataFrame,
    y: np.ndarray,
    proba: np.ndarray,
    pred: np.ndarray,
    columns: list[str],
) -> tuple[list[SliceGroup], dict[str, dict[str, float]]]:
    """Per-group metrics of a binary model for each slice column, and the largest gaps."""

    def fields(mask: np.ndarray) -> dict[str, float | None]:
        yg, pg, predg = y[mask], proba[mask], pred[mask]
        return {
            "base_rate": float(yg.mean()),
            "positive_rate": float(predg.mean()),
            "roc_auc": float(roc_auc_score(yg, pg)) if len(set(yg)) == 2 else None,
            "recall": float(recall_score(yg, predg)) if yg.any() else None,
            "precision": float(precision_score(yg, predg)) if predg.any() else None,
        }

    return _slices(holdout_df, columns, SLICE_METRICS, fields)


def task_slice_metrics(
    holdout_df: pd.DataFrame, y: np.ndarray, p: Predictions, task: str, columns: list[str]
) -> tuple[list[SliceGroup], dict[str, dict[str, float]]]:
    """Per-group metrics of a multiclass (accuracy, macro F1) or regression (MAE, RMSE) model
    for each slice column, and the largest gap between groups per metric."""

    def fields(mask: np.ndarray) -> dict[str, float | None]:
        yg, vg = y[mask], p.values[mask]
        if task == "regression":
            return {
                "mae": float(mean_absolute_error(yg, vg)),
                "rmse": float(root_mean_squared_error(yg, vg)),
            }
        return {
            "accuracy": float(accuracy_score(yg, vg)),
            "f1_macro": float(f1_score(yg, vg, average="macro", zero_division=0)),
        }

    return _slices(holdout_df, columns, TASK_SLICE_METRICS[task], fields)


def _importance(
    model: Any, X: pd.DataFrame, y: np.ndarray, metric: str, stratify: bool, seed: int
) -> list[FeatureImportance]:
    """Permutation importance on the primary metric (a sample of the holdout when large)."""
    if len(X) > IMPORTANCE_MAX_ROWS:
        X, _, y, _ = train_test_split(
            X,
            y,
            train_size=IMPORTANCE_MAX_ROWS,
            stratify=y if stratify else None,
            random_state=seed,
        )
    result = permutation_importance(
        model, X, y, scoring=scorer(metric), n_repeats=IMPORTANCE_REPEATS, random_state=seed
    )
    out = [
        FeatureImportance(feature=f, mean=float(m), std=float(s))
        for f, m, s in zip(X.columns, result.importances_mean, result.importances_std, strict=True)
    ]
    return sorted(out, key=lambda fi: fi.mean, reverse=True)


def _drawers(y: np.ndarray, p: Predictions, task: str, name: str) -> dict[str, Any]:
    """The plots of a task, each a function drawing on an Axes."""
    if task == "regression":
        kinds = {"predicted_vs_actual": "actual_vs_predicted", "residuals": "residual_vs_predicted"}
        return {
            key: lambda ax, kind=kind: PredictionErrorDisplay.from_predictions(
                y, p.values, kind=kind, ax=ax
            )
            for key, kind in kinds.items()
        }
    matrix = {
        "confusion_matrix": lambda ax: ConfusionMatrixDisplay.from_predictions(
            y, p.values, labels=list(p.classes) or None, ax=ax
        )
    }
    if task == "multiclass":
        return matrix
    return matrix | {
        "roc_curve": lambda ax: RocCurveDisplay.from_predictions(y, p.proba, name=name, ax=ax),
        "pr_curve": lambda ax: PrecisionRecallDisplay.from_predictions(
            y, p.proba, name=name, ax=ax
        ),
        "reliability_curve": lambda ax: CalibrationDisplay.from_predictions(
            y, p.proba, n_bins=CALIBRATION_BINS, name=name, ax=ax
        ),
    }


def calibration(y: np.ndarray, proba: np.ndarray) -> Calibration:
    """Brier score, mean probability against the positive rate, and the reliability curve."""
    observed, predicted = calibration_curve(y, proba, n_bins=CALIBRATION_BINS)
    return Calibration(
        brier=float(brier_score_loss(y, proba)),
        mean_probability=float(proba.mean()),
        positive_rate=float(y.mean()),
        curve=[(float(p), float(o)) for p, o in zip(predicted, observed, strict=True)],
    )


def _plots(y: np.ndarray, p: Predictions, task: str, name: str, out_dir: Path) -> dict[str, str]:
    """The task's plots as PNG (Figure objects: no pyplot state, thread-safe)."""
    paths = {}
    for key, draw in _drawers(y, p, task, name).items():
        fig = Figure(figsize=(5, 4), layout="constrained")
        ax = fig.add_subplot()
        draw(ax)
        ax.set_title(f"{name}: {key.replace('_', ' ')}")
        path = out_dir / f"{key}.png"
        fig.savefig(path, dpi=100)
        paths[key] = str(path)
    return paths


def _record(
    model: Any,
    holdout_df: pd.DataFrame,
    schema: Schema,
    cfg: ProjectConfig,
    y: np.ndarray,
    p: Predictions,
) -> dict[str, Any]:
    """The task's fields of an EvaluationRecord."""
    if schema.task != "binary":
        slices, gaps = task_slice_metrics(holdout_df, y, p, schema.task, cfg.training.slice_columns)
        sliced = {"slices": slices, "slice_gaps": gaps}
    if schema.task == "regression":
        return {"metrics": regression_metrics(y, p.values), **sliced}
    if schema.task == "multiclass":
        metrics, per_class = multiclass_metrics(y, p)
        classes = list(p.classes)
        return {
            "metrics": metrics,
            "per_class": per_class,
            "classes": classes,
            "confusion_matrix": confusion_matrix(y, p.values, labels=classes).tolist(),
            **sliced,
        }
    assert p.proba is not None
    slices, gaps = slice_metrics(holdout_df, y, p.proba, p.values, cfg.training.slice_columns)
    return {
        "positives": int(y.sum()),
        "threshold": decision_threshold(model),
        "metrics": classification_metrics(y, p.proba, p.values),
        "classes": ["0", "1"],
        "confusion_matrix": confusion_matrix(y, p.values, labels=[0, 1]).tolist(),
        "slices": slices,
        "slice_gaps": gaps,
        "calibration": calibration(y, p.proba),
    }


def evaluate_model(
    model: Any,
    holdout_df: pd.DataFrame,
    schema: Schema,
    cfg: ProjectConfig,
    out_dir: Path | None = None,
    name: str = "model",
    model_path: str | None = None,
) -> EvaluationRecord:
    """Score a fitted model on the holdout with its task's metrics (binary: at the decision
    threshold inside it).

    Metrics, slices (and for classification a confusion matrix) always; with
    `out_dir` also the task's plots and `evaluation.json` there (permutation importance is
    `feature_importance`'s, paid only for the chosen model). `name` and `model_path` label
    the record.
    """
    task = schema.task
    y = labels(holdout_df, cfg, task).to_numpy()
    if task != "regression" and len(set(y)) < 2:
        raise ValueError(f"holdout of {len(y)} rows holds one class only; cannot evaluate")
    X = holdout_df[schema.features]
    p = predict(model, X, task)
    record = EvaluationRecord(
        name=name,
        task=task,
        rows=len(y),
        model_path=model_path,
        **_record(model, holdout_df, schema, cfg, y, p),
    )
    if out_dir is None:
        return record
    out_dir.mkdir(parents=True, exist_ok=True)
    record.artifacts = _plots(y, p, task, name, out_dir)
    return write_record(record, out_dir)


def write_record(record: EvaluationRecord, out_dir: Path) -> EvaluationRecord:
    """`record` as `out_dir/evaluation.json`, listed among its own artifacts."""
    json_path = out_dir / "evaluation.json"
    record.artifacts["evaluation"] = str(json_path)
    json_path.write_text(record.model_dump_json(indent=2))
    return record


def feature_importance(
    model: Any, holdout_df: pd.DataFrame, schema: Schema, cfg: ProjectConfig
) -> list[FeatureImportance]:
    """Permutation importance of `model` on the holdout, on the task's primary metric.

    It costs one holdout prediction per feature and repeat (165 for 55 columns), more than
    the evaluation itself, so the training flow asks it of the chosen candidate only.
    """
    task = schema.task
    y = labels(holdout_df, cfg, task).to_numpy()
    metric = primary_metric(cfg.training.primary_metric, task)
    return _importance(
        model, holdout_df[schema.features], y, metric, task != "regression", cfg.training.seed
    )


def fit_dummy(
    train: pd.DataFrame, schema: Schema, cfg: ProjectConfig
) -> DummyClassifier | DummyRegressor:
    """The trivial baseline a candidate must beat, fitted on the same training set as the
    candidates: scikit-learn's DummyClassifier predicting the class priors, or for
    regression its DummyRegressor predicting the mean."""
    y = labels(train, cfg, schema.task)
    if schema.task == "regression":
        return DummyRegressor(strategy="mean").fit(train[schema.features], y)
    return DummyClassifier(strategy="prior").fit(train[schema.features], y)


def _rank_value(record: EvaluationRecord, metric: str) -> float:
    """Sort key, larger is better; a missing or NaN metric ranks last."""
    value = record.metrics.get(metric, math.nan)
    if math.isnan(value):
        return -math.inf
    return -value if metric in LOWER_IS_BETTER else value


def best_record(records: list[EvaluationRecord], metric: str) -> EvaluationRecord:
    """The best record by `metric` in its direction (the first listed wins a tie)."""
    if not records:
        raise ValueError("no candidate records to choose from")
    if all(metric not in r.metrics for r in records):
        known = sorted(records[0].metrics)
        raise ValueError(f"primary_metric '{metric}' is not an evaluation metric; one of {known}")
    return max(records, key=lambda r: _rank_value(r, metric))
