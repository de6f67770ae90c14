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
from driftline.storage.report_index import ReportIndex


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
    report to `out_dir/challenger-report.json`, a page in the report index and an artifact."""
    registry = ModelRegistry.for_config(cfg)
    report = report_for(cfg, registry)
    if report is None:
        return None
    report = act_on(registry, report, cfg.serving.challenger, actor)
    folder = Path(out_dir)
    write_atomic(folder / "challenger-report.json", report.model_dump_json(indent=2))
    markdown = render.challenger_report(report)
    title = f"{report.challenger} against {report.champion}"
    page = folder / "challenger-report.html"
    write_atomic(page, render.text_page(f"{cfg.project}: challenger {title}", markdown))
    relative = ReportIndex.for_config(cfg).add("challenger", report.recommendation, title, page)
    create_markdown_artifact(
        key=cfg.artifact_key("challenger-report"),
        markdown=f"{markdown}\n\nReport: `{relative}` in the state folder",
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
