"""`make demo`: the whole loop on the embedded data, told as it happens.

train and promote a champion → serve it → send drifted traffic and its true labels →
the monitoring run finds drift and emits `driftline.drift.detected` → the served retraining
deployment starts by itself → the new version is gated and promoted → the running server
answers with it. Everything runs against a real Prefect server whose state is in the
project, so the UI shows it all; everything started here is stopped at the end.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import httpx
import pandas as pd

from driftline.core.config import ProjectConfig
from driftline.core.generator import Drift, write_batches
from driftline.orchestration.prefect_server import (
    child,
    free_port,
    served_flows,
    ui_url,
    wait_healthy,
)
from driftline.orchestration.project_server import project_api
from driftline.storage.ledger import RetrainingLedger

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun

T = TypeVar("T")
TRAFFIC_ROWS = 4000
TRAFFIC_BATCH = 250
# The live population the demo sends: pricier plans, less frequent logins, more
# month-to-month contracts, and churn that follows a new pattern (covariate and concept drift
# together: the champion's ranking is no longer right).
LIVE_DRIFT = Drift(
    shift={"monthly_charges": 25.0, "days_since_last_login": 10.0},
    category_mix={"contract": {"month-to-month": 0.8, "one_year": 0.1, "two_year": 0.1}},
    concept=1.0,
)


def say(step: str, text: str = "") -> None:
    print(f"\n=== {step}" + (f"\n{text}" if text else ""), flush=True)


def ensure_data(cfg: ProjectConfig) -> Path:
    """The training batches (if missing) and a drifted, labelled live batch for the traffic."""
    source = cfg.resolve(cfg.data.source)
    if not source.exists():
        write_batches(source, n_rows=20_000, n_batches=4, seed=0)
        print(f"generated 20,000 training rows under {source}")
    live = source.parent / "live"
    if not live.exists():
        write_batches(
            live, n_rows=TRAFFIC_ROWS, n_batches=1, seed=11, drift=LIVE_DRIFT, start_id=10**6
        )
    return live / "batch_000.csv"


def send_traffic(api: str, live_csv: Path, features: list[str], id_column: str | None) -> Path:
    """POST the live rows to /predict in batches; return a labels file keyed by request id."""
    live = pd.read_csv(live_csv)
    keep = [*features, *([id_column] if id_column else [])]
    request_ids: list[str] = []
    with httpx.Client(base_url=api, timeout=30) as client:
        for start in range(0, len(live), TRAFFIC_BATCH):
            chunk = live.iloc[start : start + TRAFFIC_BATCH][keep]
            records = chunk.astype(object).where(chunk.notna(), None).to_dict("records")
            reply = client.post("/predict", json={"records": records})
            reply.raise_for_status()
            request_ids += [p["request_id"] for p in reply.json()["predictions"]]
    labels = live_csv.with_name("labels.csv")
    pd.DataFrame({"request_id": request_ids, "label": live["churned"]}).to_csv(labels, index=False)
    return labels


def wait_for(what: str, check: Callable[[], T | None], timeout: float, every: float = 1.0) -> T:
    """Poll `check()` until it returns something truthy; fail naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"demo: timed out after {timeout:.0f} s waiting for {what}")


def serving_version(api: str) -> str | None:
    try:
        model = httpx.get(f"{api}/model", timeout=5).json()
    except httpx.HTTPError:
        return None
    return (model.get("champion") or {}).get("version")


def retraining_runs(deployment: str, after: float, expected: int) -> list[FlowRun] | None:
    """The `expected` event-triggered runs of the retraining deployment created after `after`
    (epoch s), once all of them are finished (one per alert event: the first retrains, the
    rest are recorded as skipped by the cooldown). Scheduled runs are not counted."""
    from prefect import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[deployment])),
            limit=50,
        )
    mine = [
        r
        for r in runs
        if r.parameters.get("event_id") and r.created and r.created.timestamp() >= after
    ]
    done = [r for r in mine if r.state and r.state.is_final()]
    return done if len(done) >= expected and len(done) == len(mine) else None


