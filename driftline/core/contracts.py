"""Stage contracts: the typed values every task hands the next, in one place.

ingest → `Ingested` → validate → `Validation`; split → `Split` → train → `TrainedCandidate`
→ evaluate → `EvaluationRecord` → gate → `Blessing` → register/promote → `TrainingOutcome`;
monitoring → `DriftResult`; scoring → `ScoreResult`; retraining → `RetrainingOutcome`.
Large data never travels: a `DatasetRef` is a Parquet path and its fingerprint.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

if TYPE_CHECKING:  # pandas is imported where a dataset is read: the CLI starts without it
    import pandas as pd

# Data

TaskKind = Literal["binary", "multiclass", "regression"]


class Schema(BaseModel):
    """The declared types of a project's columns (features inferred when not configured),
    the task the target poses, its classes (label text; none for regression), and notes on
    what was inferred and why."""

    model_config = ConfigDict(frozen=True)

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    target: str
    id_column: str | None = None
    timestamp_column: str | None = None
    task: TaskKind = "binary"
    classes: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @property
    def columns(self) -> list[str]:
        extra = [c for c in (self.id_column, self.timestamp_column) if c]
        return [*extra, *self.features, self.target]


class DatasetRef(BaseModel):
    """A dataset written by driftline: where it is and what it is (for lineage)."""

    model_config = ConfigDict(frozen=True)

    path: str
    fingerprint: str
    rows: int
    columns: list[str]
    sources: list[str]
    batch_rows: list[int] = Field(
        default_factory=list, description="Rows per source file, in order (empty: unknown)."
    )

    def load(self, columns: list[str] | None = None) -> pd.DataFrame:
        import pandas as pd

        return pd.read_parquet(self.path, columns=columns)


class Ingested(BaseModel):
    """What ingestion hands downstream: the dataset reference, its schema and its profile."""

    dataset: DatasetRef
    table_schema: Schema
    profile_path: str
    arrival_order: bool = Field(
        False,
        description="Rows are in the order they arrived (retraining: the champion's rows, "
        "then the recent labelled ones), so the latest rows are the most recent.",
    )


class Failure(BaseModel):
    """One failed expectation, in the terms a person fixing the data needs."""

    expectation_type: str
    column: str | None
    severity: str
    unexpected_count: int | None
    examples: list[Any]
    expectation_id: str
    error: str | None = None  # GX could not evaluate it (e.g. the column is missing)

    def describe(self) -> str:
        where = f" on '{self.column}'" if self.column else ""
        if self.error:
            detail = f"could not be evaluated: {self.error}"
        elif self.unexpected_count is not None:
            detail = f"{self.unexpected_count} unexpected value(s), e.g. {self.examples}"
        else:
            detail = "observed " + ", ".join(str(e) for e in self.examples)
        return f"{self.expectation_type}{where} [{self.severity}]: {detail}"


class ValidationReport(BaseModel):
    """The outcome of validating one table: pass/fail by severity, failures, GX's own result."""

    suite: str
    success: bool
    evaluated: int
    failures: list[Failure]
    result: dict[str, Any]
    docs_path: str | None = None

    @property
    def critical(self) -> list[Failure]:
        return [f for f in self.failures if f.severity == "critical"]

    @property
    def summary_line(self) -> str:
        verdict = "passed" if self.success else "FAILED"
        met = self.evaluated - len(self.failures)
        line = (
            f"{verdict}: suite '{self.suite}', {met}/{self.evaluated} expectations met, "
            f"{len(self.critical)} critical failure(s), "
            f"{len(self.failures) - len(self.critical)} warning/info failure(s)"
        )
        if self.failures:
            line += "; first: " + self.failures[0].describe()
        return line


class Validation(BaseModel):
    """What validation hands downstream: the verdict, the failures and where the reports are."""

    suite: str
    success: bool
    summary_line: str
    failures: list[Failure]
    result_path: str
    docs_path: str | None


