"""Where a training run's tasks run: a Dask cluster when the config names one, else local threads.

Prefect picks the runner per flow run (`fit_gate_promote.with_options(task_runner=...)`), so
one deployment trains locally or on a cluster depending on the project config it is given.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import joblib
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from driftline.core.config import ProjectConfig

LOCAL_WORKERS = 3


def task_runner(cfg: ProjectConfig) -> TaskRunner:
    """`DaskTaskRunner` on `training.dask_address` when set, else a local thread pool."""
    address = cfg.training.dask_address
    if address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=address)
    return ThreadPoolTaskRunner(max_workers=LOCAL_WORKERS)


def cluster_threads() -> int | None:
    """Threads of the whole Dask cluster when this code runs on a Dask worker, else None."""
    try:
        from distributed import get_worker
    except ImportError:
        return None
    try:
        worker = get_worker()
    except ValueError:
        return None
    return sum(worker.client.nthreads().values())


@contextmanager
def sklearn_parallelism(n_jobs: int) -> Iterator[int]:
    """joblib's Dask backend on a Dask worker (the search's fits spread over the cluster's
    threads, yielded as the n_jobs to use); elsewhere joblib's threads, and `n_jobs` is yielded.

    Threads, not processes, locally: on 200k rows a HistGradientBoosting search took 36 s
    with two threads, 70 s with two joblib processes (their start and the table's copies
    into them) and 47 s with none, on two busy cores.

    Hand-written because Prefect's Dask runner places tasks only: the fits inside one
    scikit-learn search are joblib's, and joblib needs its backend chosen where it runs.
    """
    threads = cluster_threads()
    if threads is None:
        with joblib.parallel_config(backend="threading"):
            yield n_jobs
        return
    # Nested joblib calls (a forest's trees) go to the cluster too: joblib's Dask backend uses
    # every cluster thread whatever n_jobs says, and batches small calls together.
    with joblib.parallel_config(backend="dask"):
        yield max(n_jobs, threads)
