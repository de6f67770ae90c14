"""The project's monitoring dashboard: an Evidently workspace in `<state>/evidently/`.

One Evidently project per driftline project. Every monitoring check with a verdict adds its
drift snapshot (a `ValueDrift` per column and for the prediction), its quality snapshot on
the labelled rows, and a summary snapshot (share of drifted columns, prediction mean and
quantiles); every training run adds the summary of its reference sample. The panels are
rebuilt from what the snapshots hold (the columns checked, the quality metrics computed),
so no task's metric is named here. `evidently ui --workspace <state>/evidently` serves it
(`driftline ui`), and picks up new snapshots while it runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from driftline.core.config import ProjectConfig
from driftline.core.config.tracking import DASHBOARD_PORT
from driftline.core.contracts import DriftResult, TaskKind

if TYPE_CHECKING:
    from evidently.core.report import Snapshot
    from evidently.sdk.models import DashboardPanelPlot
    from evidently.ui.workspace import Project, Workspace

    from driftline.core.drift import DriftReport
    from driftline.storage.registry import ModelRegistry

# The summary snapshot's columns: a flag per checked feature (its mean is the drifted
# share, in %) and the prediction's quantiles shown next to its mean.
DRIFTED_FLAG = "drifted"
QUANTILES = (0.1, 0.5, 0.9)
QUALITY_PANEL = "Realised quality on labelled windows"
ESTIMATE_PANEL = "Label-free quality estimate"
ESTIMATE_PARTS = ("value", "lower", "upper")
METRIC_PREFIX = "evidently:metric_v2:"


class Dashboard:
    """The Evidently project of one driftline project, its snapshots and its panels."""

    def __init__(self, folder: Path, project: str, prediction_column: str) -> None:
        self.folder = folder
        self.project_name = project
        self.prediction_column = prediction_column

    @property
    def reference_column(self) -> str:
        """The training reference's predictions, a line of their own next to the live ones."""
        return f"{self.prediction_column} (training reference)"

    @classmethod
    def for_config(cls, cfg: ProjectConfig, task: TaskKind) -> Dashboard:
        """The project's dashboard; `task` names the prediction column (a probability, a
        class or a value)."""
        from driftline.core.scoring import prediction_column

        return cls(cfg.state_path / "evidently", cfg.project, prediction_column(task))

    def _workspace(self) -> Workspace:
        from evidently.ui.workspace import Workspace

        self.folder.mkdir(parents=True, exist_ok=True)
        return Workspace.create(str(self.folder))

    def project(self, ws: Workspace) -> Project:
        """The Evidently project named after the driftline project (created on first use)."""
        found = ws.search_project(self.project_name)
        if found:
            return found[0]
        project = ws.create_project(self.project_name)
        project.description = f"driftline project {self.project_name}: monitoring over time"
        project.save()
        return project

    def add_check(
        self,
        result: DriftResult,
        report: DriftReport,
        current: pd.DataFrame,
        model_version: str,
        promotions: list[str],
    ) -> None:
        """Add one check's snapshots (drift, quality, summary) and rebuild the panels."""
        if report.drift is None:
            return  # no verdict: nothing was measured
        ws = self._workspace()
        project = self.project(ws)
        tags = ["check", model_version]
        meta = {"model_version": model_version, "reason": result.reason}
        # 100 per drifted feature: the mean is a percentage (the UI's axis rounds to integers)
        flags = pd.DataFrame({DRIFTED_FLAG: [100.0 * c.drifted for c in result.columns]})
        summary = self._summary(flags, current, tags, meta, estimates=_estimate_values(result))
        for name, snap in (
            ("drift", report.drift),
            ("quality", report.quality),
            ("summary", summary),
        ):
            if snap is not None:
                ws.add_run(project.id, snap, name=f"{name} of {model_version}: {result.reason}")
        quality = _metric_types([report.quality]) if report.quality is not None else []
        estimated = [e.metric for e in result.estimated]
        columns = [c.column for c in result.columns]
        self._panels(ws, project, columns, quality, promotions, estimated)

    def add_reference(self, version: str, reference: pd.DataFrame, promotions: list[str]) -> None:
        """Add a training run's reference sample (prediction mean and quantiles) as a snapshot."""
        ws = self._workspace()
        project = self.project(ws)
        meta = {"model_version": version, "reason": "trained"}
        snap = self._summary(None, reference, ["reference", version], meta, self.reference_column)
        if snap is not None:
            ws.add_run(project.id, snap, name=f"reference {version}")
        self._panels(ws, project, [], [], promotions)

    def refresh(self, promotions: list[str]) -> None:
        """Rebuild the panels (the promotion list changes on every promotion and rollback)."""
        ws = self._workspace()
        self._panels(ws, self.project(ws), [], [], promotions)

    def _summary(
        self,
        flags: pd.DataFrame | None,
        data: pd.DataFrame,
        tags: list[str],
        meta: dict[str, Any],
        column: str | None = None,
        estimates: dict[str, float] | None = None,
    ) -> Snapshot | None:
        """Evidently's own metrics over the drift flags and the predictions of one window
        (named `column`: the UI keys a line by metric and column, not by tag).

        `estimates` (label-free, CBPE) are driftline's numbers, not Evidently's: each is carried
        as a one-value column whose `MeanValue` is the number, because Evidently's UI plots
        only metrics of its snapshots."""
        from evidently import DataDefinition, Dataset, Report
        from evidently.metrics import MeanValue, QuantileValue

        frame = pd.DataFrame(index=range(max(len(data), 0 if flags is None else len(flags))))
        metrics: list[Any] = []
        if flags is not None and len(flags):
            frame[DRIFTED_FLAG] = pd.Series(flags[DRIFTED_FLAG].to_numpy())
            metrics.append(MeanValue(column=DRIFTED_FLAG))
        pred = data.get(self.prediction_column)
        if pred is not None and pd.api.types.is_numeric_dtype(pred) and pred.notna().any():
            name = column or self.prediction_column
            frame[name] = pd.Series(pred.to_numpy(dtype=float))
            metrics.append(MeanValue(column=name))
            metrics += [QuantileValue(column=name, quantile=q) for q in QUANTILES]
        for name, value in (estimates or {}).items():
            frame[name] = pd.Series([value], dtype=float)
            metrics.append(MeanValue(column=name))
        if not metrics:
            return None
        definition = DataDefinition(numerical_columns=list(frame.columns))
        return Report(metrics).run(
            current_data=Dataset.from_pandas(frame, data_definition=definition),
            reference_data=None,
            # Evidently stamps its own snapshots with naive local time, and its UI cannot
            # order naive and aware timestamps together: the summary is stamped alike.
            timestamp=datetime.now(),
            tags=tags,
            metadata=meta,
        )

    def _panels(
        self,
        ws: Workspace,
        project: Project,
        columns: list[str],
        quality: list[str],
        promotions: list[str],
        estimated: list[str] | None = None,
    ) -> None:
        """Write the dashboard: the panels of earlier checks kept, these checks' added."""
        from evidently.sdk.models import DashboardModel, DashboardTabModel

        old = ws.get_dashboard(project.id)
        columns = _merge(_labels(old.panels, "Drift score per column", "column"), columns)
        quality = _merge(_labels(old.panels, QUALITY_PANEL, "metric"), quality)
        bands = [estimate_column(m, part) for m in estimated or [] for part in ESTIMATE_PARTS]
        bands = _merge(_labels(old.panels, ESTIMATE_PANEL, "column"), bands)
        panels = panel_set(
            self.prediction_column, self.reference_column, columns, quality, promotions, bands
        )
        tab = DashboardTabModel(title="Monitoring", panels=[p.id for p in panels])
        ws.save_dashboard(project.id, DashboardModel(tabs=[tab], panels=panels))


