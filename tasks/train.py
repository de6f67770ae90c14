"""Training one candidate: a seeded hyperparameter search whose fitted model is cached on disk."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import joblib
from prefect import get_run_logger, task
from prefect.cache_policies import TASK_SOURCE, CacheKeyFnPolicy
from prefect.context import TaskRunContext
from pydantic import BaseModel

from driftline.candidates import labels, search
from driftline.config import ProjectConfig
from driftline.datasets import Schema
from driftline.runners import sklearn_parallelism
from tasks.retry import retry_on_io
from tasks.split import Split


class TrainedCandidate(BaseModel):
    """A fitted candidate: where its pipeline is, how it was chosen, and its threshold."""

    name: str
    model_path: str
    params: dict[str, Any]
    cv_score: float
    threshold: float
    fit_seconds: float


def cores_per_candidate(n_jobs: int, n_candidates: int) -> int:
    """Cores for each of `n_candidates` searches running at once (at least one each)."""
    return max(1, n_jobs // max(1, n_candidates))


def fit_key(cfg: ProjectConfig, split: Split, schema: Schema, candidate: str) -> str:
    """Hash of what shapes a fit: data, schema, target, candidate and the search settings.

    Narrower than hashing all inputs on purpose: gate, monitoring or serving settings and
    `n_jobs` do not change a fit, so changing them must not throw completed fits away.
    """
    settings = {
        "train": [split.train.path, split.train.fingerprint],
        "schema": schema.model_dump(mode="json"),
        "target": cfg.target.model_dump(mode="json"),
        "candidate": candidate,
        "training": cfg.training.model_dump(
            mode="json",
            include={"search_budget", "cv_folds", "seed", "threshold", "feature_selection"},
        ),
    }
    blob = json.dumps(settings, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def _train_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    p = parameters
    return f"train-{p['candidate']}-{fit_key(p['cfg'], p['split'], p['schema'], p['candidate'])}"


def _dump_atomic(obj: Any, target: Path) -> None:
    """joblib.dump to a temporary file, then rename: a crash never leaves half a model."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    os.close(fd)
    try:
        joblib.dump(obj, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@task(
    name="train-candidate",
    task_run_name="train-{candidate}",
    retries=1,
    retry_delay_seconds=2,
    retry_condition_fn=retry_on_io,
    cache_policy=TASK_SOURCE + CacheKeyFnPolicy(cache_key_fn=_train_key),
    persist_result=True,
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
        result = search(candidate, df, labels(df, cfg), schema, cfg.training, jobs)
    fit_seconds = time.perf_counter() - start
    key = fit_key(cfg, split, schema, candidate)
    model_path = cfg.state_path / "models-wip" / f"{candidate}-{key}" / "model.joblib"
    _dump_atomic(result.model, model_path)
    get_run_logger().info(
        "%s: cv roc_auc %.4f, threshold %.3f, %.1f s, params %s",
        candidate,
        result.cv_score,
        result.threshold,
        fit_seconds,
        result.params,
    )
    return TrainedCandidate(
        name=candidate,
        model_path=str(model_path),
        params=result.params,
        cv_score=result.cv_score,
        threshold=result.threshold,
        fit_seconds=fit_seconds,
    )
