"""Monitoring: pick the current window, check it against the champion's reference, alert.

Every check appends one row to the project's monitoring history; the next check's window
starts where the last check with a verdict ended.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from driftline.core import render
from driftline.core.atomic import write_atomic
from driftline.core.config import ProjectConfig
from driftline.core.contracts import DatasetRef, DriftResult, Schema
from driftline.core.datasets import discover_sources, read_sources, write_dataset
from driftline.core.drift import check_drift, time_span
from driftline.core.scoring import ScoringModel, output_columns, prediction_column
from driftline.orchestration import events
from driftline.storage.dashboard import Dashboard, promotion_lines, where_to_look
from driftline.storage.monitoring_history import MonitoringHistory
from driftline.storage.prediction_log import TIME_COLUMN, log_root, read_served_window
from driftline.storage.registry import ModelRegistry
from driftline.storage.report_index import ReportIndex


@task(name="load-window", cache_policy=NO_CACHE)
def load_window(
    cfg: ProjectConfig, source: str | None, since: datetime | None, schema: Schema | None = None
) -> DatasetRef:
    """The current window as a Parquet dataset: a batch file/glob, or the prediction log.

    From the log: the served rows after `since`, with their fed-back label (if any) in the
    target column. From files: the rows read as ingestion reads them (under the champion's
    `schema` when given; the target column, when there, holds the labels, and rows may have
    none), after `since` when the project has a timestamp column.
    """
    if source is None:
        sources = [log_root(cfg)]
        df = read_served_window(sources[0], since, cfg.target.column)
        if schema is not None and schema.task == "regression":  # labels come back as text
            df[cfg.target.column] = pd.to_numeric(df[cfg.target.column], errors="coerce")
    else:
        sources = discover_sources(cfg.resolve(source))
        df, _ = read_sources(cfg, sources, schema, target_required=False)
        if since is not None and cfg.timestamp_column:
            df = df[df[cfg.timestamp_column] > pd.Timestamp(since)]
    folder = MonitoringHistory.for_config(cfg).path.parent / "windows"
    return write_dataset(df.reset_index(drop=True), folder, sources)


@task(name="score-window", cache_policy=NO_CACHE)
def score_window(window: DatasetRef, model: ScoringModel) -> DatasetRef:
    """A batch window (from `--source`) with the champion's probabilities added, so its
    quality, prediction drift and estimates are measured as on served traffic."""
    df = window.load()
    predicted = output_columns(model.predict(df[model.spec.features]), model.task)
    df = df.assign(**predicted)
    get_run_logger().info("scored the %d window rows with %s", len(df), model.name)
    return write_dataset(df, Path(window.path).parent.parent, [Path(window.path)])


@task(name="drift-check", cache_policy=NO_CACHE)
def check(
    cfg: ProjectConfig,
    reference_uri: str,
    window: DatasetRef,
    numeric: list[str],
    categorical: list[str],
    model_version: str,
    out_dir: str,
    source: str | None = None,
    since: datetime | None = None,
    schema: Schema | None = None,
    threshold: float = 0.5,
) -> DriftResult:
    """Check the window against the reference; reports go to `out_dir`, a row to the history.

    `threshold`: the champion's decision threshold, at which its labels are scored."""
    logger = get_run_logger()
    current = window.load()
    result, report = check_drift(
        pd.read_parquet(reference_uri),
        current,
        numeric,
        categorical,
        cfg.monitoring,
        prediction_column=prediction_column(schema.task if schema else "binary"),
        target_column=cfg.target.column,
        positive_label=cfg.target.positive_label,
        task=schema.task if schema else "binary",
        classes=schema.classes if schema else (),
        probas_threshold=threshold,
    )
    first, last = time_span(current, TIME_COLUMN if source is None else cfg.timestamp_column)
    update: dict[str, Any] = {"window_start": since or first, "window_end": last}
    if result.verdict:
        html = Path(out_dir) / "drift-report.html"
        report.save_html(html)
        update["report_path"] = str(html)
        result = result.model_copy(update=update)
        payload = {"result": result.model_dump(mode="json"), "evidently": report.json_dict()}
        write_atomic(html.with_suffix(".json"), json.dumps(payload, default=str))
        outcome = "alerts: " + ", ".join(a.rule for a in result.alerts) if result.alerts else "ok"
        relative = ReportIndex.for_config(cfg).add("monitoring", outcome, result.reason, html)
        create_link_artifact(
            key=cfg.artifact_key("drift-report"),
            link=html.resolve().as_uri(),
            link_text=f"Evidently drift report ({result.reason}): {relative} in the state folder",
        )
    else:
        result = result.model_copy(update=update)
    create_markdown_artifact(
        key=cfg.artifact_key("drift-check"),
        markdown=render.drift_check(result, model_version) + where_to_look(cfg),
        description=f"Drift check: {result.reason}",
    )
    MonitoringHistory.for_config(cfg).append(result, model_version, source or "")
    audit = ModelRegistry.for_config(cfg).audit_log()
    Dashboard.for_config(cfg, schema.task if schema else "binary").add_check(
        result, report, current, model_version, promotion_lines(audit)
    )
    logger.info("drift check: %s; alerts: %s", result.reason, [a.rule for a in result.alerts])
    return result


@task(name="alert", cache_policy=NO_CACHE)
def alert(
    cfg: ProjectConfig, result: DriftResult, model_version: str, report_path: str | None
) -> list[str]:
    """Emit `driftline.drift.detected` and/or `driftline.performance.degraded`; returns them."""
    payload = {
        "model_version": model_version,
        "drifted_columns": {c.column: c.score for c in result.columns if c.drifted},
        "drift_share": result.drift_share,
        "prediction_drift": result.prediction_drift.score if result.prediction_drift else None,
        "quality": result.quality,
        "estimated": [e.model_dump() for e in result.estimated],
        "alerts": [a.model_dump() for a in result.alerts],
        "window": {
            "start": result.window_start.isoformat() if result.window_start else None,
            "end": result.window_end.isoformat() if result.window_end else None,
        },
        "rows": result.rows.model_dump(),
        "report_path": report_path,
    }
    emitted = []
    if result.drift_alert:
        emitted.append(events.DRIFT_DETECTED)
    if result.performance_alert:
        emitted.append(events.PERFORMANCE_DEGRADED)
    for name in emitted:
        events.emit(name, cfg.project, payload)
    return emitted
