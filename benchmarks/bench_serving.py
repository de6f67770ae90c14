"""Serving: `driftline serve` vs a minimal FastAPI app on the same model file, under `wrk`.

Both servers run as real processes on loopback and get the same single-record POST /predict
bodies from `wrk` (Debian's package, installed with apt-get when missing) at concurrency 1,
8 and 32, one wrk thread: requests/s, p50, p99 and errors, side by side, plus the CPU the load
tool itself used (so it is seen not to be the bottleneck). Neither server writes an access
log line per request (`driftline serve --no-access-log`; the minimal app logs warnings only).
After each driftline server stops (SIGTERM, flushing its log), its prediction log is counted
against the answers wrk saw.
Then the cost of each step of a request, in-process, for a lone request and per request in
a batch of 32 (the transform both by scikit-learn's ColumnTransformer and by the lean copy the
server serves, `driftline.apps.serving.lean`); the journal's cost; batch scoring vs predict_proba.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import yaml

from benchmarks.harness import Figure, best_of
from driftline.apps.serving.holder import Arms, ModelHolder
from driftline.apps.serving.lean import LeanPipeline, lean
from driftline.apps.serving.schema import predict_request_model, predict_response_model
from driftline.apps.serving.scorer import BatchScorer, Job, fast_sklearn, log_rows
from driftline.core.batch_scoring import score_files
from driftline.core.candidates import build_pipeline
from driftline.core.config import FeatureSelection, Serving, load_config
from driftline.core.generator import CATEGORICAL, ID, NUMERIC, SCHEMA, generate, write_batches
from driftline.core.scoring import to_frame
from driftline.storage.log_writer import PredictionLog
from driftline.storage.prediction_log import log_root, read_prediction_log
from driftline.storage.registry import ModelRegistry
from driftline.storage.request_ids import RequestIds
from driftline.testing.models import churn_metadata

AREA = "serving"
ROOT = Path(__file__).resolve().parents[1]
LUA = Path(__file__).with_name("wrk_predict.lua")
CONCURRENCY = (1, 8, 32)
FEATURES = [*NUMERIC, *CATEGORICAL]


def _model() -> object:
    """The project's own logistic-regression pipeline, fitted on generated data."""
    df = generate(5000, seed=1)
    pipeline = build_pipeline("logistic_regression", SCHEMA, FeatureSelection(), seed=1)
    return pipeline.fit(df[FEATURES], df.churned)


def _wrk() -> str:
    """The wrk binary, installed from Debian's packages when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk (apt-get install -y wrk) ...", flush=True)
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=True)
        subprocess.run(install, capture_output=True, check=True)
    found = shutil.which("wrk")
    assert found, "apt-get installed no wrk"
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Load:
    """One wrk run."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    tool_cpu: float  # wrk's CPU seconds per wall second

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def _run_wrk(wrk: str, url: str, bodies: Path, connections: int, seconds: float) -> Load:
    cmd = [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s", "-s", str(LUA)]
    proc = subprocess.Popen(
        [*cmd, f"{url}/predict"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=os.environ | {"BODIES": str(bodies)},
    )
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)", out)
    assert match, f"wrk said: {out}"
    n, us, p50, p99, status_errors, socket_errors = (int(g) for g in match.groups())
    return Load(
        requests=n,
        seconds=us / 1e6,
        p50_ms=p50 / 1000,
        p99_ms=p99 / 1000,
        errors=status_errors + socket_errors,
        tool_cpu=(usage.ru_utime + usage.ru_stime) / (us / 1e6),
    )


class Server:
    """A server process on loopback, started and stopped (SIGTERM) around a `with`."""

    def __init__(self, cmd: list[str], port: int) -> None:
        self.cmd = cmd
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.url}/docs", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"{self.cmd[:3]} did not start: {err[-2000:]}")
            time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _project(work: Path, **serving: Any) -> Path:
    """The demo's config with its state in `work`, serving settings `serving`."""
    raw = yaml.safe_load((ROOT / "driftline.yaml").read_text())
    write_batches(work / "data", n_rows=200, n_batches=1, seed=0)
    raw.pop("monitoring", None)
    raw |= {"data": {"source": "data"}, "state_dir": "state", "serving": serving}
    raw["expectations"] = {"suite": "churn", "directory": str(ROOT / "expectations")}
    path = work / "driftline.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _bodies(work: Path) -> tuple[Path, list[dict[str, Any]]]:
    """200 single-record bodies (complete rows: the minimal app has no missing-value care)."""
    data = generate(1000, seed=2)[FEATURES].dropna().head(200)
    recs = data.astype(object).to_dict(orient="records")
    path = work / "bodies.jsonl"
    path.write_text("".join(json.dumps({"records": [r]}) + "\n" for r in recs))
    return path, recs


