"""What a registered model version carries: typed metadata, and the one reader of old registries.

`ModelMetadata` is the only way code reads a version's metadata: the training flow builds it
(`driftline.core.lineage.model_metadata`), the registry stores it, serving, scoring,
monitoring, retraining and the CLI read its fields. `upgrade` turns the flat dict that
registries written before it hold into one, so an old registry loads and serves.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from driftline.core.contracts import (
    Blessing,
    Calibration,
    Check,
    DatasetRef,
    FeatureImportance,
    Schema,
    SearchSummary,
    TargetBalance,
    TaskKind,
)

# The metrics `driftline models list` and the promotion event show side by side, per task.
KEY_METRICS: dict[TaskKind, tuple[str, ...]] = {
    "binary": ("roc_auc", "pr_auc", "f1", "log_loss"),
    "multiclass": ("f1_macro", "accuracy", "balanced_accuracy", "log_loss"),
    "regression": ("rmse", "mae", "r2", "mape"),
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CodeVersion(_Frozen):
    """The git commit of the code that built a model (when it ran from a checkout)."""

    commit: str
    dirty: bool


class Lineage(_Frozen):
    """Where a model came from (ZenML-style): the run, its trigger, the config, code, libraries.

    `code` and `libraries` are stamped by the registry when it pickles the model: unpickling
    under other library versions may fail or behave differently.
    """

    flow_run_id: str | None = None
    trigger: str = "manual"
    config_hash: str | None = None
    code: CodeVersion | None = None
    libraries: dict[str, str | None] = Field(default_factory=dict)


class ModelMetadata(_Frozen):
    """Everything recorded about one trained model: task, data, metrics, gate, lineage."""

    project: str
    candidate: str
    task: TaskKind = "binary"
    table_schema: Schema = Field(description="Target, features by kind, id/timestamp columns.")
    positive_label: str | int | bool | None = 1
    threshold: float | None = Field(
        None, description="The decision threshold inside the model (shown on the card)."
    )
    metrics: dict[str, float] = Field(default_factory=dict, description="Holdout metrics.")
    slice_gaps: dict[str, dict[str, float]] = Field(default_factory=dict)
    permutation_importance: list[FeatureImportance] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    search: SearchSummary | None = Field(None, description="How the search used its budget.")
    blessing: Blessing
    data: DatasetRef | None = Field(None, description="The whole dataset the run started from.")
    train: DatasetRef | None = None
    holdout: DatasetRef | None = None
    split_strategy: str | None = None
    time_cutoff: str | None = None
    holdout_start: str | None = None
    holdout_end: str | None = None
    holdout_files: list[str] = Field(default_factory=list)
    target_balance: TargetBalance = Field(default_factory=dict)
    fit_seconds: float | None = Field(None, description="The chosen candidate's search time.")
    lineage: Lineage = Field(default_factory=Lineage)
    warnings: list[str] = Field(
        default_factory=list, description="What the run warned of (a feature that may leak)."
    )
    calibration: Calibration | None = Field(None, description="Binary: reliability on the holdout.")
    per_class: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Multiclass: holdout precision and recall per class."
    )

    @property
    def target(self) -> str:
        return self.table_schema.target

    def key_metrics(self) -> dict[str, float | None]:
        """The task's KEY_METRICS (None where not recorded), for tables and events."""
        return {name: self.metrics.get(name) for name in KEY_METRICS[self.task]}


def upgrade(raw: dict[str, Any]) -> ModelMetadata:
    """Metadata as registries written before `ModelMetadata` stored it (one flat dict).

    Written by the training flow of that time: project, candidate, target, positive_label,
    threshold, features, schema, metrics, blessing {passed, baseline, reasons, checks},
    data/train/holdout, config_hash, trigger, flow_run_id, environment, git. Keys an older
    or hand-made record lacks get the defaults a new record would have.
    """
    features = raw.get("features") or {}
    schema = raw.get("schema") or {
        "numeric": features.get("numeric", []),
        "categorical": features.get("categorical", []),
        "target": raw.get("target", "target"),
    }
    blessing = raw.get("blessing") or {}
    git = raw.get("git")
    return ModelMetadata(
        project=raw.get("project", "model"),
        candidate=raw.get("candidate", "unknown"),
        table_schema=Schema.model_validate(schema),
        positive_label=raw.get("positive_label", 1),
        threshold=raw.get("threshold"),
        metrics=raw.get("metrics") or {},
        slice_gaps=raw.get("slice_gaps") or {},
        permutation_importance=raw.get("permutation_importance") or [],
        params=raw.get("params") or {},
        blessing=Blessing(
            blessed=bool(blessing.get("passed", raw.get("status") == "blessed")),
            candidate_id=str(raw.get("candidate", "unknown")),
            baseline_id=blessing.get("baseline"),
            checks=[Check.model_validate(c) for c in blessing.get("checks", [])],
            reasons=list(blessing.get("reasons", [])),
        ),
        data=raw.get("data"),
        train=raw.get("train"),
        holdout=raw.get("holdout"),
        lineage=Lineage(
            flow_run_id=raw.get("flow_run_id"),
            trigger=raw.get("trigger", "manual"),
            config_hash=raw.get("config_hash"),
            code=CodeVersion(**git) if git else None,
            libraries=raw.get("environment") or {},
        ),
    )