def panel_set(
    prediction: str,
    reference: str,
    columns: list[str],
    quality: list[str],
    promotions: list[str],
    estimates: list[str] | None = None,
) -> list[DashboardPanelPlot]:
    """The dashboard's panels, each over time (`quality`: Evidently metric type names)."""
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import line_plot_panel, text_panel

    def metric(name: str, legend: str, **labels: str) -> PanelMetric:
        return PanelMetric(legend=legend, metric=name, metric_labels=labels)

    quantiles = [
        metric("QuantileValue", f"live q{q:g}", column=prediction, quantile=str(q))
        for q in QUANTILES
    ]
    panels = [
        line_plot_panel(
            "Share of drifted columns",
            [metric("MeanValue", "% of features drifted", column=DRIFTED_FLAG)],
            "per check: drifted features / features checked, in %",
            size="half",
        ),
        line_plot_panel(
            "Prediction drift score",
            [metric("ValueDrift", "prediction", column=prediction)],
            "distance between live and reference predictions",
            size="half",
        ),
        line_plot_panel(
            "Drift score per column",
            [metric("ValueDrift", c, column=c) for c in columns],
            "one line per feature; a feature drifts at or above its threshold",
        ),
        line_plot_panel(
            "Prediction mean and distribution",
            [
                metric("MeanValue", "live mean", column=prediction),
                metric("MeanValue", "training reference mean", column=reference),
                *quantiles,
            ],
            "live windows and each training run's reference sample",
        ),
        line_plot_panel(
            QUALITY_PANEL,
            [metric(name, name) for name in quality],
            "measured on the window's rows with fed-back labels",
        ),
        *(
            [
                line_plot_panel(
                    ESTIMATE_PANEL,
                    [metric("MeanValue", c, column=c) for c in estimates],
                    "estimated without labels (CBPE), with its confidence band",
                )
            ]
            if estimates
            else []
        ),
        text_panel(
            "Promotions",
            "; ".join(promotions) if promotions else "no champion promoted yet",
        ),
    ]
    return panels


