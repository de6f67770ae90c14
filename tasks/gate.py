"""The blessing gate as a task: the verdict is stored in the run folder and shown as an artifact."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from driftline.config import ProjectConfig
from driftline.evaluation import EvaluationRecord
from driftline.gates import Blessing, bless
from driftline.runs import run_dir


@task(name="gate", cache_policy=NO_CACHE)
def gate(
    cfg: ProjectConfig,
    candidate: EvaluationRecord,
    baseline: EvaluationRecord | None,
    candidate_id: str,
    baseline_id: str | None = None,
) -> Blessing:
    """Bless or reject the candidate against the configured gates and the champion's scores."""
    blessing = bless(
        cfg.gates,
        candidate.metrics,
        baseline.metrics if baseline is not None else None,
        candidate_id,
        baseline_id,
    )
    (run_dir(cfg.state_path) / "blessing.json").write_text(blessing.model_dump_json(indent=2))
    create_markdown_artifact(
        key=cfg.artifact_key("blessing"),
        markdown=blessing.to_markdown(),
        description=f"Blessing of {candidate.name} ({candidate_id})",
    )
    logger = get_run_logger()
    if blessing.blessed:
        logger.info("%s blessed", candidate_id)
    else:
        logger.warning("%s not blessed: %s", candidate_id, "; ".join(blessing.reasons))
    return blessing
