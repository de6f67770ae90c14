"""Triggers: drift event -> served retraining run Running, vs `run_deployment` -> Running.

A real `prefect server start` and `driftline serve-flows` (default poll interval) in child
processes. The retraining ledger is seeded inside the cooldown, so each run records a skip
and ends in seconds: what is timed is Prefect's path (event, automation, runner, process
start, flow import), not training. Both latencies use the server's own timestamps.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import yaml

from benchmarks.harness import Figure
from driftline.core.config import load_config
from driftline.core.generator import write_batches
from driftline.orchestration.environment import hermetic_env
from driftline.orchestration.events import DRIFT_DETECTED, model_resource, send
from driftline.orchestration.prefect_server import prefect_server, served_flows
from driftline.storage.ledger import RetrainingLedger

AREA = "triggers"
ROOT = Path(__file__).resolve().parents[1]
RUN_TIMEOUT_S = 120.0


def _project(folder: Path) -> Path:
    raw = yaml.safe_load((ROOT / "driftline.yaml").read_text())
    write_batches(folder / "data", n_rows=1000, n_batches=1, seed=0)
    raw.update(
        data={"source": "data"},
        state_dir="state",
        expectations={"suite": "churn", "directory": str(ROOT / "expectations")},
    )
    path = folder / "driftline.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _wait_final(client: Any, find: Callable[[], Any]) -> Any:
    """Poll until `find()` returns a flow run in a final state; return it."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        run = find()
        if run is not None and run.state.is_final():
            return run
        time.sleep(0.5)
    raise TimeoutError(f"no finished run within {RUN_TIMEOUT_S:.0f} s")


def figures(scale: float) -> list[Figure]:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.deployments import run_deployment
    from prefect.events import Event
    from prefect.settings import PREFECT_API_URL, temporary_settings

    repeats = max(3, round(3 * scale))
    work = Path(tempfile.mkdtemp(prefix="driftline-bench-triggers-"))
    config_path = _project(work)
    cfg = load_config(config_path)
    RetrainingLedger(cfg.state_path / "retraining" / cfg.project).record(
        status="started", reason="benchmark", flow_run_id="benchmark-seed"
    )
    deployment = f"retraining/{cfg.project}-retraining"
    env = {**os.environ, **hermetic_env(cfg.state_path), "PREFECT_LOGGING_TO_API_ENABLED": "false"}
    by_trigger: list[float] = []
    by_api: list[float] = []
    with (
        prefect_server(work / "prefect-server") as api_url,
        served_flows(config_path, api_url, env, work / "serve.log", expect=[deployment]),
        temporary_settings({PREFECT_API_URL: api_url}),
        SyncPrefectClient(api_url) as client,
    ):
        name = DeploymentFilter(name=DeploymentFilterName(any_=[f"{cfg.project}-retraining"]))

        def by_event_id(event_id: UUID) -> Any:
            runs = client.read_flow_runs(deployment_filter=name)
            return next((r for r in runs if r.parameters.get("event_id") == str(event_id)), None)

        for _ in range(repeats):
            event = Event(event=DRIFT_DETECTED, resource=model_resource(cfg.project))
            send(api_url, [event])
            run = _wait_final(client, lambda e=event.id: by_event_id(e))
            by_trigger.append((run.start_time - event.occurred).total_seconds())

            started = datetime.now(UTC)
            created = run_deployment(deployment, parameters={"reason": "benchmark"}, timeout=0)
            run = _wait_final(client, lambda i=created.id: client.read_flow_run(i))
            by_api.append((run.start_time - started).total_seconds())

    return [
        Figure(
            AREA,
            f"drift event -> retraining run Running (median of {repeats})",
            statistics.median(by_trigger),
            statistics.median(by_api),
            "s",
            "run_deployment -> Running",
            "<= 10 s absolute",
        ),
        Figure(
            AREA,
            f"drift event -> retraining run Running (worst of {repeats})",
            max(by_trigger),
            max(by_api),
            "s",
            "run_deployment -> Running",
            "<= 10 s absolute",
        ),
    ]
