"""Training one candidate: a seeded hyperparameter search whose fitted model is cached on disk."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.context import TaskRunContext

from driftline.core.candidates import SearchProgress, labels, search
from driftline.core.config import ProjectConfig
from driftline.core.contracts import Schema, Split, TrainedCandidate
from driftline.core.fingerprints import digest
from driftline.core.task_kinds import primary_metric
from driftline.orchestration.task_runners import sklearn_parallelism
from driftline.storage.candidate_models import save_candidate
from tasks.policies import cached_on, retry_on_io


def cores_per_candidate(n_jobs: int, n_candidates: int) -> int:
    """Cores for each of `n_candidates` searches running at once (at least one each)."""
    return max(1, n_jobs // max(1, n_candidates))


def fit_shapes(cfg: ProjectConfig, split: Split, schema: Schema, candidate: str) -> dict[str, Any]:
    """What shapes a fit: data, schema, target, candidate and the search settings.

    Gate, monitoring or serving settings and `n_jobs` do not change a fit, so changing them
    must not throw completed fits away.
    """
    custom = cfg.training.custom(candidate)
    return {
        "train": [split.train.path, split.train.fingerprint],
        "schema": schema.model_dump(mode="json"),
        "target": cfg.target.model_dump(mode="json"),
        "candidate": custom.model_dump(mode="json") if custom else candidate,
        "training": cfg.training.model_dump(
            mode="json",
            include={
                "search_budget",
                "time_budget_minutes",
                "cv_folds",
                "seed",
                "threshold",
                "feature_selection",
                "primary_metric",
                "calibration",
                "encoding",
            },
        ),
    }


def _shapes(parameters: dict[str, Any]) -> dict[str, Any]:
    p = parameters
    return fit_shapes(p["cfg"], p["split"], p["schema"], p["candidate"])


@task(
    name="train-candidate",
    task_run_name="train-{candidate}",
    retries=1,
    retry_delay_seconds=2,
    retry_condition_fn=retry_on_io,
    cache_policy=cached_on(_shapes),
    persist_result=True,
    result_serializer="json",  # read back without unpickling (as a model file is)
)
def train_candidate(
    cfg: ProjectConfig,
    split: Split,
    schema: Schema,
    candidate: str,
    n_jobs: int,
    deadline: float | None = None,
) -> TrainedCandidate:
    """Search one candidate's hyperparameters on the training set and save the refitted best.

    `n_jobs` is the cores this candidate's search uses (all of them when candidates run one
    after another; a share, `cores_per_candidate`, when they run at once); the search also
    caps this thread's OpenMP threads to it. BLAS limits are process-wide, so a thread
    cannot set them for itself; they are left alone. `deadline` (epoch seconds) is the time
    budget all candidates of the run share (default: the budget from now). Each evaluated
    setting is logged and moves the candidate's progress artifact.
    """
    df = split.train.load()
    start = time.perf_counter()
    report = _progress(cfg, candidate, primary_metric(cfg.training.primary_metric, schema.task))
    with sklearn_parallelism(n_jobs) as jobs:  # joblib on Dask when run by a Dask worker
        result = search(
            candidate,
            df,
            labels(df, cfg, schema.task),
            schema,
            cfg.training,
            jobs,
            deadline,
            report,
        )
    fit_seconds = time.perf_counter() - start
    key = digest(fit_shapes(cfg, split, schema, candidate))
    model_path = cfg.state_path / "models-wip" / f"{candidate}-{key}" / "model.joblib"
    sha256 = save_candidate(result.model, model_path)
    threshold = "" if result.threshold is None else f", threshold {result.threshold:.3f}"
    get_run_logger().info(
        "%s: cv %s %.4f%s, %s, params %s",
        candidate,
        primary_metric(cfg.training.primary_metric, schema.task),
        result.cv_score,
        threshold,
        result.summary.describe(),
        result.params,
    )
    return TrainedCandidate(
        name=candidate,
        model_path=str(model_path),
        sha256=sha256,
        params=result.params,
        cv_score=result.cv_score,
        threshold=result.threshold,
        fit_seconds=fit_seconds,
        search=result.summary,
    )


def _progress(cfg: ProjectConfig, candidate: str, metric: str) -> Callable[[SearchProgress], None]:
    """What the search calls after each setting: a log line and, in a task run, the
    candidate's progress artifact (called as a plain function, there is no run to attach to)."""
    logger = get_run_logger()
    artifact = None
    if TaskRunContext.get() is not None:
        artifact = create_progress_artifact(
            0.0,
            key=cfg.artifact_key(f"search-{candidate.replace('_', '-')}"),
            description=f"Settings of {candidate}'s hyperparameter search evaluated, of planned.",
        )

    def report(p: SearchProgress) -> None:
        logger.info(
            "%s: setting %d/%d done (%s rows): %s %.4f, best so far %.4f, %.0f s left "
            "in the time budget",
            p.candidate,
            p.done,
            p.planned,
            f"{p.rows:,}",
            metric,
            p.score,
            p.best_score,
            p.seconds_left,
        )
        if artifact is not None:
            update_progress_artifact(artifact, min(100.0, 100.0 * p.done / p.planned))

    return report
