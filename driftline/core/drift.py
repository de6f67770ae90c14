"""The drift check: a current window against the champion's reference sample, with Evidently.

Pure (no Prefect). Every column gets an explicit distance method and threshold from the
`monitoring:` policy (never Evidently's defaults, which switch methods at 1,000 rows), and
both sides are sampled down to `sample_rows` with a seed, so a 1M-row window costs what a
100k-row one does. Quality (in the task's metrics) and the target's drift are computed on
the window's labelled rows when the window carries labels and predictions; without labels a
binary model's quality is estimated from its probabilities (CBPE, `driftline.core.estimation`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from evidently import (
    BinaryClassification,
    DataDefinition,
    Dataset,
    MulticlassClassification,
    Regression,
    Report,
)
from evidently.core.metric_types import Metric
from evidently.core.report import Snapshot
from evidently.metrics import (
    MAE,
    MAPE,
    RMSE,
    Accuracy,
    F1Score,
    LogLoss,
    Precision,
    R2Score,
    Recall,
    RocAuc,
    ValueDrift,
)

from driftline.core.config import Monitoring
from driftline.core.contracts import (
    Alert,
    ColumnDrift,
    DriftResult,
    EstimatedMetric,
    Rows,
    TaskKind,
)
from driftline.core.estimation import BINARY_METRICS, Calibrator, estimate
from driftline.core.labels import label_texts, positive_mask
from driftline.core.scoring import proba_column
from driftline.core.task_kinds import direction


@dataclass(frozen=True)
class DriftReport:
    """The Evidently snapshots behind a result (kept out of the pydantic model: they are big)."""

    drift: Snapshot | None
    quality: Snapshot | None

    def json_dict(self) -> dict[str, Any]:
        return {
            name: json.loads(snap.json()) if snap is not None else None
            for name, snap in (("drift", self.drift), ("quality", self.quality))
        }

    def save_html(self, path: str | Path) -> list[Path]:
        """Write the drift report to `path` and the quality report next to it (`*.quality.html`)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        written = []
        for snap, target in (
            (self.drift, path),
            (self.quality, path.with_name(f"{path.stem}.quality.html")),
        ):
            if snap is not None:
                snap.save_html(str(target))  # a Path is silently ignored by Evidently 0.7
                written.append(target)
        return written


_QUALITY_PROBAS: dict[str, type[Metric]] = {
    "roc_auc": RocAuc,
    "log_loss": LogLoss,
}
_QUALITY_LABELS: dict[str, type[Metric]] = {
    "accuracy": Accuracy,
    "f1": F1Score,
    "precision": Precision,
    "recall": Recall,
}


