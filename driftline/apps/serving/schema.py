"""Request and response models; the record model is generated from the model's feature schema.

`pydantic.create_model` builds one field per feature, so OpenAPI documents the real columns
and a bad request gets a 422 naming the field. Numbers are strict floats (no "3.5" strings,
no NaN/inf), categories strict strings; null means missing. Unknown fields are refused.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model

from driftline.core.contracts import TaskKind
from driftline.core.scoring import FeatureSpec, proba_column

Numeric = Annotated[float | None, Field(strict=True, allow_inf_nan=False)]
Categorical = Annotated[str | None, Field(strict=True, max_length=1000)]


def record_model(spec: FeatureSpec) -> type[BaseModel]:
    """The pydantic model of one input record: every feature required (null = missing)."""
    fields: dict[str, Any] = {name: (Numeric, ...) for name in spec.numeric}
    fields |= {name: (Categorical, ...) for name in spec.categorical}
    if spec.key and spec.key not in fields:
        fields[spec.key] = (
            Annotated[str | int | None, Field(description="Entity key (logged, routes canary).")],
            None,
        )
    return create_model(
        "Record",
        __config__=ConfigDict(extra="forbid", frozen=True),
        __doc__="One row to score: the model's feature columns.",
        **fields,
    )


def predict_request_model(spec: FeatureSpec, max_records: int) -> type[BaseModel]:
    """The /predict body: `{"records": [...]}` with 1..max_records records."""
    record = record_model(spec)
    return create_model(
        "PredictRequest",
        __config__=ConfigDict(extra="forbid"),
        records=(list[record], Field(min_length=1, max_length=max_records)),  # type: ignore[valid-type]
    )


RequestId = Annotated[str, Field(description="Id of this prediction; send it back with /feedback.")]


class Prediction(BaseModel):
    """A binary model's answer for one record."""

    request_id: RequestId
    label: int = Field(description="1 = the positive class (probability >= threshold), else 0.")
    probability: float = Field(description="Probability of the positive class.")
    model_version: str


class ClassPrediction(BaseModel):
    """A multiclass model's answer for one record."""

    request_id: RequestId
    label: str = Field(description="The most probable class.")
    probabilities: dict[str, float] = Field(description="Probability of every class.")
    model_version: str


class ValuePrediction(BaseModel):
    """A regression model's answer for one record."""

    request_id: RequestId
    prediction: float = Field(description="The predicted value of the target.")
    model_version: str


ANSWERS: dict[TaskKind, type[BaseModel]] = {
    "binary": Prediction,
    "multiclass": ClassPrediction,
    "regression": ValuePrediction,
}


def predict_response_model(spec: FeatureSpec) -> type[BaseModel]:
    """The /predict answer for the served model's task (OpenAPI shows which)."""
    answer = ANSWERS[spec.task]
    doc = f"Answers of a {spec.task} model" + (
        f" (classes {', '.join(spec.classes)})" if spec.classes else ""
    )
    return create_model(
        "PredictResponse",
        __doc__=doc,
        predictions=(list[answer], ...),  # type: ignore[valid-type]
    )


def answers(
    spec: FeatureSpec, ids: list[str], outputs: dict[str, np.ndarray], versions: list[str]
) -> list[dict[str, Any]]:
    """The /predict answers from the task's output columns (`scoring.output_columns`)."""
    if spec.task == "regression":
        values = outputs["prediction"].tolist()
        return [
            {"request_id": i, "prediction": v, "model_version": m}
            for i, v, m in zip(ids, values, versions, strict=True)
        ]
    if spec.task == "binary":
        labels, probas = outputs["label"].tolist(), outputs["probability"].tolist()
        return [
            {"request_id": i, "label": lb, "probability": p, "model_version": m}
            for i, lb, p, m in zip(ids, labels, probas, versions, strict=True)
        ]
    per_class = {c: outputs[proba_column(c)].tolist() for c in spec.classes}
    return [
        {
            "request_id": i,
            "label": lb,
            "probabilities": {c: per_class[c][n] for c in spec.classes},
            "model_version": m,
        }
        for n, (i, lb, m) in enumerate(zip(ids, outputs["label"].tolist(), versions, strict=True))
    ]


class Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=200)
    label: str | int | float | bool = Field(
        description="The true label of the predicted record: one of the model's classes, or "
        "for a regression model a finite number."
    )


class FeedbackResponse(BaseModel):
    accepted: int
