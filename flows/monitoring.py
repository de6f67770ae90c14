"""Monitoring: the current window against the champion's reference sample, with alerts."""

from __future__ import annotations

from prefect import flow, get_run_logger

from driftline.config import DEFAULT_CONFIG_PATH, load_config
from driftline.drift import DriftResult
from driftline.events import emit_run_failed
from driftline.registry import ModelRegistry
from tasks.monitor import alert, check, load_window, window_start


@flow(name="monitoring", on_failure=[emit_run_failed], log_prints=True)
def monitoring(
    config_path: str = str(DEFAULT_CONFIG_PATH), source: str | None = None
) -> DriftResult | None:
    """Check the current window for data drift, prediction drift and quality against the
    champion's reference sample; emit `driftline.drift.detected` /
    `driftline.performance.degraded` when a policy rule breaks. No champion: no verdict.

    Args:
        config_path: Project config file (YAML).
        source: Batch file/glob to check (default: the prediction log since the last check,
            or the last N hours, per `monitoring.window`).
    """
    logger = get_run_logger()
    cfg = load_config(config_path)
    registry = ModelRegistry.for_config(cfg)
    champion = registry.alias("champion")
    if champion is None:
        logger.warning("no champion model for '%s': nothing to compare against", cfg.project)
        return None
    since = window_start(cfg) if source is None else None
    window = load_window(cfg, source, since)
    features = champion.metadata["features"]
    result = check(
        cfg,
        registry.reference_uri(champion.version),
        window,
        list(features.get("numeric", [])),
        list(features.get("categorical", [])),
        str(champion.version),
        source=source,
        since=since,
    )
    if result.alerts:
        alert(cfg, result, str(champion.version), result.report_path)
    return result
