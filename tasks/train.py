"""Training one candidate: a seeded hyperparameter search whose fitted model is cached on disk."""

from __future__ import annotations

import time
from typing import Any

from prefect import get_run_logger, task

from driftline.core.candidates import labels, search
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
                "cv_folds",
                "seed",
                "threshold",
                "feature_selection",
                "primary_metric",
                "calibration",
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
    cfg: ProjectConfig, split: Split, schema: Schema, candidate: str, n_jobs: int
) -> TrainedCandidate:
    """Search one candidate's hyperparameters on the training set and save the refitted best.

    `n_jobs` is this candidate's share of the cores (see `cores_per_candidate`); the search
    also caps this thread's OpenMP threads to it. BLAS limits are process-wide, so a thread
    cannot set them for itself; they are left alone.
    """
    df = split.train.load()
    start = time.perf_counter()
    with sklearn_parallelism(n_jobs) as jobs:  # joblib on Dask when run by a Dask worker
        result = search(candidate, df, labels(df, cfg, schema.task), schema, cfg.training, jobs)
    fit_seconds = time.perf_counter() - start
    key = digest(fit_shapes(cfg, split, schema, candidate))
    model_path = cfg.state_path / "models-wip" / f"{candidate}-{key}" / "model.joblib"
    sha256 = save_candidate(result.model, model_path)
    threshold = "" if result.threshold is None else f", threshold {result.threshold:.3f}"
    get_run_logger().info(
        "%s: cv %s %.4f%s, %.1f s, params %s",
        candidate,
        primary_metric(cfg.training.primary_metric, schema.task),
        result.cv_score,
        threshold,
        fit_seconds,
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
    )
