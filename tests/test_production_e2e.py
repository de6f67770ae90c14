"""Run it like production: a real `prefect server start` (SQLite, then PostgreSQL), the
`driftline` process work pool, `prefect --no-prompt deploy --all` from the committed
prefect.yaml, two workers, a training run started as the UI would, and a drift event that the
retraining deployment's trigger turns into a completed retraining; then `driftline serve`.

Every command of the README's "Run it like production" is in DOC_COMMANDS and run here
(placeholders filled in); tests/test_prefect_yaml.py checks that the two agree.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ROOT, write_project

from driftline.core.config import load_config
from driftline.orchestration.prefect_server import child, free_port, prefect_server, wait_healthy
from driftline.storage.ledger import RetrainingLedger
from driftline.testing.postgres import scratch_database, unreachable_reason
from driftline.testing.prefect_workers import prefect_worker

pytestmark = [pytest.mark.server, pytest.mark.slow]

PROJECT = "churn-demo"
TRAINING = f"training/{PROJECT}-training-worker"
RETRAINING = f"retraining/{PROJECT}-retraining-worker"
RUN_TIMEOUT = 240

SERVER = "prefect server start"
POOL = "prefect work-pool create driftline --type process"
DEPLOY = "prefect --no-prompt deploy --all"
WORKER = "prefect worker start --pool driftline"
NAMED_WORKER = "prefect worker start --pool driftline --name {worker}"
RUN_TRAINING = (
    f"prefect deployment run '{TRAINING}' --param config_path={{config}} --param search_budget=1"
)
EMIT_DRIFT = f"prefect events emit driftline.drift.detected --resource-id driftline.model.{PROJECT}"
SERVE = "driftline serve --config {config} --port {port}"
# The README's production commands, verbatim; {placeholders} are filled in per test.
# SERVER and WORKER run through driftline.orchestration.prefect_server and
# driftline.testing.prefect_workers (the same commands, as child processes).
DOC_COMMANDS = (SERVER, POOL, DEPLOY, WORKER, NAMED_WORKER, RUN_TRAINING, EMIT_DRIFT, SERVE)

SMALL_TRAINING = {
    "candidates": ["logistic_regression"],
    "search_budget": 1,
    "cv_folds": 2,
    "slice_columns": ["contract"],
}


def doc_command(template: str, **values: str) -> list[str]:
    """A command of DOC_COMMANDS as argv: placeholders filled, the program from this venv."""
    assert template in DOC_COMMANDS, template
    argv = shlex.split(template.format(**values))
    return [str(Path(sys.executable).parent / argv[0]), *argv[1:]]


def run_cli(argv: list[str], env: dict[str, str], timeout: float = 180) -> str:
    """Run a command to completion in the repo; fail the test with its output if it fails."""
    done = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"{shlex.join(argv)} exited {done.returncode}:\n{out[-4000:]}"
    return out


def wait_for_run(api: httpx.Client, flow_run_id: str, logs: list[Path]) -> dict[str, Any]:
    """Poll a flow run until it is final; fail with its state and the logs' tails unless it
    completed."""
    deadline = time.monotonic() + RUN_TIMEOUT
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = api.get(f"/flow_runs/{flow_run_id}").raise_for_status().json()
        if run["state"]["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
            break
        time.sleep(2)
    state = run.get("state") or {}
    if state.get("type") != "COMPLETED":
        tails = "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs if p.exists()
        )
        pytest.fail(f"flow run {flow_run_id}: {state.get('type')} {state.get('message')}\n{tails}")
    return run


def triggered_run(api: httpx.Client, deployment: str, timeout: float = 60) -> dict[str, Any]:
    """The run of `deployment` (flow/name) an automation started (not one its cron made)."""
    dep = api.get(f"/deployments/name/{deployment}").raise_for_status().json()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = api.post(
            "/flow_runs/filter", json={"deployments": {"id": {"any_": [dep["id"]]}}}
        ).raise_for_status()
        started = [run for run in runs.json() if not run["auto_scheduled"]]
        if started:
            return started[0]
        time.sleep(1)
    raise AssertionError(f"no run of {deployment} within {timeout} s of the event")


def point_at(api: httpx.Client, config: str) -> None:
    """Give every deployment another default config_path, as the UI's deployment form does:
    runs a trigger or a cron starts take the deployment's defaults."""
    for dep in api.post("/deployments/filter", json={}).raise_for_status().json():
        parameters = {**dep["parameters"], "config_path": config}
        api.patch(f"/deployments/{dep['id']}", json={"parameters": parameters}).raise_for_status()


def serve_ready(config: str, env: dict[str, str], log: Path) -> dict[str, Any]:
    """`driftline serve` on a free loopback port until /ready answers; its body."""
    port = str(free_port())
    with child(doc_command(SERVE, config=config, port=port), log, env, ROOT) as proc:
        wait_healthy(f"http://127.0.0.1:{port}", 90, proc)
        return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=10).json()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Server settings for the backend: SQLite in PREFECT_HOME, or a scratch PostgreSQL
    database (skipped with the reason when none is reachable; a failure when CI is set)."""
    if request.param == "sqlite":
        yield {}
        return
    reason = unreachable_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set, so PostgreSQL must be reachable: {reason}")
        pytest.skip(reason)
    with scratch_database() as url:
        yield {"PREFECT_API_DATABASE_CONNECTION_URL": url}


def test_production_run(tmp_path: Path, database: dict[str, str]) -> None:
    config = str(write_project(tmp_path / "project", n_rows=2000, training=SMALL_TRAINING))
    home = tmp_path / "prefect"
    logs = [home / name for name in ("server.log", "worker-driftline.log", "worker-second.log")]
    with (
        prefect_server(home, extra_env=database) as api_url,
        httpx.Client(base_url=api_url, timeout=30) as api,
    ):
        env = {**os.environ, "PREFECT_API_URL": api_url, "PREFECT_HOME": str(home)}
        run_cli(doc_command(POOL), env)
        run_cli(doc_command(DEPLOY), env)
        point_at(api, config)
        with (
            prefect_worker("driftline", api_url, home, cwd=tmp_path),
            prefect_worker("driftline", api_url, home, cwd=tmp_path, name="second"),
        ):
            out = run_cli(doc_command(RUN_TRAINING, config=config), env)
            match = re.search(r"UUID:\s*([0-9a-f-]{36})", out)
            assert match, out
            wait_for_run(api, match.group(1), logs)
            workers = api.post("/work_pools/driftline/workers/filter", json={}).json()
            assert "second" in {w["name"] for w in workers}, workers

            run_cli(doc_command(EMIT_DRIFT), env)
            retraining = wait_for_run(api, triggered_run(api, RETRAINING)["id"], logs)

    parameters = retraining["parameters"]
    assert parameters["reason"] == "driftline.drift.detected"
    assert parameters["config_path"] == config
    uuid.UUID(parameters["event_id"])
    cfg = load_config(config)
    last = RetrainingLedger(cfg.state_path / "retraining" / cfg.project).entries()[-1]
    assert last["status"] == "completed", last
    assert last["event_id"] == parameters["event_id"]
    if not database:  # the serving command once (on SQLite): it loads the promoted champion
        assert serve_ready(config, env, tmp_path / "serve.log")["ready"] is True
