"""The blessing gate as a task: the verdict is stored in the run folder and shown as an artifact."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from driftline.core.atomic import write_atomic
from driftline.core.config import Gates
from driftline.core.contracts import Blessing, EvaluationRecord
from driftline.core.gates import bless


@task(name="gate", cache_policy=NO_CACHE)
def gate(
    gates: Gates,
    candidate: EvaluationRecord,
    baseline: EvaluationRecord | None,
    candidate_id: str,
    baseline_id: str | None,
    out_dir: str,
    artifact_key: str,
    dummy: EvaluationRecord | None = None,
    holdout: str | None = None,
) -> Blessing:
    """Bless or reject the candidate against the gates, the champion's scores and the dummy
    baseline's (`dummy`); the verdict, with how the holdout was drawn (`holdout`), goes to
    `out_dir/blessing.json` and the `artifact_key` artifact."""
    blessing = bless(
        gates,
        candidate.metrics,
        baseline.metrics if baseline is not None else None,
        candidate_id,
        baseline_id,
        dummy.metrics if dummy is not None else None,
    ).model_copy(update={"holdout": holdout})
    write_atomic(Path(out_dir) / "blessing.json", blessing.model_dump_json(indent=2))
    create_markdown_artifact(
        key=artifact_key,
        markdown=blessing.to_markdown(),
        description=f"Blessing of {candidate.name} ({candidate_id})",
    )
    logger = get_run_logger()
    if blessing.blessed:
        logger.info("%s blessed", candidate_id)
    else:
        logger.warning("%s not blessed: %s", candidate_id, "; ".join(blessing.reasons))
    return blessing
