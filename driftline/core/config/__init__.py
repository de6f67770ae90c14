"""One validated configuration per project: a YAML file read into pydantic models.

Every section has defaults that work for the embedded demo, so the demo's `driftline.yaml`
only names what is particular to it. Unknown keys are errors (a typo must not be ignored),
and every error names the key and what was expected.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import Field, ValidationError, model_validator

from driftline.core.config.data import DataSource, Expectations, Features, Target
from driftline.core.config.encoding import Encoding
from driftline.core.config.gates import Bound, Change, DummyGate, Gates
from driftline.core.config.monitoring import (
    MIN_SAMPLE_ROWS,
    DriftMethod,
    FeatureDrift,
    Monitoring,
    QualityMetric,
    Retraining,
    Window,
)
from driftline.core.config.section import Section
from driftline.core.config.serving import ChallengerPolicy, Serving
from driftline.core.config.tracking import Tracking
from driftline.core.config.training import (
    CandidateName,
    CustomCandidate,
    FeatureSelection,
    SplitSettings,
    Threshold,
    Training,
)
from driftline.core.fingerprints import digest
from driftline.core.task_kinds import TASK_METRICS, builtin_name_error
from driftline.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("driftline.yaml")

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "MIN_SAMPLE_ROWS",
    "Bound",
    "CandidateName",
    "ChallengerPolicy",
    "Change",
    "CustomCandidate",
    "DataSource",
    "DriftMethod",
    "DummyGate",
    "Encoding",
    "Expectations",
    "FeatureDrift",
    "FeatureSelection",
    "Features",
    "Gates",
    "Monitoring",
    "ProjectConfig",
    "QualityMetric",
    "Retraining",
    "Serving",
    "SplitSettings",
    "Target",
    "Threshold",
    "Tracking",
    "Training",
    "Window",
    "load_config",
]


class ProjectConfig(Section):
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
    split: SplitSettings = Field(default_factory=SplitSettings)
    gates: Gates | None = Field(
        None,
        description="Blessing thresholds; left out: the default gates "
        "(driftline.core.gates.default_gates); an empty mapping blesses nothing.",
    )
    serving: Serving = Field(default_factory=Serving)
    monitoring: Monitoring = Field(default_factory=Monitoring)
    tracking: Tracking = Field(default_factory=Tracking)

    # Set by load_config: the folder relative paths in the file are resolved against.
    base_dir: Path = Field(default=Path("."), exclude=True)

    def resolve(self, path: str | Path) -> Path:
        p = Path(path)
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    @model_validator(mode="after")
    def _fits_task(self) -> ProjectConfig:
        """What the task decides, checked now when target.task is set (else after inference)."""
        task = self.target.task
        metric = self.training.primary_metric
        known = TASK_METRICS[task] if task else tuple(m for ms in TASK_METRICS.values() for m in ms)
        if metric is not None and metric not in known:
            raise ValueError(
                f"training.primary_metric '{metric}' is not a metric"
                + (f" of a {task} task" if task else "")
                + f"; one of {sorted(set(known))}"
            )
        candidates = self.training.candidates or []
        if any(isinstance(c, CustomCandidate) for c in candidates):
            # Imported here: scikit-learn loads only for a config with custom estimators.
            from driftline.core.estimators import check_candidates

            check_candidates(self.training, task)
        else:
            for i, name in enumerate(candidates):
                problem = builtin_name_error(str(name), task)
                if problem:
                    raise ValueError(f"training.candidates[{i}]: {problem}")
        return self

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

    @property
    def mlflow_uri(self) -> str | None:
        """The MLflow tracking URI, a plain folder resolved against the config's folder."""
        uri = self.tracking.mlflow_uri
        if uri is None or "://" in uri or uri.startswith("sqlite:"):
            return uri
        return self.resolve(uri).as_uri()

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
                "tracking": True,
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