def estimate_column(metric: str, part: str) -> str:
    """The summary column of one estimated metric's value or band edge."""
    return f"estimated {metric}" if part == "value" else f"estimated {metric} ({part})"


def _estimate_values(result: DriftResult) -> dict[str, float]:
    return {
        estimate_column(e.metric, part): float(getattr(e, part))
        for e in result.estimated
        for part in ESTIMATE_PARTS
    }


def _metric_types(snapshots: Iterable[Snapshot]) -> list[str]:
    names: list[str] = []
    for snap in snapshots:
        for entry in snap.dict()["metrics"]:
            name = entry["config"]["type"].removeprefix(METRIC_PREFIX)
            if name not in names:
                names.append(name)
    return names


def _labels(panels: list[DashboardPanelPlot], title: str, key: str) -> list[str]:
    """What an existing panel shows: its columns (`column`) or its metric types (`metric`)."""
    found: list[str] = []
    for panel in panels:
        if panel.title == title:
            for value in panel.values:
                name = value.metric_labels.get("column") if key == "column" else value.metric
                if name:
                    found.append(name.removeprefix(METRIC_PREFIX))
    return found


def _merge(old: list[str], new: list[str]) -> list[str]:
    return [*old, *(n for n in new if n not in old)]


def champion_task(registry: ModelRegistry) -> TaskKind:
    """The task of the project's models (the champion's; binary before there is one)."""
    from driftline.storage.registry import CHAMPION

    champion = registry.alias(CHAMPION)
    return champion.metadata.table_schema.task if champion else "binary"


def promotion_lines(audit: list[dict[str, Any]], limit: int = 20) -> list[str]:
    """The champion's moves, newest first: `time: from → to (action: reason)`."""
    moves = [e for e in audit if e.get("alias") == "champion"]
    return [
        f"{str(e.get('time', ''))[:16].replace('T', ' ')} {e.get('from') or '—'} → "
        f"{e.get('to') or '—'} ({e.get('action')})"
        for e in reversed(moves[-limit:])
    ]


def where_to_look(cfg: ProjectConfig) -> str:
    """The Markdown lines a Prefect artifact ends with: the dashboard and the report index,
    as a person on any machine can open them (paths inside the project's state folder)."""
    index = Path("reports") / cfg.project / "index.html"
    return (
        f"\n\nOver time: the dashboard (`driftline ui`, http://127.0.0.1:{DASHBOARD_PORT}, "
        f"the Evidently project `{cfg.project}`).\n"
        f"Every report: `{index.as_posix()}` in the state folder `{cfg.state_dir}`."
    )
