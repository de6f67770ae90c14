"""Cases 1, 2 and 7 through the real flows, against the Prefect test server.

1. A promotion races the training run: the run re-gates against the new champion on the same
   holdout (promoting, with the truth in the audit log, or refusing, saying why).
2. A cached candidate's file is swapped for a payload: it is never unpickled; the candidate
   is trained again and the run completes.
7. A retraining killed mid-run left only "started" in the ledger: the next one is not held
   back by the cooldown; `serve-flows` killed hard takes its Prefect server with it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import joblib
import pytest
from conftest import write_project
from test_registry import UNPICKLED, Tripwire

from driftline.core.candidates import build_pipeline, labels
from driftline.core.config import FeatureSelection, load_config
from driftline.storage.ledger import RetrainingLedger
from driftline.storage.registry import CHAMPION, ModelRegistry
from flows.retraining import retraining
from flows.training import training

pytestmark = [pytest.mark.faults, pytest.mark.server]

ONE = {"candidates": ["logistic_regression"], "search_budget": 1, "cv_folds": 2}
LENIENT = {"value": {"roc_auc": {"min": 0.5}}, "change": {"roc_auc": {"max_drop_abs": 0.05}}}


def small(folder: Path, **overrides: Any) -> Path:
    return write_project(folder, n_rows=1000, training=ONE, gates=LENIENT, **overrides)


def race_next_registration(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    """Someone runs `driftline models promote <version>` while the next run is gating: right
    after it registered its version, before it promotes."""
    register = ModelRegistry.register
    raced: list[bool] = []

    def racing(self: ModelRegistry, *args: Any, **kwargs: Any) -> Any:
        mv = register(self, *args, **kwargs)
        if not raced:
            raced.append(True)
            ModelRegistry(self.root).promote(version, reason="by hand, meanwhile", actor="alice")
        return mv

    monkeypatch.setattr(ModelRegistry, "register", racing)


def test_a_racing_promotion_is_re_gated_against_the_new_champion(
    prefect_server: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = small(tmp_path)
    cfg = load_config(config)
    first = training(config_path=str(config))
    registry = ModelRegistry.for_config(cfg)
    v1 = registry.get(first.version)
    registry.register(registry.load_model(v1.version), v1.metadata, status="blessed")  # v0002

    race_next_registration(monkeypatch, "v0002")
    outcome = training(config_path=str(config), retrain_unchanged=True)
    monkeypatch.undo()
    assert outcome.version == "v0003" and outcome.outcome == "promoted"
    assert outcome.baseline_version == "v0002"  # gated against the champion it replaced
    move = [e for e in registry.audit_log() if e["to"] == "v0003"][-1]
    assert (move["from"], move["gated_against"]) == ("v0002", "v0002")
    assert "re-gated" in move["reason"] and "moved from v0001" in move["reason"]

    # A champion that knows the holdout by heart (a forest fitted on every row) moves in:
    # against it the next candidate fails, and is refused, saying why.
    data = registry.get("v0001").metadata.data.load()
    schema = v1.metadata.table_schema
    forest = build_pipeline("random_forest", schema, FeatureSelection(), 0)
    forest.fit(data[schema.features], labels(data, cfg))
    strong = registry.register(forest, v1.metadata, status="blessed")
    race_next_registration(monkeypatch, strong.version)
    refused = training(config_path=str(config), retrain_unchanged=True)
    monkeypatch.undo()
    assert refused.outcome == "rejected" and refused.baseline_version == strong.version
    assert registry.aliases()[CHAMPION] == strong.version
    assert f"the champion moved from v0003 to {strong.version}" in refused.blessing_reasons[0]
    assert not [e for e in registry.audit_log() if e["to"] == refused.version]


def test_a_swapped_candidate_file_is_never_unpickled(prefect_server: None, tmp_path: Path) -> None:
    config = small(tmp_path)
    cfg = load_config(config)
    training(config_path=str(config))
    [candidate] = (cfg.state_path / "models-wip").glob("*/model.joblib")
    joblib.dump(Tripwire(), candidate)  # a payload, where the cached fit points
    UNPICKLED.clear()
    outcome = training(config_path=str(config), retrain_unchanged=True)
    assert UNPICKLED == []
    model = ModelRegistry.for_config(cfg).load_model(outcome.version)
    assert callable(model.predict_proba)  # the candidate was trained again, not the payload


def test_a_crashed_retraining_does_not_start_a_cooldown(
    prefect_server: None, tmp_path: Path
) -> None:
    config = small(tmp_path)
    cfg = load_config(config)
    training(config_path=str(config))
    ledger = RetrainingLedger.for_config(cfg)
    dead = str(uuid.uuid4())  # the flow run of a retraining killed with its process
    ledger.record(status="started", reason="driftline.drift.detected", flow_run_id=dead)
    result = retraining(config_path=str(config), reason="driftline.drift.detected")
    assert result.status == "completed", result.detail
    closed = [e for e in ledger.entries() if e.get("flow_run_id") == dead]
    assert [e["status"] for e in closed] == ["started", "crashed"]
    again = retraining(config_path=str(config), reason="manual")
    assert again.status == "skipped" and "cooldown" in again.detail  # the real one counts


@pytest.mark.slow
def test_serve_flows_killed_hard_takes_its_prefect_server_with_it(tmp_path: Path) -> None:
    config = small(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect")
    cli = Path(sys.executable).with_name("driftline")
    proc = subprocess.Popen(
        [str(cli), "serve-flows", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = None
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline().decode()
            assert line or proc.poll() is None, "serve-flows exited"
            found = re.search(r"Prefect UI: (http://\S+)", line)
            url = found.group(1) if found else None
        assert url, "serve-flows did not start its Prefect server"
        assert httpx.get(f"{url}/api/health", timeout=5).status_code == 200
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/api/health", timeout=1)
            except httpx.TransportError:
                return  # the server is gone
            time.sleep(0.5)
        pytest.fail(f"the Prefect server at {url} outlived serve-flows")
    finally:
        if proc.poll() is None:
            proc.kill()
