"""One validated configuration per project: a YAML file read into pydantic models.

Every section has defaults that work for the embedded demo, so the demo's `driftline.yaml`
only names what is particular to it. Unknown keys are errors (a typo must not be ignored),
and every error names the key and what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from driftline.core.fingerprints import digest
from driftline.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("driftline.yaml")


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
    dask_address: str | None = Field(
        None,
        description="Dask scheduler (tcp://host:8786) to train candidates on; none: local threads.",
    )


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


DriftMethod = Literal["wasserstein", "psi", "jensenshannon", "hellinger", "kl_div"]
QualityMetric = Literal["roc_auc", "accuracy", "f1", "precision", "recall"]


class FeatureDrift(_Section):
    """Per-column override; a listed column that drifts raises an alert on its own."""

    method: DriftMethod | None = None
    threshold: float | None = Field(None, gt=0)


class Window(_Section):
    """The current window: rows since the last check, or the last `hours` hours."""

    mode: Literal["since_last_check", "last_hours"] = "since_last_check"
    hours: float = Field(24, gt=0)


class Retraining(_Section):
    """What retraining trains on: reference + recent (combined), recent only, or the last rows."""

    strategy: Literal["combined", "recent", "sliding"] = "combined"
    sliding_rows: int = Field(100_000, ge=1000)
    cooldown_minutes: float = Field(30, ge=0)
    cron: str = "0 3 * * 0"


MIN_SAMPLE_ROWS = 10_000


class Monitoring(_Section):
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
    performance_floor: dict[QualityMetric, float] = Field(default_factory=lambda: {"roc_auc": 0.7})
    window: Window = Field(default_factory=Window)
    cron: str = "0 * * * *"
    retraining: Retraining = Field(default_factory=Retraining)

    @model_validator(mode="after")
    def _checks(self) -> Monitoring:
        if self.sample_rows < MIN_SAMPLE_ROWS:
            raise ValueError(f"sample_rows must be at least {MIN_SAMPLE_ROWS}")
        if self.cat_method == "wasserstein":
            raise ValueError("cat_method 'wasserstein' works on numbers only")
        return self


class Serving(_Section):
    """The prediction API: request limits, auth, hot-swap polling, log batching, traffic split."""

    max_records: int = Field(1000, ge=1, description="Records per /predict request.")
    max_body_bytes: int = Field(2_000_000, ge=1024, description="Request body size limit.")
    token_env: str = Field(
        "DRIFTLINE_API_TOKEN",
        description="Environment variable holding the bearer token; unset or empty = no auth.",
    )
    poll_seconds: float = Field(2.0, gt=0, description="How often the champion alias is checked.")
    log_flush_rows: int = Field(5000, ge=1, description="Rows per prediction-log micro-batch.")
    log_flush_seconds: float = Field(2.0, gt=0, description="Longest wait before a flush.")
    log_queue_size: int = Field(10_000, ge=1, description="Requests waiting for the log writer.")
    strategy: Literal["none", "shadow", "canary"] = "none"
    canary_share: float = Field(0.1, ge=0, le=1, description="Share answered by the challenger.")
    sticky_key: str | None = Field(
        None, description="Record field pinning an entity to one arm; default: id_column."
    )


class ProjectConfig(_Section):
    project: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        description="Lower-case letters, digits and dashes: it names artifacts and deployments.",
    )
    data: DataSource
    target: Target
    features: Features = Field(default_factory=Features)
    id_column: str | None = None
    timestamp_column: str | None = None
    expectations: Expectations
    state_dir: str = ".driftline"
    training: Training = Field(default_factory=Training)
    gates: Gates = Field(default_factory=Gates)
    serving: Serving = Field(default_factory=Serving)
    monitoring: Monitoring = Field(default_factory=Monitoring)

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

    def artifact_key(self, name: str) -> str:
        """Key of one of the project's Prefect artifacts (the project name is key-safe)."""
        return f"{self.project}-{name}"

    def fingerprint(self) -> str:
        """Hash of everything that shapes a model, for lineage and cache keys."""
        # Where training runs (dask_address) does not shape the model.
        payload = self.model_dump(
            mode="json",
            exclude={
                "base_dir": True,
                "state_dir": True,
                "serving": True,
                "monitoring": True,
                "training": {"dask_address"},
            },
        )
        return digest(payload, length=16)


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
