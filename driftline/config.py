"""One validated configuration per project: a YAML file read into pydantic models.

Every section has defaults that work for the embedded demo, so the demo's `driftline.yaml`
only names what is particular to it. Unknown keys are errors (a typo must not be ignored),
and every error names the key and what was expected.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_CONFIG_PATH = Path("driftline.yaml")


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the file and the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSource(_Section):
    """Where the raw batches are: one file, a glob, or a folder of CSV/Parquet files."""

    source: str = Field(description="File, glob or folder, relative to the config file.")
    format: Literal["auto", "csv", "parquet"] = "auto"


class Target(_Section):
    column: str
    positive_label: str | int | bool = 1


class Features(_Section):
    """Feature columns by kind; both empty means: infer from the data (numbers are numeric)."""

    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _disjoint(self) -> Features:
        both = set(self.numeric) & set(self.categorical)
        if both:
            raise ValueError(f"columns listed as both numeric and categorical: {sorted(both)}")
        return self


class Expectations(_Section):
    suite: str = Field(description="Name of expectations/<suite>.json.")
    directory: str = "expectations"


class Threshold(_Section):
    """Decision threshold: fixed, or the best F1 on cross-validation folds (never the holdout)."""

    strategy: Literal["fixed", "best_f1"] = "best_f1"
    value: float = Field(0.5, gt=0, lt=1)


class FeatureSelection(_Section):
    method: Literal["none", "k_best"] = "none"
    k: int = Field(10, ge=1)


CandidateName = Literal["logistic_regression", "random_forest", "hist_gradient_boosting"]


class Training(_Section):
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


class Bound(_Section):
    """Value threshold: the metric must lie within [min, max]."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _some_bound(self) -> Bound:
        if self.min is None and self.max is None:
            raise ValueError("give 'min', 'max' or both")
        return self


class Change(_Section):
    """Change threshold against the champion, TFX style.

    direction 'higher' means higher is better: the candidate may fall below the champion by
    at most `max_drop_abs` (absolute) and/or `max_drop_rel` (relative); `min_gain_abs`
    asks for a real improvement. 'lower' mirrors all of this.
    """

    direction: Literal["higher", "lower"] = "higher"
    max_drop_abs: float | None = Field(None, ge=0)
    max_drop_rel: float | None = Field(None, ge=0)
    min_gain_abs: float | None = None

    @model_validator(mode="after")
    def _some_threshold(self) -> Change:
        if self.max_drop_abs is None and self.max_drop_rel is None and self.min_gain_abs is None:
            raise ValueError("give 'max_drop_abs', 'max_drop_rel' or 'min_gain_abs'")
        return self


class Gates(_Section):
    value: dict[str, Bound] = Field(default_factory=dict)
    change: dict[str, Change] = Field(default_factory=dict)


class ProjectConfig(_Section):
    project: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    data: DataSource
    target: Target
    features: Features = Field(default_factory=Features)
    id_column: str | None = None
    timestamp_column: str | None = None
    expectations: Expectations
    state_dir: str = ".driftline"
    training: Training = Field(default_factory=Training)
    gates: Gates = Field(default_factory=Gates)

    # Set by load_config: the folder relative paths in the file are resolved against.
    base_dir: Path = Field(default=Path("."), exclude=True)

    def resolve(self, path: str | Path) -> Path:
        p = Path(path)
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    @property
    def state_path(self) -> Path:
        return self.resolve(self.state_dir)

    @property
    def suite_path(self) -> Path:
        return self.resolve(self.expectations.directory) / f"{self.expectations.suite}.json"

    def with_source(self, source: str | Path | None) -> ProjectConfig:
        """The same project pointed at other data (the CLI's `--data`)."""
        if source is None:
            return self
        data = self.data.model_copy(update={"source": str(Path(source).resolve())})
        return self.model_copy(update={"data": data})

    def fingerprint(self) -> str:
        """Hash of everything that shapes a model, for lineage and cache keys."""
        payload = self.model_dump(mode="json", exclude={"base_dir", "state_dir"})
        blob = json.dumps(payload, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _format_errors(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: invalid configuration"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  key '{key}': {e['msg']}")
    return "\n".join(lines)


def load_config(path: str | Path = DEFAULT_CONFIG_PATH) -> ProjectConfig:
    """Read and validate a project config; raise ConfigError naming the file and key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    if "base_dir" in raw:
        raise ConfigError(f"{path}: key 'base_dir' is not a setting")
    try:
        return ProjectConfig(**raw, base_dir=path.resolve().parent)
    except ValidationError as exc:
        raise ConfigError(_format_errors(path, exc)) from None
