"""Case 4: the prediction log's disk is full (an injected OSError(ENOSPC) on every write).

The buffer is bounded, /ready goes 503 while writes fail, /predict answers 503 at the bound
(or, by policy, keeps answering and counts every row it drops), and freeing the space writes
everything still buffered: every answered prediction ends in the log or in the count.
"""

from __future__ import annotations

import errno
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from faultkit import FEATURES, fit, registry_with_champion
from sklearn.pipeline import Pipeline

import driftline.storage.log_writer as log_writer
from driftline.apps.serving.app import create_app
from driftline.core.config import Serving
from driftline.core.generator import generate
from driftline.storage.prediction_log import read_prediction_log
from driftline.storage.registry import ModelRegistry

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def model() -> Pipeline:
    return fit()


@pytest.fixture
def registry(tmp_path: Path, model: Pipeline) -> ModelRegistry:
    return registry_with_champion(tmp_path / "registry", model)


class Disk:
    """Makes `write_part` fail with ENOSPC while `full` is set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.full = True
        real = log_writer.write_part

        def write_part(*args: Any, **kwargs: Any) -> Path:
            if self.full:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(*args, **kwargs)

        monkeypatch.setattr(log_writer, "write_part", write_part)


def body(n: int, seed: int = 0) -> dict[str, Any]:
    df = generate(n, seed=seed)[FEATURES]
    return {"records": df.astype(object).where(df.notna(), None).to_dict(orient="records")}


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def settings(**kw: Any) -> Serving:
    base = {"poll_seconds": 0.05, "log_flush_seconds": 0.05, "max_records": 10}
    return Serving(**(base | {"log_buffer_rows": 50} | kw))


def test_a_full_disk_refuses_at_the_bound_and_recovers_everything(
    registry: ModelRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = Disk(monkeypatch)
    answered: list[str] = []
    app = create_app(registry, settings(), log_dir=tmp_path / "log")
    with TestClient(app) as client:
        client.app.state.predlog.retry_seconds = 0.05
        r = client.post("/predict", json=body(10))
        answered += [p["request_id"] for p in r.json()["predictions"]]
        wait_for(lambda: client.get("/ready").status_code == 503)
        ready = client.get("/ready").json()
        assert "cannot persist" in ready["reason"] and "No space left" in ready["log"]["error"]
        statuses = []
        for i in range(8):
            r = client.post("/predict", json=body(10, seed=i + 1))
            statuses.append(r.status_code)
            if r.status_code == 200:
                answered += [p["request_id"] for p in r.json()["predictions"]]
            else:
                assert "prediction log" in r.json()["detail"]
        assert statuses.count(200) == 4 and set(statuses[4:]) == {503}  # 50 rows: the bound
        assert client.get("/ready").json()["log"]["buffered_rows"] == 50
        disk.full = False  # space freed
        wait_for(lambda: client.get("/ready").status_code == 200)
        assert client.post("/predict", json=body(10, seed=99)).status_code == 200
    log = read_prediction_log(tmp_path / "log")
    assert set(answered) <= set(log.request_id) and len(log) == 60


def test_drop_policy_keeps_answering_and_counts_every_dropped_row(
    registry: ModelRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = Disk(monkeypatch)
    app = create_app(registry, settings(log_when_full="drop"), log_dir=tmp_path / "log")
    with TestClient(app) as client:
        answered = 0
        for i in range(9):
            r = client.post("/predict", json=body(10, seed=i))
            assert r.status_code == 200
            answered += 10
        status = client.get("/ready").json()["log"]
        assert status["rows_dropped"] == 40 and status["buffered_rows"] == 50
        assert client.get("/model").json()["log"]["rows_dropped"] == 40
        disk.full = False
    log = read_prediction_log(tmp_path / "log")
    assert len(log) + 40 == answered  # every answered row: logged or counted as dropped


def test_still_full_at_shutdown_says_how_many_were_lost(
    registry: ModelRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    Disk(monkeypatch)
    app = create_app(registry, settings(), log_dir=tmp_path / "log")
    with TestClient(app) as client:
        client.post("/predict", json=body(10))
    assert "10 answered row(s) could not be written (lost)" in caplog.text
