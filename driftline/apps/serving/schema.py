"""Request and response models; the record model is generated from the model's feature schema.

`pydantic.create_model` builds one field per feature, so OpenAPI documents the real columns
and a bad request gets a 422 naming the field. Numbers are strict floats (no "3.5" strings,
no NaN/inf), categories strict strings; null means missing. Unknown fields are refused.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from driftline.core.scoring import FeatureSpec

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


class Prediction(BaseModel):
    request_id: str = Field(description="Id of this prediction; send it back with /feedback.")
    label: int = Field(description="1 = the positive class (probability >= threshold), else 0.")
    probability: float = Field(description="Probability of the positive class.")
    model_version: str


class PredictResponse(BaseModel):
    predictions: list[Prediction]


class Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=200)
    label: str | int | bool = Field(description="The true label of the predicted record.")


class FeedbackResponse(BaseModel):
    accepted: int