def _sample(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return df.sample(n=n, random_state=seed) if len(df) > n else df


def _column_policy(
    column: str, kind: Literal["numeric", "categorical"], policy: Monitoring
) -> tuple[str, float, bool]:
    method = policy.num_method if kind == "numeric" else policy.cat_method
    threshold = policy.num_threshold if kind == "numeric" else policy.cat_threshold
    override = policy.per_feature.get(column)
    if override is None:
        return method, threshold, False
    method = override.method or method
    if kind == "categorical" and method == "wasserstein":
        raise ValueError(f"monitoring.per_feature.{column}: 'wasserstein' works on numbers only")
    return method, override.threshold or threshold, True


def _value(metric: dict[str, Any]) -> float:
    """A metric's value: Evidently gives some (MAE, MAPE) as {mean, std}."""
    value = metric["value"]
    return float(value["mean"] if isinstance(value, dict) else value)


def _regression_quality(labelled: pd.DataFrame, prediction: str, target: str) -> Any:
    frame = pd.DataFrame(
        {
            "target": pd.to_numeric(labelled[target], errors="coerce").to_numpy(),
            "prediction": labelled[prediction].to_numpy(dtype=float),
        }
    )
    task = Regression(target="target", prediction="prediction")
    metrics = {"mae": MAE(), "rmse": RMSE(), "r2": R2Score(), "mape": MAPE()}
    return frame, DataDefinition(regression=[task]), metrics


def _multiclass_quality(
    labelled: pd.DataFrame, prediction: str, target: str, classes: tuple[str, ...]
) -> Any:
    frame = pd.DataFrame(
        {
            "target": label_texts(labelled[target]).to_numpy(),
            "label": labelled[prediction].astype(str).to_numpy(),
        }
    )
    metrics: dict[str, Metric] = {"accuracy": Accuracy(), "f1_macro": F1Score()}
    probas = [c for c in classes if proba_column(c) in labelled.columns]
    if classes and len(probas) == len(classes):  # probabilities per class: log loss too
        for c in classes:
            frame[c] = labelled[proba_column(c)].to_numpy(dtype=float)
        metrics["log_loss"] = LogLoss()
    task = MulticlassClassification(
        target="target", prediction_labels="label", prediction_probas=probas or None
    )
    return frame, DataDefinition(classification=[task]), metrics


def _quality(
    current: pd.DataFrame,
    prediction_column: str,
    target_column: str,
    policy: Monitoring,
    positive_label: str | int | bool,
    probas_threshold: float,
    task: TaskKind = "binary",
    classes: tuple[str, ...] = (),
) -> tuple[dict[str, float], str, Snapshot | None, int]:
    labelled = current[current[target_column].notna()]
    n = len(labelled)
    if n == 0:
        return {}, "no labels in the window", None, n
    if n < policy.min_rows:
        return {}, f"{n} labelled rows; monitoring.min_rows is {policy.min_rows}", None, n
    if task != "binary":
        if task == "multiclass" and label_texts(labelled[target_column]).nunique() < 2:
            return {}, "labelled rows hold one class only", None, n
        frame, definition, metrics = (
            _regression_quality(labelled, prediction_column, target_column)
            if task == "regression"
            else _multiclass_quality(labelled, prediction_column, target_column, classes)
        )
        data = Dataset.from_pandas(frame, data_definition=definition)
        snap = Report(list(metrics.values())).run(current_data=data, reference_data=None)
        values = [_value(m) for m in snap.dict()["metrics"]]
        quality = dict(zip(metrics, values, strict=True))
        if "mape" in quality:  # Evidently gives a percentage; training records a fraction
            quality["mape"] /= 100
        return quality, f"on {n} labelled rows", snap, n
    y = positive_mask(labelled[target_column], positive_label)
    if y.nunique() < 2:
        return {}, "labelled rows hold one class only", None, n
    pred = labelled[prediction_column]
    frame = pd.DataFrame({"target": y.to_numpy()})
    if pd.api.types.is_numeric_dtype(pred):
        frame["proba"] = pred.to_numpy(dtype=float)
        task = BinaryClassification(target="target", prediction_probas="proba", pos_label=1)
        metrics = {k: m() for k, m in _QUALITY_PROBAS.items()}
        metrics |= {k: m(probas_threshold=probas_threshold) for k, m in _QUALITY_LABELS.items()}
    else:
        frame["label"] = positive_mask(pred, positive_label).to_numpy()
        task = BinaryClassification(target="target", prediction_labels="label", pos_label=1)
        metrics = {k: m() for k, m in _QUALITY_LABELS.items()}
    data = Dataset.from_pandas(frame, data_definition=DataDefinition(classification=[task]))
    snap = Report(list(metrics.values())).run(current_data=data, reference_data=None)
    values = [float(m["value"]) for m in snap.dict()["metrics"]]
    return dict(zip(metrics, values, strict=True)), f"on {n} labelled rows", snap, n


def _estimates(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    prediction_column: str,
    target_column: str | None,
    positive_label: str | int | bool,
    threshold: float,
    seed: int,
) -> tuple[list[EstimatedMetric], str]:
    """CBPE of the window's quality from the champion's probabilities, calibrated on the
    reference sample's labelled rows (`driftline.core.estimation`)."""
    if not pd.api.types.is_numeric_dtype(current[prediction_column]):
        return [], "the window holds labels, not probabilities"
    if target_column is None or target_column not in reference.columns:
        return [], "the reference sample has no labels to calibrate on"
    labelled = reference[reference[target_column].notna()]
    y = positive_mask(labelled[target_column], positive_label).to_numpy(dtype=int)
    if len(set(y)) < 2:
        return [], "the reference sample holds one class only"
    calibrate = Calibrator(labelled[prediction_column].to_numpy(dtype=float), y, seed)
    proba = current[prediction_column].to_numpy(dtype=float)
    predicted = (proba >= threshold).astype(int)
    estimates = estimate(proba, predicted, BINARY_METRICS, calibrate, seed=seed)
    how = "recalibrated" if calibrate.maps is not None else "as the model gives them"
    note = (
        f"CBPE on {len(proba)} rows, probabilities {how} (checked on {len(y)} labelled "
        "reference rows)"
    )
    return estimates, note


def _alerts(
    columns: list[ColumnDrift],
    share: float,
    prediction: ColumnDrift | None,
    quality: dict[str, float],
    policy: Monitoring,
    task: TaskKind = "binary",
    estimated: list[EstimatedMetric] | None = None,
) -> list[Alert]:
    alerts = []
    if columns and share >= policy.drift_share:
        alerts.append(
            Alert(
                rule="drift_share",
                message=f"{share:.0%} of features drifted (policy: {policy.drift_share:.0%})",
            )
        )
    critical = [c.column for c in columns if c.override and c.drifted]
    if critical:
        alerts.append(Alert(rule="per_feature", message=f"watched features drifted: {critical}"))
    if prediction is not None and prediction.drifted:
        alerts.append(
            Alert(
                rule="prediction_drift",
                message=f"predictions drifted ({prediction.method} {prediction.score:.3f})",
            )
        )
    below = []
    for metric, limit in policy.floor(task).items():
        value = quality.get(metric)
        if value is None:
            continue
        if direction(metric) == "lower" and value > limit:  # an error metric: a ceiling
            below.append(f"{metric} {value:.3f} > {limit}")
        elif direction(metric) == "higher" and value < limit:
            below.append(f"{metric} {value:.3f} < {limit}")
    if below:
        alerts.append(Alert(rule="performance_floor", message=", ".join(below)))
    by_metric = {e.metric: e for e in estimated or []}
    est_below = [
        f"estimated {m} {e.value:.3f} ({e.level:.0%} band {e.lower:.3f} to {e.upper:.3f}) < {v}"
        for m, v in policy.estimated_performance_floor.items()
        if (e := by_metric.get(m)) is not None and e.upper < v
    ]
    if est_below:
        alerts.append(Alert(rule="estimated_performance_floor", message=", ".join(est_below)))
    return alerts


def check_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    policy: Monitoring,
    prediction_column: str | None = None,
    target_column: str | None = None,
    seed: int = 0,
    positive_label: str | int | bool = 1,
    probas_threshold: float = 0.5,
    task: TaskKind = "binary",
    classes: tuple[str, ...] = (),
) -> tuple[DriftResult, DriftReport]:
    """Compare `current` to `reference` under `policy`; returns the result and its snapshots.

    Quality on the window's labelled rows uses the task's metrics (binary: ROC AUC, accuracy,
    F1, ...; multiclass: accuracy, macro F1, log loss; regression: MAE, RMSE, R², MAPE);
    the target's drift (labelled rows against the reference's targets) is reported too.
    """
    features = [*numeric, *categorical]
    rows = Rows(
        reference=len(reference),
        current=len(current),
        reference_sampled=min(len(reference), policy.sample_rows),
        current_sampled=min(len(current), policy.sample_rows),
    )
    too_small = [
        f"{side} has {n} rows; monitoring.min_rows is {policy.min_rows}"
        for side, n in (("current window", rows.current), ("reference", rows.reference))
        if n < policy.min_rows
    ]
    if too_small:
        rows = rows.model_copy(update={"reference_sampled": 0, "current_sampled": 0})
        result = DriftResult(
            verdict=False,
            reason="no verdict: "
            + "; ".join(too_small)
            + " (the reference is the champion's holdout sample; lower monitoring.min_rows "
            "to judge smaller samples, at the cost of noisier drift scores)",
            columns=[],
            drifted_columns=[],
            drift_share=0.0,
            dataset_drift=False,
            prediction_drift=None,
            quality={},
            quality_note="not computed",
            rows=rows,
            alerts=[],
        )
        return result, DriftReport(drift=None, quality=None)

    for side, df in (("reference", reference), ("current", current)):
        missing = [c for c in features if c not in df.columns]
        if missing:
            raise ValueError(f"{side} data lacks feature columns {missing}")
    ref = _sample(reference, policy.sample_rows, seed)
    cur = _sample(current, policy.sample_rows, seed + 1)
    kinds: dict[str, Literal["numeric", "categorical"]] = {c: "numeric" for c in numeric}
    kinds |= {c: "categorical" for c in categorical}
    with_prediction = (
        prediction_column is not None
        and prediction_column in ref.columns
        and prediction_column in cur.columns
    )
    if with_prediction:
        assert prediction_column is not None
        is_num = pd.api.types.is_numeric_dtype(cur[prediction_column])
        kinds[prediction_column] = "numeric" if is_num else "categorical"
    policies = {c: _column_policy(c, k, policy) for c, k in kinds.items()}
    definition = DataDefinition(
        numerical_columns=[c for c, k in kinds.items() if k == "numeric"],
        categorical_columns=[c for c, k in kinds.items() if k == "categorical"],
    )
    cols = list(kinds)
    snap = Report(
        [ValueDrift(column=c, method=policies[c][0], threshold=policies[c][1]) for c in cols]
    ).run(
        current_data=Dataset.from_pandas(cur[cols], data_definition=definition),
        reference_data=Dataset.from_pandas(ref[cols], data_definition=definition),
    )
    scores = [float(m["value"]) for m in snap.dict()["metrics"]]
    drifts = [
        ColumnDrift(
            column=c,
            kind=kinds[c],
            method=policies[c][0],
            threshold=policies[c][1],
            score=s,
            drifted=s >= policies[c][1],
            override=policies[c][2],
        )
        for c, s in zip(cols, scores, strict=True)
    ]
    columns = [d for d in drifts if d.column in features]
    prediction = next((d for d in drifts if d.column not in features), None)
    drifted = [d.column for d in columns if d.drifted]
    share = len(drifted) / len(columns) if columns else 0.0

    quality: dict[str, float] = {}
    quality_snap = None
    if target_column is None or target_column not in cur.columns:
        note = "no labels in the window"
    elif prediction_column is None or prediction_column not in cur.columns:
        note = "no predictions in the window"
    else:
        quality, note, quality_snap, labelled = _quality(
            cur,
            prediction_column,
            target_column,
            policy,
            positive_label,
            probas_threshold,
            task,
            classes,
        )
        rows = rows.model_copy(update={"labelled": labelled})
    target_drift = (
        _target_drift(ref, cur, target_column, task, policy)
        if target_column is not None and target_column in ref.columns
        else None
    )

    estimated: list[EstimatedMetric] = []
    estimate_note = "no probabilities in the window"
    if task != "binary":
        estimate_note = "label-free estimates are made for binary classification only"
    elif with_prediction:
        assert prediction_column is not None
        estimated, estimate_note = _estimates(
            ref, cur, prediction_column, target_column, positive_label, probas_threshold, seed
        )
    alerts = _alerts(columns, share, prediction, quality, policy, task, estimated)
    result = DriftResult(
        verdict=True,
        reason=f"{len(drifted)} of {len(columns)} features drifted",
        columns=columns,
        drifted_columns=drifted,
        drift_share=share,
        dataset_drift=any(a.rule in ("drift_share", "per_feature") for a in alerts),
        prediction_drift=prediction,
        target_drift=target_drift,
        quality=quality,
        quality_note=note,
        rows=rows,
        alerts=alerts,
        estimated=estimated,
        estimate_note=estimate_note,
    )
    return result, DriftReport(drift=snap, quality=quality_snap)


