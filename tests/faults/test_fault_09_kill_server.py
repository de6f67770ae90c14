"""Case 9: kill -9 of `driftline serve`. In journal mode every answered prediction survives:
each is fsynced to the journal before the answer and replayed at the next start."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from conftest import write_project
from faultkit import FEATURES, fit, meta

from driftline.core.config import load_config
from driftline.core.generator import generate
from driftline.storage import journal
from driftline.storage.log_writer import PredictionLog
from driftline.storage.prediction_log import (
    PREDICTIONS,
    log_root,
    read_feedback,
    read_prediction_log,
    write_part,
)
from driftline.storage.registry import ModelRegistry
from driftline.testing.serving import wait_ready

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def _serve(config: Path, port: int) -> subprocess.Popen:
    cli_path = Path(sys.executable).with_name("driftline")
    return subprocess.Popen(
        [str(cli_path), "serve", "--config", str(config), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )


def _records(n: int, seed: int) -> list[dict[str, Any]]:
    df = generate(n, seed=seed)[FEATURES]
    return df.astype(object).where(df.notna(), None).to_dict(orient="records")


def test_kill_9_loses_no_answered_prediction_in_journal_mode(tmp_path: Path) -> None:
    serving = {"log_durability": "journal", "log_flush_seconds": 3600, "log_flush_rows": 10**5}
    config = write_project(tmp_path, n_rows=200, serving=serving)
    cfg = load_config(config)
    registry = ModelRegistry.for_config(cfg)
    registry.promote(registry.register(fit(), meta(), status="blessed").version, reason="serve")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    ids: list[str] = []
    proc = _serve(config, port)
    try:
        wait_ready(url, proc)
        with httpx.Client(base_url=url, timeout=10) as client:
            for i in range(20):
                r = client.post("/predict", json={"records": _records(3, seed=i)})
                ids += [p["request_id"] for p in r.json()["predictions"]]
            client.post("/feedback", json={"request_id": ids[0], "label": 1}).raise_for_status()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert read_prediction_log(log_root(cfg)).empty  # nothing was flushed before the kill

    proc = _serve(config, port)  # the next start replays the dead server's journal
    try:
        wait_ready(url, proc)
        status = httpx.get(f"{url}/ready").json()["log"]
        assert status["rows_recovered"] == 61 and status["durability"] == "journal"  # + feedback
    finally:
        proc.terminate()
        proc.wait(30)
    log = read_prediction_log(log_root(cfg))
    assert sorted(log.request_id) == sorted(ids)
    assert read_feedback(log_root(cfg)).request_id.tolist() == [ids[0]]


def test_a_crash_after_the_part_was_written_writes_no_row_twice(tmp_path: Path) -> None:
    """Killed between writing a flush's part and deleting its journal segment: recovery sees
    the part covers that segment and replays only what no part covers."""
    root = tmp_path / "log"
    first = PredictionLog(root, journal=True, flush_seconds=3600, flush_rows=10**5)
    first.start()
    now = datetime.now(UTC)

    def rows(ids: list[str]) -> dict[str, list[Any]]:
        return {"request_id": ids, "ts": [now] * len(ids)}

    first.append(rows(["a", "b"]))
    assert first._journal is not None
    sealed = first._journal.seal()
    write_part(
        root, PREDICTIONS, pa.table(rows(["a", "b"])), journal.part_tag(first._journal.id, sealed)
    )
    first.append(rows(["c"]))  # in the next segment, in no part yet
    first._journal._held.release()  # the process "dies": its journal lock is free
    second = PredictionLog(root, journal=True)
    second.start()
    second.close()
    assert sorted(read_prediction_log(root).request_id) == ["a", "b", "c"]
