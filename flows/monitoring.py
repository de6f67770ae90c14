"""Monitoring: the current window against the champion's reference sample, with alerts."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from driftline.core.config import DEFAULT_CONFIG_PATH, load_config
from driftline.core.contracts import DriftResult
from driftline.core.scoring import prediction_column
from driftline.orchestration.events import emit_run_failed
from driftline.orchestration.run_folders import run_dir
from driftline.storage.monitoring_history import MonitoringHistory
from driftline.storage.registry import CHAMPION, ModelRegistry
from tasks.challenger import challenger_step
from tasks.monitor import alert, check, load_window, score_window


@flow(name="monitoring", on_failure=[emit_run_failed], log_prints=True)
def monitoring(
    config_path: str = str(DEFAULT_CONFIG_PATH), source: str | None = None
) -> DriftResult | None:
    """Check the current window for data drift, prediction drift and quality against the
    champion's reference sample; emit `driftline.drift.detected` /
    `driftline.performance.degraded` when a policy rule breaks. No champion: no verdict.
    With a challenger served (shadow or canary), report on it and act as
    `serving.challenger` says.

    Args:
        config_path: Project config file (YAML).
        source: Batch file/glob to check (default: the prediction log since the last check,
            or the last N hours, per `monitoring.window`); the champion scores it, so a
            batch that carries the target column is checked for quality too.
    """
    logger = get_run_logger()
    cfg = load_config(config_path)
    registry = ModelRegistry.for_config(cfg)
    champion = registry.alias(CHAMPION)
    if champion is None:
        logger.warning("no champion model for '%s': nothing to compare against", cfg.project)
        return None
    history = MonitoringHistory.for_config(cfg)
    since = history.window_start(cfg.monitoring.window) if source is None else None
    schema = champion.metadata.table_schema
    window = load_window(cfg, source, since, schema)
    if source is not None and prediction_column(schema.task) not in window.columns:
        window = score_window(window, registry.verified(champion.version))
    result = check(
        cfg,
        registry.reference_uri(champion.version),
        window,
        list(schema.numeric),
        list(schema.categorical),
        champion.version,
        str(run_dir(cfg.state_path) / "monitoring"),
        source=source,
        since=since,
        schema=schema,
        threshold=champion.metadata.threshold or 0.5,
    )
    if result.alerts:
        alert(cfg, result, champion.version, result.report_path)
    if cfg.serving.strategy != "none":
        actor = f"flow-run:{flow_run.id}" if flow_run.id else "driftline"
        folder = str(run_dir(cfg.state_path) / "monitoring")
        result = result.model_copy(update={"challenger": challenger_step(cfg, folder, actor)})
    return result
