"""Scoring with a fitted model: its input columns, the input frame, labels and probabilities.

Serving, batch scoring and evaluation all score through `predict_scores`, so a label means
the same everywhere. The decision threshold lives inside the model (scikit-learn's
`FixedThresholdClassifier` / `TunedThresholdClassifierCV`); `predict_scores` reads it from
there instead of calling `predict` as well, because `predict` and `predict_proba` would each
run the whole preprocessing pipeline, doubling the cost of every request and chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict
from sklearn.model_selection import FixedThresholdClassifier, TunedThresholdClassifierCV

from driftline.core.contracts import Schema, TaskKind
from driftline.core.labels import label_text
from driftline.core.metadata import ModelMetadata
from driftline.errors import VerificationError


class FeatureSpec(BaseModel):
    """The input columns a model takes, by kind, plus the optional entity key, and what it
    answers: its task and classes (so a served model is only replaced by one of its kind)."""

    model_config = ConfigDict(frozen=True)

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    key: str | None = None
    task: TaskKind = "binary"
    classes: tuple[str, ...] = ()

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @classmethod
    def of(cls, schema: Schema, key: str | None = None) -> FeatureSpec:
        classes = schema.classes if schema.task == "multiclass" else ()
        return cls(
            numeric=schema.numeric,
            categorical=schema.categorical,
            key=key,
            task=schema.task,
            classes=classes,
        )


def to_frame(columns: dict[str, list[Any]], spec: FeatureSpec) -> pd.DataFrame:
    """The model input as training saw it: float64 and text columns, a missing value is NaN.

    Not None: sklearn's imputers (missing_values=np.nan) leave None alone, so a None would
    bypass the imputation the model was trained with.
    """
    data: dict[str, Any] = {c: np.asarray(columns[c], dtype="float64") for c in spec.numeric}
    data |= {
        c: pd.Series([np.nan if v is None else v for v in columns[c]], dtype=object)
        for c in spec.categorical
    }
    return pd.DataFrame(data, columns=spec.features)


def decision_threshold(model: Any) -> float:
    """The probability at or above which the model predicts the positive class."""
    if isinstance(model, TunedThresholdClassifierCV):
        return float(model.best_threshold_)
    if isinstance(model, FixedThresholdClassifier) and model.threshold != "auto":
        return float(model.threshold)
    return 0.5


def predict_scores(model: Any, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(labels, probability of the positive class) of a binary classifier, in one pass."""
    proba = np.asarray(model.predict_proba(frame)[:, 1], dtype="float64")
    return (proba >= decision_threshold(model)).astype("int64"), proba


@dataclass(frozen=True)
class Predictions:
    """What a model says about rows, for its task.

    binary: `values` 0/1 at the threshold, `proba` the positive class's probability (n,);
    multiclass: `values` the class (label text), `proba` (n, k) in `classes` order;
    regression: `values` the predicted number, no `proba`.
    """

    values: np.ndarray
    proba: np.ndarray | None
    classes: tuple[str, ...] = ()


def predict(model: Any, frame: pd.DataFrame, task: TaskKind) -> Predictions:
    """The one per-task prediction serving, batch scoring, evaluation and monitoring use
    (one pass through the pipeline per call)."""
    if task == "binary":
        values, proba = predict_scores(model, frame)
        return Predictions(values=values, proba=proba)
    if task == "regression":
        return Predictions(values=np.asarray(model.predict(frame), dtype="float64"), proba=None)
    proba = np.asarray(model.predict_proba(frame), dtype="float64")
    classes = tuple(label_text(c) for c in model.classes_)
    values = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    return Predictions(values=values, proba=proba, classes=classes)


def prediction_column(task: TaskKind) -> str:
    """The column that holds what a model predicts, in the reference sample, the prediction
    log and batch output: the positive class's probability (binary), the class (multiclass)
    or the value (regression). Monitoring's prediction drift compares it."""
    return {"binary": "probability", "multiclass": "label", "regression": "prediction"}[task]


def proba_column(cls: str) -> str:
    """The column of one class's probability (multiclass)."""
    return f"proba_{cls}"


def output_columns(p: Predictions, task: TaskKind) -> dict[str, np.ndarray]:
    """What scoring writes per row, per task: binary `probability` and `label` (0/1);
    multiclass `label` (the class), `probability` (of that class) and `proba_<class>` per
    class; regression `prediction`. Serving's log and batch scoring both write these."""
    if task == "regression":
        return {"prediction": p.values}
    if task == "binary":
        assert p.proba is not None
        return {"probability": p.proba, "label": p.values}
    assert p.proba is not None
    return {
        "label": p.values,
        "probability": p.proba.max(axis=1),
        **{proba_column(c): p.proba[:, i] for i, c in enumerate(p.classes)},
    }


@dataclass(frozen=True)
class ScoringModel:
    """A verified model with what scoring needs: its version, metadata and input columns."""

    name: str
    sha256: str
    metadata: ModelMetadata
    model: Any
    spec: FeatureSpec

    @property
    def task(self) -> TaskKind:
        return self.metadata.task

    @property
    def threshold(self) -> float | None:
        """The decision threshold (binary models only)."""
        return decision_threshold(self.model) if self.task == "binary" else None

    def predict(self, frame: pd.DataFrame) -> Predictions:
        return predict(self.model, frame, self.task)


def _sane(out: np.ndarray, task: TaskKind, classes: tuple[str, ...]) -> bool:
    """Finite numbers of the task's shape (probabilities in [0, 1] for classification)."""
    if not np.isfinite(out).all():
        return False
    if task == "regression":
        return out.shape == (2,)
    width = 2 if task == "binary" else len(classes)
    return out.shape == (2, width) and bool(((out >= 0.0) & (out <= 1.0)).all())


def verify(
    name: str, sha256: str, metadata: ModelMetadata, model: Any, spec: FeatureSpec | None
) -> ScoringModel:
    """Check a loaded model can serve: same features as `spec`, and sane output for its task
    (probabilities for classification, a finite number for regression)."""
    own = FeatureSpec.of(metadata.table_schema, key=spec.key if spec else None)
    if spec is not None and own.features != spec.features:
        raise VerificationError(
            f"its features {own.features} differ from the serving schema {spec.features}; "
            "restart the server to serve it"
        )
    if spec is not None and (own.task, own.classes) != (spec.task, spec.classes):
        raise VerificationError(
            f"it is a {own.task} model{f' of classes {list(own.classes)}' if own.classes else ''}"
            f" and the server answers for a {spec.task} one"
            f"{f' of classes {list(spec.classes)}' if spec.classes else ''}; "
            "restart the server to serve it"
        )
    task = metadata.task
    method = "predict" if task == "regression" else "predict_proba"
    if not callable(getattr(model, method, None)):
        raise VerificationError(f"the model has no {method}")
    probe = to_frame(
        {c: [0.0, None] for c in own.numeric} | {c: ["", None] for c in own.categorical}, own
    )
    try:
        out = np.asarray(getattr(model, method)(probe), dtype="float64")
    except Exception as exc:  # any failure of the model on a probe row means: do not serve it
        raise VerificationError(f"{method} fails on a probe row: {exc}") from None
    if not _sane(out, task, metadata.table_schema.classes):
        raise VerificationError(f"{method} returned {out!r} for a probe row")
    return ScoringModel(name=name, sha256=sha256, metadata=metadata, model=model, spec=own)
