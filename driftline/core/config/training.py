"""Config sections about training: candidates, search, threshold, feature selection."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from driftline.core.config.encoding import Encoding
from driftline.core.config.section import Section


class Threshold(Section):
    """Decision threshold: fixed, or the best F1 on cross-validation folds (never the holdout)."""

    strategy: Literal["fixed", "best_f1"] = "best_f1"
    value: float = Field(0.5, gt=0, lt=1)


class FeatureSelection(Section):
    method: Literal["none", "k_best"] = "none"
    k: int = Field(10, ge=1)


class SplitSettings(Section):
    """How the holdout is drawn (`split:`).

    auto: by `timestamp_column` when it is set; else, when the source is several batch
    files, the latest batch(es) in name order; else stratified random. Retraining data
    (the champion's rows, then the recent labelled ones) holds out its latest rows.
    """

    strategy: Literal["auto", "random", "time", "latest_batches"] = "auto"
    batches: int | None = Field(
        None,
        ge=1,
        description="Latest batch files held out (default: the latest one, and earlier ones "
        "while they hold under half of training.holdout_fraction of the rows).",
    )


CandidateName = Literal["logistic_regression", "ridge", "random_forest", "hist_gradient_boosting"]

# Distributions a custom candidate's `search` may draw from: {name: [low, high]} (scipy's
# meaning: loguniform and uniform on [low, high], randint on low..high-1), or a list of choices.
DISTRIBUTIONS = ("loguniform", "uniform", "randint")


def _distribution_error(spec: Any) -> str | None:
    """What is wrong with one search entry, or None when it is a usable distribution."""
    if isinstance(spec, list):
        return None if spec else "an empty list of choices"
    if not isinstance(spec, dict) or len(spec) != 1:
        return (
            f"{spec!r} is not a distribution: give a list of choices or one of "
            f"{{loguniform|uniform|randint: [low, high]}}"
        )
    (kind, bounds), *_ = spec.items()
    if kind not in DISTRIBUTIONS:
        return f"unknown distribution '{kind}'; one of {list(DISTRIBUTIONS)} or a list of choices"
    numbers = isinstance(bounds, list) and len(bounds) == 2
    numbers = numbers and all(
        isinstance(b, int | float) and not isinstance(b, bool) for b in bounds
    )
    if not numbers:
        return f"{kind} takes [low, high], two numbers; got {bounds!r}"
    low, high = bounds
    if kind == "randint" and not all(isinstance(b, int) for b in bounds):
        return f"randint takes two integers; got {bounds!r}"
    if not low < high:
        return f"{kind}: low {low} must be below high {high}"
    if kind == "loguniform" and low <= 0:
        return f"loguniform: low {low} must be above 0"
    return None


class CustomCandidate(Section):
    """An estimator of the user's choosing, by import path, with fixed `params` and a `search`
    space over its parameters. Checked when the config loads: the import, the parameter
    names, and that it fits the task (see `driftline.core.estimators.check_custom`)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    estimator: str = Field(description="Import path of the class, e.g. sklearn.svm.SVC.")
    params: dict[str, Any] = Field(default_factory=dict)
    search: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _distributions(self) -> CustomCandidate:
        for key, spec in self.search.items():
            problem = _distribution_error(spec)
            if problem:
                raise ValueError(f"candidate '{self.name}': search.{key}: {problem}")
        return self


class Training(Section):
    candidates: list[CandidateName | CustomCandidate] | None = Field(
        None,
        min_length=1,
        description="Built-in names and custom estimators; none: the task's built-in set.",
    )
    holdout_fraction: float = Field(0.2, gt=0, lt=0.9)
    search_budget: int = Field(
        6, ge=1, description="Hyperparameter settings in the first halving round, per candidate."
    )
    time_budget_minutes: float = Field(
        1.0,
        gt=0,
        description="Wall time for all candidates' searches together; past it no new setting "
        "starts and each candidate keeps its best so far.",
    )
    cv_folds: int = Field(3, ge=2)
    seed: int = 42
    n_jobs: int = Field(2, ge=1, description="Cores shared by all candidates of one run.")
    threshold: Threshold = Field(default_factory=Threshold)
    calibration: Literal["none", "sigmoid", "isotonic"] = Field(
        "none",
        description="Calibrate a classifier's probabilities on the CV folds "
        "(CalibratedClassifierCV); none: as the estimator gives them.",
    )
    feature_selection: FeatureSelection = Field(default_factory=FeatureSelection)
    encoding: Encoding = Field(default_factory=Encoding)
    slice_columns: list[str] = Field(default_factory=list)
    reference_sample_rows: int = Field(5000, ge=100)
    primary_metric: str | None = Field(
        None,
        description="Metric the search, the choice and the change gate optimise; none: the "
        "task's (roc_auc, f1_macro, rmse).",
    )
    dask_address: str | None = Field(
        None,
        description="Dask scheduler (tcp://host:8786) to train candidates on; none: local threads.",
    )

    def custom(self, name: str) -> CustomCandidate | None:
        """The custom candidate called `name`, if the config defines one."""
        for c in self.candidates or []:
            if isinstance(c, CustomCandidate) and c.name == name:
                return c
        return None
