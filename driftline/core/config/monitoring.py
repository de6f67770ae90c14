"""Config sections of monitoring: drift methods, windows, quality floors, retraining."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from driftline.core.config.section import Section

DriftMethod = Literal["wasserstein", "psi", "jensenshannon", "hellinger", "kl_div"]
# Binary, then multiclass, then regression metrics a labelled window is scored on.
QualityMetric = Literal[
    "roc_auc",
    "accuracy",
    "f1",
    "precision",
    "recall",
    "balanced_accuracy",
    "f1_macro",
    "f1_weighted",
    "log_loss",
    "mae",
    "rmse",
    "r2",
    "mape",
]


class FeatureDrift(Section):
    """Per-column override; a listed column that drifts raises an alert on its own."""

    method: DriftMethod | None = None
    threshold: float | None = Field(None, gt=0)


class Window(Section):
    """The current window: rows since the last check, or the last `hours` hours."""

    mode: Literal["since_last_check", "last_hours"] = "since_last_check"
    hours: float = Field(24, gt=0)


class Retraining(Section):
    """What retraining trains on: reference + recent (combined), recent only, or the last rows."""

    strategy: Literal["combined", "recent", "sliding"] = "combined"
    sliding_rows: int = Field(100_000, ge=1000)
    cooldown_minutes: float = Field(30, ge=0)
    cron: str = "0 3 * * 0"


MIN_SAMPLE_ROWS = 10_000
DEFAULT_FLOORS: dict[str, dict[str, float]] = {
    "binary": {"roc_auc": 0.7},
    "multiclass": {"f1_macro": 0.5},
    "regression": {"r2": 0.0},
}


class Monitoring(Section):
    """Drift and quality policy. Methods are distances: a column drifts when score >= threshold."""

    num_method: DriftMethod = "wasserstein"
    num_threshold: float = Field(0.1, gt=0)
    cat_method: DriftMethod = "jensenshannon"
    cat_threshold: float = Field(0.1, gt=0)
    per_feature: dict[str, FeatureDrift] = Field(default_factory=dict)
    drift_share: float = Field(0.3, gt=0, le=1, description="Alert when this share drifts.")
    min_rows: int = Field(500, ge=1, description="Fewer current rows: no verdict.")
    sample_rows: int = Field(
        100_000, description=f"Rows per side a check samples down to (>= {MIN_SAMPLE_ROWS})."
    )
    performance_floor: dict[QualityMetric, float] = Field(
        default_factory=lambda: dict(DEFAULT_FLOORS["binary"]),
        description="Alert when a labelled window's metric falls past its limit: below it for "
        "higher-is-better metrics, above it for error metrics (log_loss, mae, rmse, mape). "
        "Unset: the task's default (binary roc_auc 0.7, multiclass f1_macro 0.5, regression "
        "r2 0.0).",
    )
    estimated_performance_floor: dict[QualityMetric, float] = Field(
        default_factory=dict,
        description="Alert (and retrain) when a label-free estimate's whole band is below this.",
    )
    window: Window = Field(default_factory=Window)
    cron: str = "0 * * * *"
    retraining: Retraining = Field(default_factory=Retraining)

    def floor(self, task: str) -> dict[str, float]:
        """The performance floor for a model of `task`: as configured, else the task's
        default (binary roc_auc 0.7, multiclass f1_macro 0.5, regression r2 0.0)."""
        if "performance_floor" in self.model_fields_set:
            return dict(self.performance_floor)
        return dict(DEFAULT_FLOORS[task])

    @model_validator(mode="after")
    def _checks(self) -> Monitoring:
        if self.sample_rows < MIN_SAMPLE_ROWS:
            raise ValueError(f"sample_rows must be at least {MIN_SAMPLE_ROWS}")
        if self.cat_method == "wasserstein":
            raise ValueError("cat_method 'wasserstein' works on numbers only")
        return self