def _load_table(
    wrk: str, servers: dict[str, Callable[[], Server]], bodies: Path, seconds: float
) -> dict[tuple[str, int], Load]:
    """Every server at every concurrency; `(name, 0)` is its warm-up run (8 connections)."""
    out: dict[tuple[str, int], Load] = {}
    for name, make in servers.items():
        with make() as server:
            out[name, 0] = _run_wrk(wrk, server.url, bodies, 8, min(2.0, seconds))
            for c in CONCURRENCY:
                out[name, c] = _run_wrk(wrk, server.url, bodies, c, seconds)
                time.sleep(0.5)
    return out


def _print_load(loads: dict[tuple[str, int], Load]) -> None:
    print(f"\nserving under wrk (1 thread, loopback); load: {os.getloadavg()}")
    print(
        f"{'server':<28}{'c':>4}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'wrk cpu':>9}"
    )
    for (name, c), r in loads.items():
        if c == 0:
            continue
        print(
            f"{name:<28}{c:>4}{r.rps:>10.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.errors:>8}"
            f"{r.tool_cpu:>9.0%}"
        )


def _steps(
    scorer: BatchScorer, loaded: Any, records: list[dict[str, Any]]
) -> dict[str, Callable[[], Any]]:
    """Each step of scoring these single-record requests together, as a call to time."""
    spec = scorer.spec
    request_model = predict_request_model(spec, 1000)
    raw = [json.dumps({"records": [r]}).encode() for r in records]
    parsed = [json.loads(b) for b in raw]
    jobs = [Job(request_model.model_validate(p).records) for p in parsed]  # type: ignore[attr-defined]
    columns = scorer.columns(jobs)
    frame = to_frame(columns, spec)
    prepare, estimator = loaded.model[:-1], loaded.model[-1]
    with fast_sklearn():
        x = prepare.transform(frame)
        scored = scorer.score(Arms(champion=loaded), frame, columns)
    n = len(records)
    ids = [f"r{i}" for i in range(n)]

    copied = lean(loaded.model)
    assert isinstance(copied, LeanPipeline)

    def transform() -> Any:
        with fast_sklearn():
            return prepare.transform(frame)

    def lean_transform() -> Any:
        with fast_sklearn():
            return copied._features(frame)

    def estimate() -> Any:
        with fast_sklearn():
            return estimator.predict_proba(x)

    def append() -> Any:
        rows = log_rows(columns, ids, ids, scored, served=True, latency_ms=[0.0] * n)
        return scorer.predlog.append_groups(rows, [1] * n)

    return {
        "parse JSON": lambda: [json.loads(b) for b in raw],
        "validate (pydantic)": lambda: [request_model.model_validate(p) for p in parsed],
        "frame building": lambda: to_frame(scorer.columns(jobs), spec),
        "transform, scikit-learn's path": transform,
        "transform, lean copy (served)": lean_transform,
        "estimator (predict_proba)": estimate,
        "log rows + append": append,
        "response JSON": lambda: [
            scorer.response(ids[i : i + 1], scored.rows(i, i + 1)) for i in range(n)
        ],
    }


def _fastest(fn: Callable[[], Any], n: int) -> float:
    """The fastest of `n` calls, in seconds (steps this short need no gc.collect between)."""
    fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _step_costs(loaded: Any, recs: list[dict[str, Any]], work: Path) -> dict[str, dict[int, float]]:
    """Microseconds per request of each step, for a lone request and within a batch of 32."""
    scorer = BatchScorer(
        ModelHolder(ModelRegistry(work / "steps-registry")),
        loaded.spec,
        Serving(),
        PredictionLog(work / "steps-log", flush_rows=10**9, buffer_rows=10**9),
        RequestIds(work / "steps-log"),
        predict_response_model(loaded.spec),
    )
    costs: dict[str, dict[int, float]] = {}
    for size in (1, 32):
        for name, fn in _steps(scorer, loaded, recs[:size]).items():
            costs.setdefault(name, {})[size] = _fastest(fn, 100 if size == 1 else 30) / size * 1e6
    scorer.close()
    return costs