class IngestAndValidateResult(BaseModel):
    ingested: Ingested
    validation: Validation


# Per side (train, holdout): the share of each class of the target, or (regression) its
# mean, std, min, 50% and max. Split and ModelMetadata both carry it.
TargetBalance = Annotated[
    dict[str, dict[str, float]],
    Field(description="Per side (train, holdout): the target's class shares or its spread."),
]


SplitStrategy = Literal["random", "time", "latest_batches", "latest_rows"]


class Split(BaseModel):
    """The training set and the holdout every model of a run is scored on, and how the
    holdout was drawn: its time span (time) or its files (latest batches)."""

    train: DatasetRef
    holdout: DatasetRef
    strategy: SplitStrategy
    time_cutoff: str | None = None
    holdout_start: str | None = None
    holdout_end: str | None = None
    holdout_files: list[str] = Field(default_factory=list)
    target_balance: TargetBalance = Field(default_factory=dict)

    def describe(self) -> str:
        """One line for the run log, the blessing and the card."""
        return describe_holdout(
            self.strategy,
            self.holdout.rows,
            self.train.rows,
            self.holdout_start,
            self.holdout_end,
            self.holdout_files,
        )


def describe_holdout(
    strategy: str,
    holdout_rows: int,
    train_rows: int,
    start: str | None,
    end: str | None,
    files: list[str],
) -> str:
    """How a holdout was drawn, in words: strategy, rows, and its time span or files."""
    words = {
        "random": "stratified random holdout",
        "time": "out-of-time holdout (the latest rows by time)",
        "latest_batches": "out-of-time holdout (the latest batch files)",
        "latest_rows": "out-of-time holdout (the most recent labelled rows)",
    }
    line = f"{words.get(strategy, strategy)}: {holdout_rows:,} rows (training: {train_rows:,})"
    if start or end:
        line += f", {start} to {end}"
    if files:
        shown = ", ".join(Path(f).name for f in files[:5])
        line += f", from {shown}" + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    return line


# Training and evaluation


class SearchSummary(BaseModel):
    """How one candidate's hyperparameter search went against its time budget."""

    model_config = ConfigDict(frozen=True)

    budget_seconds: float = Field(description="training.time_budget_minutes, in seconds.")
    settings_planned: int = Field(description="Evaluations successive halving planned.")
    settings_tried: int
    settings_cut_off: int = Field(description="Planned evaluations the budget left out.")
    best_rows: int = Field(description="Training rows the chosen setting was scored on.")
    seconds: float = Field(description="Search, threshold and final fit, wall time.")
    encoding: str = Field("", description="The feature columns by how they were encoded.")

    @property
    def cut_short(self) -> bool:
        return self.settings_cut_off > 0

    def describe(self) -> str:
        cut = f", {self.settings_cut_off} cut off by the budget" if self.cut_short else ""
        return (
            f"{self.settings_tried}/{self.settings_planned} settings tried{cut} "
            f"in {self.seconds:.1f} s (budget {self.budget_seconds:g} s); "
            f"best scored on {self.best_rows:,} rows"
        )


class TrainedCandidate(BaseModel):
    """A fitted candidate: where its model is (and the sha256 it was written with), how it
    was chosen, and its threshold."""

    name: str
    model_path: str
    sha256: str
    params: dict[str, Any]
    cv_score: float
    threshold: float | None = Field(None, description="Binary tasks only.")
    fit_seconds: float
    search: SearchSummary | None = None


class SliceGroup(BaseModel):
    """Metrics for one group of one slice column; None where the group cannot define one."""

    column: str
    group: str
    rows: int
    base_rate: float | None = Field(None, description="Binary: share of actual positives.")
    positive_rate: float | None = Field(
        None, description="Binary: share predicted positive at the threshold."
    )
    roc_auc: float | None = None
    recall: float | None = None
    precision: float | None = None
    accuracy: float | None = Field(None, description="Multiclass.")
    f1_macro: float | None = Field(None, description="Multiclass.")
    mae: float | None = Field(None, description="Regression.")
    rmse: float | None = Field(None, description="Regression.")


