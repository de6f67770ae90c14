"""Monitoring: pick the current window, check it against the champion's reference, alert.

Every check appends one row to `<state>/monitoring/<project>/history.parquet`; the next
check's window starts where the last check with a verdict ended (a window too small to
judge is looked at again, with the rows that arrive after it).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from driftline import events
from driftline.config import ProjectConfig
from driftline.datasets import DatasetRef, discover_sources, read_sources, write_dataset
from driftline.drift import DriftResult, check_drift
from driftline.lineage import PREDICTION_COLUMN
from driftline.runs import run_dir
from driftline.serving.predlog import log_root, read_feedback, read_prediction_log

LOG_TIME_COLUMN = "ts"


def history_path(cfg: ProjectConfig) -> Path:
    return cfg.state_path / "monitoring" / cfg.project / "history.parquet"


def read_history(cfg: ProjectConfig) -> pd.DataFrame:
    path = history_path(cfg)
    return pd.read_parquet(path) if path.exists() else pd.DataFrame()


def window_start(cfg: ProjectConfig, now: datetime | None = None) -> datetime | None:
    """Where the next window starts under `monitoring.window` (None: from the beginning)."""
    window = cfg.monitoring.window
    now = now or datetime.now(UTC)
    if window.mode == "last_hours":
        return now - timedelta(hours=window.hours)
    history = read_history(cfg)
    if history.empty:
        return None
    ends = history.loc[history["verdict"], "window_end"].dropna()
    return None if ends.empty else ends.max().to_pydatetime()


def _time_column(cfg: ProjectConfig, source: str | None) -> str | None:
    return LOG_TIME_COLUMN if source is None else cfg.timestamp_column


def _windows_folder(cfg: ProjectConfig) -> Path:
    return cfg.state_path / "monitoring" / cfg.project / "windows"


@task(name="load-window", cache_policy=NO_CACHE)
def load_window(cfg: ProjectConfig, source: str | None, since: datetime | None) -> DatasetRef:
    """The current window as a Parquet dataset: a batch file/glob, or the prediction log.

    From the log: the served rows after `since`, with their fed-back label (if any) in the
    target column. From files: the rows read as ingestion reads them, after `since` when the
    project has a timestamp column.
    """
    if source is None:
        root = log_root(cfg)
        df = read_prediction_log(root, since)
        if "served" in df.columns and len(df):
            df = df[df["served"].astype(bool)]
        if since is not None and len(df):
            df = df[df[LOG_TIME_COLUMN] > pd.Timestamp(since)]
        labels = read_feedback(root)[["request_id", "true_label"]]
        df = df.merge(labels, on="request_id", how="left").rename(
            columns={"true_label": cfg.target.column}
        )
        sources = [root]
    else:
        sources = discover_sources(cfg.resolve(source))
        df, _ = read_sources(cfg, sources)
        if since is not None and cfg.timestamp_column:
            df = df[df[cfg.timestamp_column] > pd.Timestamp(since)]
    return write_dataset(df.reset_index(drop=True), _windows_folder(cfg), sources)


def _summary(result: DriftResult, model_version: str) -> str:
    rows = result.rows
    lines = [
        f"## Drift check of model version `{model_version}`",
        "",
        f"**{result.reason}**"
        + (f"; drift share {result.drift_share:.0%}" if result.verdict else ""),
        "",
        f"Window: {result.window_start or 'start'} → {result.window_end or 'now'}. "
        f"Rows: reference {rows.reference:,} (sampled {rows.reference_sampled:,}), "
        f"current {rows.current:,} (sampled {rows.current_sampled:,}), "
        f"labelled {rows.labelled:,}.",
        "",
    ]
    if result.alerts:
        lines += ["### Alerts", *[f"- **{a.rule}**: {a.message}" for a in result.alerts], ""]
    if result.columns:
        lines += ["| column | method | score | threshold | drifted |", "|---|---|---|---|---|"]
        shown = [*result.columns, *([result.prediction_drift] if result.prediction_drift else [])]
        for c in sorted(shown, key=lambda c: -c.score / c.threshold):
            mark = "**yes**" if c.drifted else "no"
            lines.append(f"| {c.column} | {c.method} | {c.score:.4f} | {c.threshold} | {mark} |")
        lines.append("")
    if result.quality:
        lines += ["### Quality", *[f"- {k}: {v:.4f}" for k, v in result.quality.items()]]
    lines.append(f"Quality: {result.quality_note}.")
    return "\n".join(lines)


def _append_history(cfg: ProjectConfig, result: DriftResult, model_version: str) -> None:
    row = {
        "checked_at": pd.Timestamp.now(tz=UTC),
        "model_version": model_version,
        "window_start": pd.Timestamp(result.window_start) if result.window_start else pd.NaT,
        "window_end": pd.Timestamp(result.window_end) if result.window_end else pd.NaT,
        "verdict": result.verdict,
        "rows_reference": result.rows.reference,
        "rows_current": result.rows.current,
        "rows_reference_sampled": result.rows.reference_sampled,
        "rows_current_sampled": result.rows.current_sampled,
        "rows_labelled": result.rows.labelled,
        "drift_share": result.drift_share,
        "dataset_drift": result.dataset_drift,
        "drifted_columns": json.dumps(result.drifted_columns),
        "quality": json.dumps(result.quality),
        "alerts": json.dumps([a.rule for a in result.alerts]),
        "report_path": result.report_path or "",
    }
    new = pd.DataFrame([row])
    for col in ("window_start", "window_end"):
        new[col] = pd.to_datetime(new[col], utc=True)
    history = read_history(cfg)
    table = pd.concat([history, new], ignore_index=True) if len(history) else new
    path = history_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    table.to_parquet(tmp, index=False)
    tmp.replace(path)


def _span(df: pd.DataFrame, column: str | None) -> tuple[datetime | None, datetime | None]:
    if column is None or column not in df.columns or df[column].isna().all():
        return None, None
    ts = pd.to_datetime(df[column], utc=True)
    return ts.min().to_pydatetime(), ts.max().to_pydatetime()


@task(name="drift-check", cache_policy=NO_CACHE)
def check(
    cfg: ProjectConfig,
    reference_uri: str,
    window: DatasetRef,
    numeric: list[str],
    categorical: list[str],
    model_version: str,
    source: str | None = None,
    since: datetime | None = None,
) -> DriftResult:
    """Check the window against the reference; write the reports, artifacts and history row."""
    logger = get_run_logger()
    reference = pd.read_parquet(reference_uri)
    current = window.load()
    result, report = check_drift(
        reference,
        current,
        numeric,
        categorical,
        cfg.monitoring,
        prediction_column=PREDICTION_COLUMN,
        target_column=cfg.target.column,
        positive_label=cfg.target.positive_label,
    )
    first, last = _span(current, _time_column(cfg, source))
    update: dict[str, Any] = {"window_start": since or first, "window_end": last}
    if result.verdict:
        folder = run_dir(cfg.state_path) / "monitoring"
        html = folder / "drift-report.html"
        report.save_html(html)
        update["report_path"] = str(html)
        result = result.model_copy(update=update)
        payload = {"result": result.model_dump(mode="json"), "evidently": report.json_dict()}
        (folder / "drift-report.json").write_text(json.dumps(payload, default=str))
        create_link_artifact(
            key=cfg.artifact_key("drift-report"),
            link=html.resolve().as_uri(),
            link_text=f"Evidently drift report ({result.reason})",
        )
    else:
        result = result.model_copy(update=update)
    create_markdown_artifact(
        key=cfg.artifact_key("drift-check"),
        markdown=_summary(result, model_version),
        description=f"Drift check: {result.reason}",
    )
    _append_history(cfg, result, model_version)
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
