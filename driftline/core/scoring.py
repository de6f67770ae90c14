"""Scoring with a fitted model: its input columns, the input frame, labels and probabilities.

Serving, batch scoring and evaluation all score through `predict_scores`, so a label means
the same everywhere. The decision threshold lives inside the model (scikit-learn's
`FixedThresholdClassifier` / `TunedThresholdClassifierCV`); `predict_scores` reads it from
there instead of calling `predict` as well, because `predict` and `predict_proba` would each
run the whole preprocessing pipeline, doubling the cost of every request and chunk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict
from sklearn.model_selection import FixedThresholdClassifier, TunedThresholdClassifierCV

from driftline.core.contracts import Schema
from driftline.core.metadata import ModelMetadata
from driftline.errors import VerificationError


class FeatureSpec(BaseModel):
    """The input columns a model takes, by kind, plus the optional entity key."""

    model_config = ConfigDict(frozen=True)

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    key: str | None = None

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @classmethod
    def of(cls, schema: Schema, key: str | None = None) -> FeatureSpec:
        return cls(numeric=schema.numeric, categorical=schema.categorical, key=key)


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
class ScoringModel:
    """A verified model with what scoring needs: its version, metadata and input columns."""

    name: str
    sha256: str
    metadata: ModelMetadata
    model: Any
    spec: FeatureSpec

    @property
    def threshold(self) -> float:
        return decision_threshold(self.model)

    def predict(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return predict_scores(self.model, frame)


def verify(
    name: str, sha256: str, metadata: ModelMetadata, model: Any, spec: FeatureSpec | None
) -> ScoringModel:
    """Check a loaded model can serve: same features as `spec`, sane probabilities."""
    own = FeatureSpec.of(metadata.table_schema, key=spec.key if spec else None)
    if spec is not None and own.features != spec.features:
        raise VerificationError(
            f"its features {own.features} differ from the serving schema {spec.features}; "
            "restart the server to serve it"
        )
    if not callable(getattr(model, "predict_proba", None)):
        raise VerificationError("the model has no predict_proba")
    probe = to_frame(
        {c: [0.0, None] for c in own.numeric} | {c: ["", None] for c in own.categorical}, own
    )
    try:
        proba = np.asarray(model.predict_proba(probe))
    except Exception as exc:  # any failure of the model on a probe row means: do not serve it
        raise VerificationError(f"predict_proba fails on a probe row: {exc}") from None
    if proba.shape != (2, 2) or not all(0.0 <= p <= 1.0 and math.isfinite(p) for p in proba[:, 1]):
        raise VerificationError(f"predict_proba returned {proba!r} for a probe row")
    return ScoringModel(name=name, sha256=sha256, metadata=metadata, model=model, spec=own)