class FeatureImportance(BaseModel):
    feature: str
    mean: float
    std: float


class Calibration(BaseModel):
    """How far a binary model's probabilities can be taken at their word, on the holdout:
    the Brier score, the mean probability against the positive rate, and the reliability
    curve (mean predicted probability and observed positive share per bin)."""

    brier: float
    mean_probability: float
    positive_rate: float
    curve: list[tuple[float, float]]


class EvaluationRecord(BaseModel):
    """One model scored on one holdout (of a binary, multiclass or regression task)."""

    name: str
    task: TaskKind = "binary"
    rows: int
    positives: int | None = Field(None, description="Actual positives (binary tasks).")
    threshold: float | None = Field(None, description="Decision threshold (binary tasks).")
    metrics: dict[str, float]
    classes: list[str] = Field(default_factory=list, description="Class labels, in matrix order.")
    per_class: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Multiclass: precision and recall per class."
    )
    confusion_matrix: list[list[int]] = Field(
        default_factory=list, description="Rows actual, columns predicted ([[tn, fp], [fn, tp]])."
    )
    slices: list[SliceGroup] = Field(default_factory=list)
    slice_gaps: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="Per slice column and metric: largest minus smallest group value.",
    )
    permutation_importance: list[FeatureImportance] = Field(default_factory=list)
    calibration: Calibration | None = None
    artifacts: dict[str, str] = Field(default_factory=dict, description="File name → path.")
    model_path: str | None = None


CheckKind = Literal["min", "max", "max_drop_abs", "max_drop_rel", "min_gain_abs", "beats_dummy"]


class Check(BaseModel):
    """One threshold applied to one metric."""

    metric: str
    kind: CheckKind
    threshold: float
    observed: float | None
    baseline: float | None = None
    status: Literal["passed", "failed", "skipped"]
    message: str

    @computed_field
    @property
    def passed(self) -> bool:
        return self.status == "passed"


class Blessing(BaseModel):
    """The gate's verdict on one candidate (TFX's ModelBlessing), with every check and why."""

    blessed: bool
    candidate_id: str
    baseline_id: str | None
    checks: list[Check]
    reasons: list[str]
    holdout: str | None = Field(None, description="How the holdout was drawn (Split.describe).")

    def to_markdown(self) -> str:
        verdict = "**blessed**" if self.blessed else "**not blessed**"
        against = f" against `{self.baseline_id}`" if self.baseline_id else " (no baseline)"
        lines = [f"Candidate `{self.candidate_id}`{against}: {verdict}", ""]
        if self.holdout:
            lines += [f"Holdout: {self.holdout}.", ""]
        if self.checks:
            lines += [
                "| metric | check | threshold | observed | baseline | result |",
                "|---|---|---|---|---|---|",
            ]
            lines += [
                f"| {c.metric} | {c.kind} | {c.threshold:.4g} | {_fmt(c.observed)} "
                f"| {_fmt(c.baseline)} | {c.status} |"
                for c in self.checks
            ]
        if self.reasons:
            lines += ["", "Reasons:", *(f"- {r}" for r in self.reasons)]
        return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


class TrainingOutcome(BaseModel):
    """What a training run ended with: the version it registered and what became of it."""

    project: str
    version: str
    candidate: str
    outcome: Literal["promoted", "rejected", "forced", "unchanged"]
    metrics: dict[str, float]
    baseline_version: str | None
    blessing_reasons: list[str]
    card_path: str
    report_dir: str
    report_path: str | None = None
    champion: str | None = Field(None, description="The champion when the run ended.")
    gates_note: str | None = Field(None, description="Set when the default gates applied.")
    validation: str | None = None
    data_docs: str | None = None
    warnings: list[str] = Field(default_factory=list)


