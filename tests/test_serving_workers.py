"""`driftline serve --workers 2`: every worker answers, swaps in a new champion, and writes its
own log parts; after SIGTERM the log holds every answered prediction, once."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import write_project
from test_serving import fit_model, metadata, records

from driftline.core.config import load_config
from driftline.storage.prediction_log import log_root, read_prediction_log
from driftline.storage.registry import ModelRegistry
from driftline.testing.serving import wait_ready

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_pids(root: Path) -> set[str]:
    """The pids in the names of the log's parts (`part-<ns>-<pid>-<rand>.parquet`)."""
    return {p.name.split("-")[2] for p in (root / "log").glob("date=*/part-*.parquet")}


def test_two_workers_log_every_answer_and_both_swap(tmp_path: Path) -> None:
    config = write_project(
        tmp_path, n_rows=200, serving={"poll_seconds": 0.1, "log_flush_seconds": 0.1}
    )
    cfg = load_config(config)
    reg = ModelRegistry.for_config(cfg)
    reg.promote(reg.register(fit_model(1), metadata(), status="blessed").version, reason="1")
    v2 = reg.register(fit_model(2, c=0.01), metadata(), status="blessed")
    port = free_port()
    cli = Path(sys.executable).with_name("driftline")
    proc = subprocess.Popen(
        [str(cli), "serve", "--config", str(config), "--port", str(port), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    answered: dict[str, str] = {}
    lock = threading.Lock()

    def send(n: int, seed: int) -> None:
        """`n` requests, each on a new connection (the kernel spreads them over workers)."""
        for i in range(n):
            r = httpx.post(f"{url}/predict", json={"records": records(2, seed=seed + i)})
            assert r.status_code == 200, r.text
            with lock:
                answered.update(
                    {p["request_id"]: p["model_version"] for p in r.json()["predictions"]}
                )

    try:
        wait_ready(url, proc)
        deadline = time.monotonic() + 60
        while len(worker_pids(log_root(cfg))) < 2:  # until both workers have answered
            threads = [threading.Thread(target=send, args=(5, 100 * k)) for k in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert time.monotonic() < deadline, "one worker never answered"
            time.sleep(0.2)
        reg.promote(v2.version, reason="better")
        time.sleep(1.5)  # several polls of every worker
        before = set(answered)
        send(20, 10_000)
        assert {answered[i] for i in set(answered) - before} == {v2.version}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = read_prediction_log(log_root(cfg))
    assert len(log) == len(answered) and set(log.request_id) == set(answered)
    assert dict(zip(log.request_id, log.model_version, strict=True)) == answered
