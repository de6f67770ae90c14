"""Training on a Dask cluster when the config names a scheduler, on local threads otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_project
from prefect.task_runners import ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

from driftline.core.config import load_config
from driftline.orchestration.task_runners import sklearn_parallelism, task_runner


def test_runner_follows_the_config(tmp_path: Path) -> None:
    local = load_config(write_project(tmp_path / "local", n_rows=200))
    assert isinstance(task_runner(local), ThreadPoolTaskRunner)
    on_dask = load_config(
        write_project(tmp_path / "dask", n_rows=200, training={"dask_address": "tcp://127.0.0.1:1"})
    )
    runner = task_runner(on_dask)
    assert isinstance(runner, DaskTaskRunner)
    assert runner.address == "tcp://127.0.0.1:1"


def test_outside_a_dask_worker_sklearn_parallelism_keeps_n_jobs_on_threads() -> None:
    import os

    import joblib

    with sklearn_parallelism(3) as n_jobs:
        assert n_jobs == 3
        # The search's folds run in this process's threads, not in worker processes.
        pids = joblib.Parallel(n_jobs=2)(joblib.delayed(os.getpid)() for _ in range(2))
        assert pids == [os.getpid()] * 2


@pytest.mark.server
@pytest.mark.slow
def test_training_runs_its_candidates_on_a_local_cluster(
    prefect_server: None, tmp_path: Path
) -> None:
    from distributed import Client, LocalCluster, get_task_stream

    from flows.training import training

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        path = write_project(
            tmp_path,
            n_rows=2000,
            training={
                "candidates": ["logistic_regression", "random_forest"],
                "search_budget": 1,
                "cv_folds": 2,
                "dask_address": cluster.scheduler_address,
            },
        )
        with get_task_stream(client) as stream:
            outcome = training(config_path=str(path))
        workers = set(client.scheduler_info()["workers"])
    assert outcome.outcome == "promoted"
    assert outcome.candidate in {"logistic_regression", "random_forest"}
    names = {t["key"] if isinstance(t["key"], str) else t["key"][0] for t in stream.data}
    ran_on = {t["worker"] for t in stream.data}
    assert any("train" in name for name in names), names
    assert ran_on <= workers and ran_on, ran_on