class RetrainingOutcome(BaseModel):
    status: Literal["completed", "skipped"]
    reason: str
    detail: str
    training: TrainingOutcome | None = None


class ScoreResult(BaseModel):
    output: str
    rows: int
    model_version: str
    sources: list[str]
    validated: bool


# Monitoring

AlertRule = Literal[
    "drift_share",
    "per_feature",
    "prediction_drift",
    "performance_floor",
    "estimated_performance_floor",
]
# The rules about quality (measured, or estimated without labels): they emit
# `driftline.performance.degraded`; the others `driftline.drift.detected`.
PERFORMANCE_RULES = frozenset({"performance_floor", "estimated_performance_floor"})


class EstimatedMetric(BaseModel):
    """A metric estimated without labels: the value and the band it lies in (`level`)."""

    metric: str
    value: float
    lower: float
    upper: float
    level: float
    rows: int
    method: str = "cbpe"


class ColumnDrift(BaseModel):
    """One column's drift: a distance and the threshold it was held to (drift if score >= it)."""

    column: str
    kind: Literal["numeric", "categorical"]
    method: str
    threshold: float
    score: float
    drifted: bool
    override: bool = False


class Rows(BaseModel):
    """Rows per side before/after sampling; `labelled`: sampled current rows with a label."""

    reference: int
    current: int
    reference_sampled: int
    current_sampled: int
    labelled: int = 0


class Alert(BaseModel):
    rule: AlertRule
    message: str


class DriftResult(BaseModel):
    """The verdict of one check; `verdict` is False when the window was too small to judge."""

    verdict: bool
    reason: str
    columns: list[ColumnDrift]
    drifted_columns: list[str]
    drift_share: float
    dataset_drift: bool
    prediction_drift: ColumnDrift | None
    target_drift: ColumnDrift | None = None
    quality: dict[str, float]
    quality_note: str
    rows: Rows
    alerts: list[Alert]
    estimated: list[EstimatedMetric] = Field(
        default_factory=list, description="Label-free estimates of the window's quality (CBPE)."
    )
    estimate_note: str = "not computed"
    challenger: ChallengerReport | None = Field(
        None, description="When a challenger is served: its report on labelled traffic."
    )
    # Set by the monitoring task: the window's time span and where the report was written.
    window_start: datetime | None = None
    window_end: datetime | None = None
    report_path: str | None = None

    @property
    def drift_alert(self) -> bool:
        return any(a.rule not in PERFORMANCE_RULES for a in self.alerts)

    @property
    def performance_alert(self) -> bool:
        return any(a.rule in PERFORMANCE_RULES for a in self.alerts)


# Challenger verdicts (shadow and canary traffic)

Verdict = Literal["better", "worse", "undecided"]
Recommendation = Literal["promote", "keep", "need more data"]


class ArmComparison(BaseModel):
    """The challenger against the champion on one metric (difference = challenger - champion)."""

    metric: str
    champion: float
    challenger: float
    difference: float
    ci_low: float
    ci_high: float
    level: float
    p_value: float
    test: str
    labelled: dict[str, int]
    labels_needed: int | None
    verdict: Verdict


class ChallengerReport(BaseModel):
    """What labelled shadow or canary traffic says of the challenger, and what was done."""

    project: str
    champion: str
    challenger: str
    mode: Literal["shadow", "canary"]
    quality: dict[str, dict[str, float]] = Field(
        description="Per arm (champion, challenger): metrics on its labelled rows."
    )
    comparison: ArmComparison | None = Field(
        None, description="None while an arm has too few labelled rows to compare."
    )
    recommendation: Recommendation
    explanation: str
    action: Literal["none", "promoted", "rolled back"] = "none"
    action_note: str = ""


DriftResult.model_rebuild()  # its `challenger` field names ChallengerReport, defined above
