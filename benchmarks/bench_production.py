"""Production set-up: the server's database (SQLite vs PostgreSQL) and the training task runner
(a 2-worker Dask LocalCluster vs local threads).

Each measurement runs in its own Python process against a real `prefect server start`, so
Prefect's process-wide API clients never straddle two servers; the probe times only the flow
calls, not the imports.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.harness import Figure
from driftline.core.generator import write_batches
from driftline.orchestration.prefect_server import prefect_server
from driftline.testing.postgres import scratch_database, unreachable_reason

AREA = "production"
CONCURRENT_RUNS = 20
ROOT = Path(__file__).resolve().parents[1]


def _probe_server(n_tasks: int, tasks_per_run: int) -> dict[str, float]:
    """Per-task overhead (sequential tasks in one flow) and 20 concurrent flow runs."""
    from prefect import flow, task

    @task
    async def step(i: int) -> int:
        return i

    @flow
    async def sequential(n: int) -> float:
        start = time.perf_counter()
        for i in range(n):
            await step(i)
        return (time.perf_counter() - start) / n

    @flow
    async def concurrent_run(n: int) -> int:
        return sum([await step(i) for i in range(n)])

    async def main() -> dict[str, float]:
        await sequential(3)  # warm-up: first flow run, client set-up
        per_task = await sequential(n_tasks)
        start = time.perf_counter()
        states = await asyncio.gather(
            *[concurrent_run(tasks_per_run, return_state=True) for _ in range(CONCURRENT_RUNS)],
            return_exceptions=True,
        )
        wall = time.perf_counter() - start
        errors = sum(1 for s in states if isinstance(s, BaseException) or not s.is_completed())
        return {
            "per_task": per_task,
            "runs_per_minute": CONCURRENT_RUNS / wall * 60,
            "errors": errors,
        }

    return asyncio.run(main())


def _probe_training(config_path: str) -> dict[str, float]:
    """Wall time of one training flow run (the runner is chosen by the config)."""
    from flows.training import training

    start = time.perf_counter()
    training(config_path=config_path)
    return {"seconds": time.perf_counter() - start}


def _run_probe(call: str, api_url: str, home: Path) -> dict[str, float]:
    """Run `benchmarks.bench_production.<call>` in a fresh process against `api_url`."""
    env = {**os.environ, "PREFECT_API_URL": api_url, "PREFECT_HOME": str(home)}
    code = (
        "import json; from benchmarks.bench_production import _probe_server, _probe_training; "
        f"print(json.dumps({call}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{call} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _server_figures(folder: Path, scale: float) -> list[Figure]:
    n_tasks = max(20, int(100 * scale))
    per_run = max(3, int(10 * scale))
    call = f"_probe_server({n_tasks}, {per_run})"
    with prefect_server(folder / "sqlite") as api_url:
        sqlite = _run_probe(call, api_url, folder / "sqlite")
    reason = unreachable_reason()
    if reason:
        print(f"bench_production: PostgreSQL figures skipped: {reason}", flush=True)
        return []
    with (
        scratch_database("driftline_bench") as url,
        prefect_server(
            folder / "pg", extra_env={"PREFECT_API_DATABASE_CONNECTION_URL": url}
        ) as api_url,
    ):
        pg = _run_probe(call, api_url, folder / "pg")
    runs = f"{CONCURRENT_RUNS} concurrent flow runs x {per_run} tasks"
    return [
        Figure(
            AREA,
            f"per-task overhead ({n_tasks} sequential), PostgreSQL",
            pg["per_task"] * 1e3,
            sqlite["per_task"] * 1e3,
            "ms",
            "SQLite",
        ),
        Figure(
            AREA,
            f"{runs}: throughput, PostgreSQL",
            pg["runs_per_minute"],
            sqlite["runs_per_minute"],
            "runs/min",
            "SQLite",
            "higher is better",
        ),
        Figure(
            AREA,
            f"{runs}: failed runs, PostgreSQL",
            pg["errors"],
            sqlite["errors"],
            "runs",
            "SQLite",
            "0",
        ),
    ]


def _project(folder: Path, n_rows: int, dask_address: str | None) -> str:
    """A project on the demo's config and `n_rows` generated rows; returns its config path."""
    raw = yaml.safe_load((ROOT / "driftline.yaml").read_text())
    write_batches(folder / "data", n_rows=n_rows, n_batches=2, seed=0)
    raw.update(
        data={"source": "data"},
        state_dir="state",
        expectations={"suite": "churn", "directory": str(ROOT / "expectations")},
    )
    raw["training"].update(
        candidates=["logistic_regression", "random_forest"],
        search_budget=2,
        cv_folds=3,
        dask_address=dask_address,
    )
    path = folder / "driftline.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return str(path)


def _training_figures(folder: Path, scale: float) -> list[Figure]:
    from distributed import LocalCluster

    n_rows = max(2000, int(20_000 * scale))
    with prefect_server(folder / "training") as api_url:
        local = _run_probe(
            f"_probe_training({_project(folder / 'local', n_rows, None)!r})",
            api_url,
            folder / "training",
        )
        with LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster:
            config = _project(folder / "dask", n_rows, cluster.scheduler_address)
            on_dask = _run_probe(f"_probe_training({config!r})", api_url, folder / "training")
    return [
        Figure(
            AREA,
            f"training wall time ({n_rows} rows, 2 candidates), Dask 2 workers",
            on_dask["seconds"],
            local["seconds"],
            "s",
            "local threads",
        ),
    ]


def figures(scale: float) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="driftline-bench-production-") as tmp:
        folder = Path(tmp)
        return _server_figures(folder, scale) + _training_figures(folder, scale)
