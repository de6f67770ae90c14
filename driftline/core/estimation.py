"""Quality before labels arrive: confidence-based performance estimation (CBPE, as NannyML
defines it), with a band.

With calibrated probabilities the expected confusion matrix of a window follows from the
probabilities alone: a row predicted positive with probability p is a true positive with
probability p. Probabilities are first recalibrated on the reference sample (scikit-learn's
`IsotonicRegression`, as NannyML does), because a model's own scores are rarely calibrated
exactly. The band is the spread of the realised metric over label draws from those
probabilities (`level` of them fall inside it when the probabilities are right).

Written by hand rather than with nannyml 0.13: it pins lightgbm < 4.6 and xgboost < 3 (the
boosting extra needs 4.7 / 3.2), pulls cloud SDKs and logs usage unless told not to; the
method itself is a few numpy lines on top of scikit-learn's calibration and metrics.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from sklearn.isotonic import IsotonicRegression

from driftline.core.contracts import EstimatedMetric

# Rows the band's label draws use at most (the point estimate uses every row).
BAND_ROWS = 10_000
BAND_DRAWS = 200
BINARY_METRICS = ("roc_auc", "accuracy", "f1", "precision", "recall")
MULTICLASS_METRICS = ("accuracy", "macro_f1", "macro_precision", "macro_recall")


class Calibrator:
    """Maps a model's probabilities to calibrated ones, learnt from labelled reference rows.

    One isotonic map per class (one for a binary model's positive class), multiclass rows
    renormalised to sum to one; used only when it beats the model's own probabilities on
    reference rows it was not fitted on (two-fold, by Brier score), since isotonic maps
    overfit small references and can make an already calibrated model worse.
    """

    def __init__(self, proba: np.ndarray, y: np.ndarray, seed: int = 0) -> None:
        proba = _as_matrix(proba)
        y = np.asarray(y, dtype=int)
        half = np.random.default_rng(seed).random(len(y)) < 0.5
        raw, mapped = 0.0, 0.0
        for fit, held in ((half, ~half), (~half, half)):
            maps = _isotonic(proba[fit], y[fit])
            raw += _brier(proba[held], y[held])
            mapped += _brier(_apply(maps, proba[held]), y[held])
        self.maps = _isotonic(proba, y) if mapped < raw else None

    def __call__(self, proba: np.ndarray) -> np.ndarray:
        proba = _as_matrix(proba)
        return proba if self.maps is None else _apply(self.maps, proba)


def _isotonic(proba: np.ndarray, y: np.ndarray) -> list[IsotonicRegression]:
    return [
        IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
            proba[:, k], (y == k).astype(float)
        )
        for k in range(proba.shape[1])
    ]


def _apply(maps: list[IsotonicRegression], proba: np.ndarray) -> np.ndarray:
    out = np.column_stack([m.predict(proba[:, k]) for k, m in enumerate(maps)])
    if out.shape[1] == 2:
        out[:, 0] = 1.0 - out[:, 1]
        return out
    total = out.sum(axis=1, keepdims=True)
    return np.divide(out, total, out=np.full_like(out, 1 / out.shape[1]), where=total > 0)


def _brier(proba: np.ndarray, y: np.ndarray) -> float:
    onehot = np.zeros_like(proba)
    onehot[np.arange(len(y)), y] = 1.0
    return float(((proba - onehot) ** 2).sum(axis=1).mean())


def _as_matrix(proba: np.ndarray) -> np.ndarray:
    """Probabilities as an (n, classes) matrix; a 1-D array is a binary positive column."""
    proba = np.asarray(proba, dtype="float64")
    return np.column_stack([1.0 - proba, proba]) if proba.ndim == 1 else proba


def _expected_auc(p: np.ndarray) -> float:
    """ROC AUC expected from calibrated positive probabilities alone (expected TPR vs FPR)."""
    order = np.argsort(-p, kind="stable")
    pos, neg = p[order], 1.0 - p[order]
    if pos.sum() == 0 or neg.sum() == 0:
        return float("nan")
    tpr = np.concatenate([[0.0], np.cumsum(pos) / pos.sum()])
    fpr = np.concatenate([[0.0], np.cumsum(neg) / neg.sum()])
    return float(np.trapezoid(tpr, fpr))


def _expected(proba: np.ndarray, predicted: np.ndarray, metric: str) -> float:
    """The expected value of `metric` given calibrated probabilities and predicted classes."""
    n, k = proba.shape
    onehot = np.zeros_like(proba)
    onehot[np.arange(n), predicted] = 1.0
    tp = (proba * onehot).sum(axis=0)  # expected true positives per class
    fp = ((1.0 - proba) * onehot).sum(axis=0)
    fn = (proba * (1.0 - onehot)).sum(axis=0)
    if metric == "accuracy":
        return float(tp.sum() / n)
    if metric == "roc_auc":
        return _expected_auc(proba[:, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
    per_class = {"precision": precision, "recall": recall, "f1": f1}
    name = metric.removeprefix("macro_")
    if k == 2 and not metric.startswith("macro_"):
        return float(per_class[name][1])
    return float(per_class[name].mean())


def _realised(
    metric: str, labels: np.ndarray, predicted: np.ndarray, proba: np.ndarray
) -> np.ndarray:
    """The realised `metric` of each row of drawn `labels` (draws x rows), vectorised.

    By hand: scikit-learn's metric functions validate their input on every call, which makes
    the hundreds of draws a band needs take seconds instead of milliseconds.
    """
    k = proba.shape[1]
    if metric == "accuracy":
        return (labels == predicted).mean(axis=1)
    if metric == "roc_auc":  # Mann-Whitney: the rank sum of the positives
        ranks = rankdata(proba[:, 1])
        positives = labels == 1
        n_pos = positives.sum(axis=1)
        n_neg = labels.shape[1] - n_pos
        with np.errstate(invalid="ignore", divide="ignore"):
            auc = (positives @ ranks - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
        return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)
    classes = [1] if k == 2 and not metric.startswith("macro_") else range(k)
    values = []
    for c in classes:
        actual, said = labels == c, predicted == c
        tp = (actual & said).sum(axis=1)
        fp = (~actual & said).sum(axis=1)
        fn = (actual & ~said).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = {
                "precision": np.where(tp + fp > 0, tp / (tp + fp), 0.0),
                "recall": np.where(tp + fn > 0, tp / (tp + fn), 0.0),
                "f1": np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0),
            }
        values.append(ratio[metric.removeprefix("macro_")])
    return np.mean(values, axis=0)


def estimate(
    proba: np.ndarray,
    predicted: np.ndarray,
    metrics: tuple[str, ...] | list[str],
    calibrate: Calibrator | None = None,
    level: float = 0.9,
    seed: int = 0,
) -> list[EstimatedMetric]:
    """CBPE of `metrics` on a window: the model's probabilities and the classes it predicted
    (indices into the probability columns), recalibrated by `calibrate` when given."""
    proba = _as_matrix(proba)
    if calibrate is not None:
        proba = calibrate(proba)
    predicted = np.asarray(predicted, dtype=int)
    n, k = proba.shape
    rng = np.random.default_rng(seed)
    rows = rng.choice(n, size=BAND_ROWS, replace=False) if n > BAND_ROWS else np.arange(n)
    sample, sample_pred = proba[rows], predicted[rows]
    cumulative = np.cumsum(sample, axis=1)
    uniform = rng.random((BAND_DRAWS, len(rows), 1))
    labels = np.minimum((uniform > cumulative[None]).sum(axis=2), k - 1)
    out = []
    for metric in metrics:
        spread = _realised(metric, labels, sample_pred, sample)
        spread = spread[~np.isnan(spread)]
        value = _expected(proba, predicted, metric)
        # The spread of a subsample is wider than the whole window's: scale it to n rows.
        half = (1.0 - level) / 2
        low, high = np.quantile(spread, [half, 1 - half]) if len(spread) else (value, value)
        shrink = np.sqrt(len(rows) / n)
        centre = float(np.mean(spread)) if len(spread) else value
        out.append(
            EstimatedMetric(
                metric=metric,
                value=value,
                lower=float(value - (centre - low) * shrink),
                upper=float(value + (high - centre) * shrink),
                level=level,
                rows=n,
            )
        )
    return out