def _target_drift(
    ref: pd.DataFrame, cur: pd.DataFrame, column: str, task: TaskKind, policy: Monitoring
) -> ColumnDrift | None:
    """The target's distribution in the window's labelled rows against the reference's
    (a numeric distance for regression, a categorical one for classes); None with fewer
    than `min_rows` labelled rows."""
    if column not in cur.columns:
        return None
    current = cur[column].dropna()
    if len(current) < policy.min_rows:
        return None
    kind: Literal["numeric", "categorical"] = "numeric" if task == "regression" else "categorical"
    if kind == "numeric":
        sides = [pd.to_numeric(s, errors="coerce") for s in (ref[column], current)]
    else:
        sides = [label_texts(s.dropna()) for s in (ref[column], current)]
    method, threshold, _ = _column_policy(column, kind, policy)
    definition = DataDefinition(
        numerical_columns=[column] if kind == "numeric" else [],
        categorical_columns=[column] if kind == "categorical" else [],
    )
    ref_side, cur_side = (pd.DataFrame({column: s.to_numpy()}) for s in sides)
    snap = Report([ValueDrift(column=column, method=method, threshold=threshold)]).run(
        current_data=Dataset.from_pandas(cur_side, data_definition=definition),
        reference_data=Dataset.from_pandas(ref_side, data_definition=definition),
    )
    score = float(snap.dict()["metrics"][0]["value"])
    return ColumnDrift(
        column=column,
        kind=kind,
        method=method,
        threshold=threshold,
        score=score,
        drifted=score >= threshold,
    )


def time_span(df: pd.DataFrame, column: str | None) -> tuple[datetime | None, datetime | None]:
    """The first and last time in `column` (None, None when there is none)."""
    if column is None or column not in df.columns or df[column].isna().all():
        return None, None
    ts = pd.to_datetime(df[column], utc=True)
    return ts.min().to_pydatetime(), ts.max().to_pydatetime()
