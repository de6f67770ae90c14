"""Serving: the HTTP API on loopback vs the raw model in-process, batch scoring vs predict_proba.

Load is bounded: a fixed number of sequential requests from one keep-alive client to a uvicorn
server on 127.0.0.1, stopped early after a time budget.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import uvicorn

from benchmarks.harness import Figure, best_of
from driftline.apps.serving.app import create_app
from driftline.core.batch_scoring import score_files
from driftline.core.candidates import build_pipeline
from driftline.core.config import FeatureSelection, Serving
from driftline.core.generator import CATEGORICAL, ID, NUMERIC, SCHEMA, generate
from driftline.storage.registry import ModelRegistry
from driftline.testing.models import churn_metadata

AREA = "serving"
TIME_BUDGET_S = 20.0


def _model() -> object:
    """The project's own logistic-regression pipeline, fitted on generated data."""
    df = generate(5000, seed=1)
    pipeline = build_pipeline("logistic_regression", SCHEMA, FeatureSelection(), seed=1)
    return pipeline.fit(df[[*NUMERIC, *CATEGORICAL]], df.churned)


def _timed(fn: object, n: int) -> list[float]:
    """Wall times of up to `n` calls, stopping once the time budget is spent."""
    times: list[float] = []
    stop = time.perf_counter() + TIME_BUDGET_S
    for _ in range(n):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
        if time.perf_counter() > stop:
            break
    return times


def _http_latencies(app: object, bodies: list[dict], n: int) -> np.ndarray:
    """Wall times of up to `n` sequential /predict requests to `app` served on loopback."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for body in bodies[:20]:  # warm-up
                client.post("/predict", json=body).raise_for_status()
            it = iter(range(10**9))

            def one_request() -> None:
                client.post("/predict", json=bodies[next(it) % len(bodies)]).raise_for_status()

            return np.array(_timed(one_request, n))
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def figures(scale: float) -> list[Figure]:
    work = Path(tempfile.mkdtemp(prefix="driftline-bench-serving-"))
    registry = ModelRegistry(work / "registry")
    mv = registry.register(_model(), churn_metadata(threshold=0.5), status="blessed")
    registry.promote(mv.version, reason="bench")
    loaded = registry.scoring_model(mv.version)
    features = [*NUMERIC, *CATEGORICAL]

    # Single records over HTTP vs the raw model on one row.
    data = generate(500, seed=2)
    recs = data[features].astype(object).where(data[features].notna(), None)
    bodies = [{"records": [r]} for r in recs.to_dict(orient="records")]
    rows = [data[features].iloc[[i]] for i in range(len(data))]
    n = max(50, int(500 * scale))

    http = _http_latencies(create_app(registry, Serving(), log_dir=work / "log"), bodies, n)
    journal_app = create_app(
        registry, Serving(log_durability="journal"), log_dir=work / "log-journal"
    )
    journaled = _http_latencies(journal_app, bodies, n)
    it2 = iter(range(10**9))
    raw = np.array(_timed(lambda: loaded.model.predict_proba(rows[next(it2) % len(rows)]), n))
    ms = 1000.0
    out = [
        Figure(AREA, "single-record latency p50", np.percentile(http, 50) * ms,
               np.percentile(raw, 50) * ms, "ms", "raw predict_proba, 1 row"),
        Figure(AREA, "single-record latency p99", np.percentile(http, 99) * ms,
               np.percentile(raw, 99) * ms, "ms", "raw predict_proba, 1 row"),
        Figure(AREA, "single-record requests/s", len(http) / http.sum(), len(raw) / raw.sum(),
               "req/s", "raw predict_proba calls/s"),
        Figure(AREA, "latency p50, journal (fsync per answer)", np.percentile(journaled, 50) * ms,
               np.percentile(http, 50) * ms, "ms", "buffered log (the default)"),
        Figure(AREA, "latency p99, journal (fsync per answer)", np.percentile(journaled, 99) * ms,
               np.percentile(http, 99) * ms, "ms", "buffered log (the default)"),
    ]  # fmt: skip

    # Batch scoring (read, type, score, write Parquet) vs predict_proba on the same rows.
    n_rows = max(10_000, int(500_000 * scale))
    big = generate(n_rows, seed=3)
    source = work / "batch.parquet"
    big.to_parquet(source, index=False)
    frame = big[features]
    raw_s = best_of(lambda: loaded.model.predict_proba(frame), repeat=2)
    scored = best_of(
        lambda: score_files([source], loaded, work / "scored.parquet", passthrough=[ID]), repeat=2
    )
    assert len(pd.read_parquet(work / "scored.parquet", columns=["probability"])) == n_rows
    out.append(
        Figure(AREA, f"batch scoring rows/s ({n_rows} rows)", n_rows / scored, n_rows / raw_s,
               "rows/s", "raw predict_proba", target=">= 0.85x")
    )  # fmt: skip
    return out
