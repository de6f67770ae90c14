"""Config sections of the blessing gate: value thresholds and change thresholds (TFX-style)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from driftline.core.config.section import Section


class Bound(Section):
    """Value threshold: the metric must lie within [min, max]."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _some_bound(self) -> Bound:
        if self.min is None and self.max is None:
            raise ValueError("give 'min', 'max' or both")
        return self


class Change(Section):
    """Change threshold against the champion, TFX style.

    direction 'higher' means higher is better: the candidate may fall below the champion by
    at most `max_drop_abs` (absolute) and/or `max_drop_rel` (relative); `min_gain_abs`
    asks for a real improvement. 'lower' mirrors all of this. Unset, it is the metric's own
    (lower for log_loss, brier, mae, rmse, mape; higher for the rest).
    """

    direction: Literal["higher", "lower"] | None = None
    max_drop_abs: float | None = Field(None, ge=0)
    max_drop_rel: float | None = Field(None, ge=0)
    min_gain_abs: float | None = None

    @model_validator(mode="after")
    def _some_threshold(self) -> Change:
        if self.max_drop_abs is None and self.max_drop_rel is None and self.min_gain_abs is None:
            raise ValueError("give 'max_drop_abs', 'max_drop_rel' or 'min_gain_abs'")
        return self


class DummyGate(Section):
    """The candidate must beat a trivial baseline (scikit-learn's DummyClassifier /
    DummyRegressor, fitted on the same training set) on `metric` (default: the primary
    metric) by at least the larger of `min_gain_abs` and `min_gain_rel` x |dummy's value|."""

    metric: str | None = None
    min_gain_abs: float = Field(0.0, ge=0)
    min_gain_rel: float = Field(0.05, ge=0)


class Gates(Section):
    value: dict[str, Bound] = Field(default_factory=dict)
    change: dict[str, Change] = Field(default_factory=dict)
    dummy: DummyGate | None = None
