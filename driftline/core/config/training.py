"""Config sections about training: candidates, search, threshold, feature selection."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from driftline.core.config.section import Section


class Threshold(Section):
    """Decision threshold: fixed, or the best F1 on cross-validation folds (never the holdout)."""

    strategy: Literal["fixed", "best_f1"] = "best_f1"
    value: float = Field(0.5, gt=0, lt=1)


class FeatureSelection(Section):
    method: Literal["none", "k_best"] = "none"
    k: int = Field(10, ge=1)


CandidateName = Literal["logistic_regression", "random_forest", "hist_gradient_boosting"]


class Training(Section):
    candidates: list[CandidateName] = Field(
        default_factory=lambda: ["logistic_regression", "random_forest", "hist_gradient_boosting"],
        min_length=1,
    )
    holdout_fraction: float = Field(0.2, gt=0, lt=0.9)
    search_budget: int = Field(6, ge=1, description="Hyperparameter settings tried per candidate.")
    cv_folds: int = Field(3, ge=2)
    seed: int = 42
    n_jobs: int = Field(2, ge=1, description="Cores shared by all candidates of one run.")
    threshold: Threshold = Field(default_factory=Threshold)
    feature_selection: FeatureSelection = Field(default_factory=FeatureSelection)
    slice_columns: list[str] = Field(default_factory=list)
    reference_sample_rows: int = Field(5000, ge=100)
    primary_metric: str = "roc_auc"
    dask_address: str | None = Field(
        None,
        description="Dask scheduler (tcp://host:8786) to train candidates on; none: local threads.",
    )