def run_demo(cfg: ProjectConfig, config_path: Path) -> None:
    from driftline.core.render import training_outcome

    live_csv = ensure_data(cfg)
    logs = cfg.state_path / "demo"
    with ExitStack() as stack:
        say("1. Prefect server", "the project's (`driftline server start`), else one started here")
        api_url = stack.enter_context(project_api(cfg.state_path / "prefect", "driftline demo"))
        os.environ["PREFECT_API_URL"] = api_url
        print(f"Prefect UI: {ui_url(api_url)}  (runs, artifacts and events of this demo)")

        say("2. Train, evaluate, gate and promote")
        from flows.training import training

        outcome = training(config_path=str(config_path))
        print(training_outcome(outcome))

        say("3. Serve the champion and the flows")
        port = free_port()
        api = f"http://127.0.0.1:{port}"
        logs.mkdir(parents=True, exist_ok=True)
        served = [f"{flow}/{cfg.project}-{flow}" for flow in ("monitoring", "retraining")]
        stack.enter_context(
            served_flows(config_path, api_url, os.environ, logs / "serve-flows.log", served)
        )
        stack.enter_context(
            child(
                [
                    sys.executable,
                    "-m",
                    "driftline",
                    "serve",
                    "-c",
                    str(config_path),
                    "--port",
                    str(port),
                ],
                logs / "serve.log",
            )
        )
        wait_healthy(api, timeout=60)
        print(f"prediction API: {api}/docs  (serving {serving_version(api)}); logs in {logs}")

        say("4. Send drifted live traffic, then its true labels")
        features = outcome_features(cfg)
        labels = send_traffic(api, live_csv, features, cfg.id_column)
        from driftline.storage.prediction_log import import_feedback, log_root

        imported = import_feedback(log_root(cfg), labels, cfg.target.positive_label)
        print(f"{TRAFFIC_ROWS} predictions logged, {imported} labels fed back ({labels})")
        time.sleep(cfg.serving.log_flush_seconds + 1)

        say("5. Monitoring: compare the live window with the champion's reference")
        from flows.monitoring import monitoring

        started = time.time()
        result = monitoring(config_path=str(config_path))
        if result is None or not result.alerts:
            raise RuntimeError("demo: monitoring raised no alert on drifted traffic")
        print(f"drifted columns: {result.drifted_columns} (share {result.drift_share:.0%})")
        print(f"alerts: {[a.rule for a in result.alerts]}; report: {result.report_path}")

        say("6. The alert starts the retraining deployment by itself")
        deployment = f"{cfg.project}-retraining"
        expected = int(result.drift_alert) + int(result.performance_alert)
        runs = wait_for(
            "the triggered retraining runs",
            lambda: retraining_runs(deployment, started, expected),
            timeout=600,
            every=2,
        )
        ledger = RetrainingLedger.for_config(cfg)
        outcome_of = {e["flow_run_id"]: e for e in ledger.entries()}
        for run in runs:
            entry = outcome_of.get(str(run.id), {})
            what = entry.get("detail") or f"{entry.get('version')} {entry.get('outcome')}"
            print(
                f"retraining run '{run.name}' ({run.parameters.get('reason')}): "
                f"{run.state_name}, {entry.get('status', '?')}: {what}"
            )
        print(f"runs in the UI: {ui_url(api_url)}/runs")

        say("7. The running server picks up the new champion")
        from driftline.storage.registry import CHAMPION, ModelRegistry

        champion = ModelRegistry.for_config(cfg).alias(CHAMPION)
        if champion and champion.version != outcome.version:
            wait_for(
                f"the server to serve {champion.version}",
                lambda: serving_version(api) == champion.version,
                timeout=60,
            )
            blessing = champion.metadata.blessing
            passed = sum(c.passed for c in blessing.checks)
            print(
                f"server now answers with {champion.version} (was {outcome.version}); gate "
                f"against {blessing.baseline_id}: {passed}/{len(blessing.checks)} checks passed"
            )
        else:
            print(f"the retrained model was not promoted; {outcome.version} keeps serving")
        print(f"\n`driftline models list` shows every version; Prefect UI: {ui_url(api_url)}")
        print(where_to_look_after(cfg))
        say("8. Stopping what the demo started")


def where_to_look_after(cfg: ProjectConfig) -> str:
    """The dashboard and the report index: what the demo leaves for a person to look at."""
    from driftline.core.config.tracking import DASHBOARD_PORT
    from driftline.storage.report_index import ReportIndex

    index = ReportIndex.for_config(cfg)
    lines = [
        f"dashboard (drift, predictions, quality and promotions over time): `driftline ui`, "
        f"then http://127.0.0.1:{DASHBOARD_PORT}",
        f"every report of the demo ({len(index.entries())}), newest first: {index.page}",
    ]
    if cfg.mlflow_uri:
        lines.append(f"MLflow mirror: {cfg.mlflow_uri} (experiment '{cfg.project}')")
    return "\n".join(lines)


def outcome_features(cfg: ProjectConfig) -> list[str]:
    """The champion's feature columns (what /predict takes)."""
    from driftline.storage.registry import CHAMPION, ModelRegistry

    champion = ModelRegistry.for_config(cfg).alias(CHAMPION)
    return champion.metadata.table_schema.features
