"""The challenger step of monitoring: the report on labelled shadow/canary traffic, and the
configured automatic promotion or withdrawal."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from driftline.core import render
from driftline.core.atomic import write_atomic
from driftline.core.challenger_report import challenger_report
from driftline.core.config import ProjectConfig
from driftline.core.contracts import ChallengerReport
from driftline.core.task_kinds import primary_metric
from driftline.storage.prediction_log import log_root, read_labelled_log
from driftline.storage.registry import CHALLENGER, CHAMPION, ModelRegistry
from driftline.storage.registry.verdicts import act_on


def report_for(cfg: ProjectConfig, registry: ModelRegistry) -> ChallengerReport | None:
    """The report on the labelled log for the current champion and challenger (None: no
    challenger alias)."""
    aliases = registry.aliases()
    if CHALLENGER not in aliases or CHAMPION not in aliases:
        return None
    policy = cfg.serving.challenger
    task = registry.get(aliases[CHAMPION]).metadata.task
    if task != "binary":
        return ChallengerReport(
            project=cfg.project,
            champion=aliases[CHAMPION],
            challenger=aliases[CHALLENGER],
            mode="shadow" if cfg.serving.strategy == "shadow" else "canary",
            quality={},
            recommendation="need more data",
            explanation=f"live comparisons are made for binary models only; this is {task}",
        )
    return challenger_report(
        cfg.project,
        read_labelled_log(log_root(cfg)),
        aliases[CHAMPION],
        aliases[CHALLENGER],
        policy,
        policy.metric or primary_metric(cfg.training.primary_metric, task),
        cfg.training.seed,
    )


@task(name="challenger-report", cache_policy=NO_CACHE)
def challenger_step(cfg: ProjectConfig, out_dir: str, actor: str) -> ChallengerReport | None:
    """Report on the challenger, act on it as `serving.challenger` says, and write the
    report to `out_dir/challenger-report.json` and an artifact."""
    registry = ModelRegistry.for_config(cfg)
    report = report_for(cfg, registry)
    if report is None:
        return None
    report = act_on(registry, report, cfg.serving.challenger, actor)
    write_atomic(Path(out_dir) / "challenger-report.json", report.model_dump_json(indent=2))
    create_markdown_artifact(
        key=cfg.artifact_key("challenger-report"),
        markdown=render.challenger_report(report),
        description=f"{report.challenger} against {report.champion}: {report.recommendation}",
    )
    get_run_logger().info(
        "challenger %s: %s (%s)%s",
        report.challenger,
        report.recommendation,
        report.explanation,
        f"; {report.action}" if report.action != "none" else "",
    )
    return report