def figures(scale: float) -> list[Figure]:
    work = Path(tempfile.mkdtemp(prefix="driftline-bench-serving-"))
    seconds = max(3.0, 10.0 * scale)
    wrk = _wrk()
    bodies, recs = _bodies(work)
    cli = str(Path(sys.executable).with_name("driftline"))

    projects = {
        name: _project(work / name, **serving)
        for name, serving in {
            "buffered": {},
            "journal": {"log_durability": "journal"},
        }.items()
    }
    model = _model()
    for config in projects.values():
        registry = ModelRegistry.for_config(load_config(config))
        mv = registry.register(model, churn_metadata(threshold=0.5), status="blessed")
        registry.promote(mv.version, reason="bench")
    registry = ModelRegistry.for_config(load_config(projects["buffered"]))
    champion = registry.alias("champion")
    assert champion is not None
    model_file = Path(registry.get(champion.version).uri) / "model.joblib"

    def driftline(config: Path, workers: int) -> Callable[[], Server]:
        def make() -> Server:
            port = _free_port()
            cmd = [cli, "serve", "--config", str(config), "--port", str(port), "--no-access-log"]
            return Server([*cmd, "--workers", str(workers)], port)

        return make

    def minimal() -> Server:
        port = _free_port()
        return Server(
            [sys.executable, "-m", "benchmarks.minimal_app", str(model_file), str(port)], port
        )

    servers = {
        "minimal FastAPI app": minimal,
        "driftline serve": driftline(projects["buffered"], 1),
        "driftline serve --workers 2": driftline(projects["buffered"], 2),
        "driftline serve, journal": driftline(projects["journal"], 1),
    }
    loads = _load_table(wrk, servers, bodies, seconds)
    _print_load(loads)
    answered = sum(  # warm-ups included: their answers are logged too
        r.requests - r.errors for (name, _), r in loads.items() if name.startswith("driftline")
    )
    logged = sum(len(read_prediction_log(log_root(load_config(c)))) for c in projects.values())

    base, ours, two = "minimal FastAPI app", "driftline serve", "driftline serve --workers 2"
    best32 = max((ours, two), key=lambda n: loads[n, 32].rps)
    ms = "ms"
    out = [
        Figure(AREA, "c=1 p99 (driftline serve)", loads[ours, 1].p99_ms, loads[base, 1].p99_ms,
               ms, "minimal app", target="<= 10 ms"),
        Figure(AREA, "c=1 p50 (driftline serve)", loads[ours, 1].p50_ms, loads[base, 1].p50_ms,
               ms, "minimal app"),
    ]  # fmt: skip
    for name in (ours, two):
        for c in (8, 32):
            out.append(
                Figure(AREA, f"c={c} req/s ({name.removeprefix('driftline ')})",
                       loads[name, c].rps, loads[base, c].rps, "req/s", "minimal app",
                       target=">= 5x" if c == 32 and name == best32 else "")
            )  # fmt: skip
        out.append(
            Figure(AREA, f"c=32 p99 ({name.removeprefix('driftline ')})", loads[name, 32].p99_ms,
                   loads[base, 32].p99_ms, ms, "minimal app",
                   target="<= 50 ms" if name == best32 else "")
        )  # fmt: skip
    journal = "driftline serve, journal"
    out += [
        Figure(AREA, "c=32 req/s, journal (fsync per batch)", loads[journal, 32].rps,
               loads[ours, 32].rps, "req/s", "buffered log (the default)"),
        Figure(AREA, "c=1 p99, journal (fsync per answer)", loads[journal, 1].p99_ms,
               loads[ours, 1].p99_ms, ms, "buffered log (the default)"),
        Figure(AREA, "errors, all runs", sum(r.errors for r in loads.values()), 0, "",
            "none", target="0"),
        Figure(AREA, "predictions logged / answered (all driftline runs)", logged, answered,
               "rows", "requests wrk saw answered", target=">= 1 (in flight at the end: more)"),
        Figure(AREA, "wrk CPU share, c=32 (load tool not the bottleneck)",
               loads[best32, 32].tool_cpu * 100, 100, "%", "one core"),
    ]  # fmt: skip

    # What each step of a request costs, in-process (the same model and schema).
    loaded = registry.scoring_model(champion.version)
    costs = _step_costs(loaded, recs, work)
    print("\ncost per request of each step (us): a lone request | within a batch of 32")
    for name, by in costs.items():
        print(f"  {name:<32}{by[1]:>10.1f}{by[32]:>10.1f}")
    for name, by in costs.items():
        out.append(Figure(AREA, f"step: {name}, per request in a batch of 32", by[32], by[1],
                          "us", "a lone request"))  # fmt: skip

    # Batch scoring (read, type, score, write Parquet) vs predict_proba on the same rows.
    n_rows = max(10_000, int(500_000 * scale))
    big = generate(n_rows, seed=3)
    source = work / "batch.parquet"
    big.to_parquet(source, index=False)
    frame = big[FEATURES]
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
