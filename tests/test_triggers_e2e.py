"""Triggers and schedules on a real Prefect server process with the project's served deployments.

One `prefect server start` per module (state in a tmp folder), a champion trained against it,
then `driftline serve-flows` in a child process. A drift event starts the served retraining
deployment with parameters templated from the event; a burst of 10 events yields one
retraining and nine recorded skips; the crons from the config become scheduled runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from conftest import write_project

from driftline.core.config import ProjectConfig, load_config
from driftline.core.generator import generate
from driftline.orchestration.environment import hermetic_env
from driftline.orchestration.events import DRIFT_DETECTED, model_resource, send
from driftline.orchestration.prefect_server import prefect_server, served_flows
from driftline.storage.ledger import RetrainingLedger

pytestmark = pytest.mark.server

FLOW_RUN_TIMEOUT = 240.0


@dataclass(frozen=True)
class Served:
    cfg: ProjectConfig
    config_path: Path
    api_url: str
    recent: Path
    monitoring_minute: int

    def deployment(self, short: str) -> str:
        return f"{self.cfg.project}-{short}"

    @property
    def ledger(self) -> RetrainingLedger:
        return RetrainingLedger(self.cfg.state_path / "retraining" / self.cfg.project)


def _env(state: Path) -> dict[str, str]:
    """The hermetic environment of every child process (Prefect state inside the tmp project)."""
    return {**os.environ, **hermetic_env(state), "PREFECT_LOGGING_TO_API_ENABLED": "false"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("triggers")
    # Crons that cannot fire while the module runs: their runs are only scheduled.
    minute = (datetime.now(UTC).minute + 30) % 60
    config_path = write_project(
        folder,
        n_rows=2000,
        training={"search_budget": 1, "cv_folds": 2, "candidates": ["logistic_regression"]},
        monitoring={
            "cron": f"{minute} * * * *",
            "retraining": {"cooldown_minutes": 30, "cron": f"{minute} */2 * * *"},
        },
    )
    cfg = load_config(config_path)
    recent = folder / "recent" / "labelled.csv"
    recent.parent.mkdir()
    generate(1000, seed=7, start_id=100_000).to_csv(recent, index=False, date_format="%Y-%m-%d")
    env = _env(cfg.state_path)

    with prefect_server(folder / "prefect-server") as api_url:
        train = f"from flows.training import training; training(config_path={str(config_path)!r})"
        done = subprocess.run(
            [sys.executable, "-c", train],
            env={**env, "PREFECT_API_URL": api_url},
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, f"training the champion failed:\n{done.stderr[-3000:]}"
        expect = [f"{flow}/{cfg.project}-{flow}" for flow in ("monitoring", "retraining")]
        with served_flows(
            config_path,
            api_url,
            env,
            folder / "serve.log",
            expect=expect,
            args=["--param", f"retraining.recent={recent}", "--poll-seconds", "1"],
        ):
            yield Served(cfg, config_path, api_url, recent, minute)


def _emit(api_url: str, project: str, n: int) -> list[str]:
    """Send `n` drift alerts to the server at `api_url`; return their event ids."""
    from prefect.events import Event

    events = [
        Event(event=DRIFT_DETECTED, resource=model_resource(project), payload={"burst": i})
        for i in range(n)
    ]
    send(api_url, events)
    return [str(e.id) for e in events]


def _runs(served: Served, short: str, **filters: Any) -> list[Any]:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    name = DeploymentFilterName(any_=[served.deployment(short)])
    with SyncPrefectClient(served.api_url) as client:
        return client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=name),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC,
            **filters,
        )


def _wait(check: Callable[[], Any], timeout: float, what: str, served: Served) -> Any:
    """Poll `check` until it returns something truthy; fail with the serve log otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(1)
    log = (served.config_path.parent / "serve.log").read_text()[-3000:]
    runs = [(r.name, r.state_name, r.parameters.get("reason")) for r in _runs(served, "retraining")]
    pytest.fail(
        f"timed out after {timeout:.0f} s waiting for {what}\nretraining runs: {runs}\n"
        f"--- serve.log ---\n{log}"
    )


def _event_runs(served: Served, event_ids: list[str]) -> list[Any]:
    return [
        r for r in _runs(served, "retraining") if r.parameters.get("event_id") in set(event_ids)
    ]


def test_crons_from_the_config_become_scheduled_runs(served: Served) -> None:
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    scheduled = FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
    )

    def both() -> tuple[list[Any], list[Any]] | None:
        monitoring = _runs(served, "monitoring", flow_run_filter=scheduled)
        retraining = [
            r
            for r in _runs(served, "retraining", flow_run_filter=scheduled)
            if r.parameters.get("reason") == "schedule"
        ]
        return (monitoring, retraining) if monitoring and retraining else None

    monitoring, retraining = _wait(both, 60, "scheduled runs", served)
    now = datetime.now(UTC)
    times = [r.expected_start_time for r in monitoring]
    assert all(t > now and t.minute == served.monitoring_minute and t.second == 0 for t in times)
    assert all(b - a == timedelta(hours=1) for a, b in pairwise(times))
    assert all(r.parameters["config_path"] == str(served.config_path) for r in monitoring)
    retrain_times = [r.expected_start_time for r in retraining]
    assert all(t.minute == served.monitoring_minute and t.hour % 2 == 0 for t in retrain_times)


def test_drift_event_starts_the_served_retraining_and_it_completes(served: Served) -> None:
    (event_id,) = _emit(served.api_url, served.cfg.project, 1)

    def completed() -> Any:
        runs = _event_runs(served, [event_id])
        return runs[0] if runs and runs[0].state.is_final() else None

    run = _wait(completed, FLOW_RUN_TIMEOUT, "the triggered retraining run", served)
    assert run.state.is_completed(), run.state
    assert run.parameters["reason"] == DRIFT_DETECTED
    assert run.parameters["event_id"] == event_id
    assert run.parameters["recent"] == str(served.recent)
    mine = [e for e in served.ledger.entries() if e["flow_run_id"] == str(run.id)]
    assert [e["status"] for e in mine] == ["started", "completed"]
    assert mine[-1]["event_id"] == event_id


def test_a_burst_of_alerts_starts_exactly_one_retraining(served: Served) -> None:
    # Start the burst outside any cooldown left by the previous test.
    if served.ledger.path.exists():
        shutil.move(served.ledger.path, served.ledger.path.with_suffix(".before-burst"))
    event_ids = _emit(served.api_url, served.cfg.project, 10)

    def all_final() -> list[Any] | None:
        runs = _event_runs(served, event_ids)
        return runs if len(runs) == 10 and all(r.state.is_final() for r in runs) else None

    runs = _wait(all_final, 4 * FLOW_RUN_TIMEOUT, "10 triggered runs to finish", served)
    assert all(r.state.is_completed() for r in runs), [r.state for r in runs]
    entries = served.ledger.entries()
    assert Counter(e["status"] for e in entries) == {"started": 1, "completed": 1, "skipped": 9}
    # Every event is accounted for: one retraining, each duplicate recorded with its reason.
    requests = [e for e in entries if e["status"] in ("started", "skipped")]
    assert sorted(e["event_id"] for e in requests) == sorted(event_ids)
    assert all("cooldown" in e["detail"] for e in entries if e["status"] == "skipped")
