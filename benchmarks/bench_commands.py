"""What a `driftline run …` command costs on top of its flow: `driftline run monitor --source
FILE` on a 30k-row (x scale) batch, typed as a user would, in a shell with no Prefect
settings.

The baseline is the bare flow function (`flows.monitoring.monitoring`) called in this warm
process against the same running server: the drift check itself, with nothing to import
and no server to start. The command is timed three ways in the same run: with the
project's server and its warm runner (`driftline server start`), with the server but no
runner (`--no-runner`: each command imports the stack), and with no server (each command
starts a temporary one, as before `driftline server start` existed). Each figure is the
best of a few runs; the overhead figures are command minus bare function, against the
overhead with a temporary server. The runner's resident memory is reported against the
Prefect server's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from prefect.settings import PREFECT_API_URL, temporary_settings

from benchmarks.harness import Figure, best_of
from driftline.core.generator import write_batches
from driftline.orchestration.project_server import read_record

AREA = "commands"
ROOT = Path(__file__).resolve().parents[1]
TRAINING = {"candidates": ["logistic_regression"], "search_budget": 1}
REPEAT = 3


def _env() -> dict[str, str]:
    """A user's shell: none of this process's Prefect settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}


def _driftline(folder: Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "driftline", *args],
        cwd=folder,
        env=_env(),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"driftline {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def _project(folder: Path, rows: int) -> Path:
    raw = yaml.safe_load((ROOT / "driftline.yaml").read_text())
    raw["data"] = {"source": "data/train"}
    raw["state_dir"] = "state"
    raw["expectations"] = {"suite": "churn", "directory": str(ROOT / "expectations")}
    raw["training"] = TRAINING
    (folder / "driftline.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    write_batches(folder / "data" / "train", n_rows=4000, n_batches=1, seed=0)
    write_batches(folder / "data" / "batch", n_rows=rows, n_batches=1, seed=3, start_id=10**6)
    return folder / "data" / "batch" / "batch_000.csv"


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def figures(scale: float) -> list[Figure]:
    rows = max(1000, int(30_000 * scale))
    with tempfile.TemporaryDirectory(prefix="driftline-bench-commands-") as tmp:
        folder = Path(tmp)
        batch = _project(folder, rows)
        home = folder / "state" / "prefect"
        monitor = ("run", "monitor", "--source", str(batch))

        def command() -> None:
            _driftline(folder, *monitor)

        _driftline(folder, "server", "start", "--port", "0")
        try:
            _driftline(folder, "run", "train")
            record = read_record(home)
            assert record is not None and record.runner_pid is not None
            runner_mb, server_mb = _rss_mb(record.runner_pid), _rss_mb(record.pid)
            from flows.monitoring import monitoring

            def bare_flow() -> None:
                monitoring(config_path="driftline.yaml", source=str(batch))

            os.chdir(folder)
            with temporary_settings({PREFECT_API_URL: record.api_url}):
                bare_flow()  # imports and first-call costs: not the check's
                # Interleaved, so both sides see the same background load.
                timings = [(best_of(command, 1), best_of(bare_flow, 1)) for _ in range(REPEAT)]
            warm, bare = min(t[0] for t in timings), min(t[1] for t in timings)
        finally:
            os.chdir(ROOT)
            _driftline(folder, "server", "stop")
        _driftline(folder, "server", "start", "--port", "0", "--no-runner")
        try:
            cold = best_of(command, REPEAT)
        finally:
            _driftline(folder, "server", "stop")
        temporary = best_of(command, 2)

    label = f"run monitor --source ({rows:,} rows)"
    before = temporary - bare
    return [
        Figure(AREA, f"{label}: server + warm runner", warm, bare, "s", "bare flow fn"),
        Figure(
            AREA,
            "per-command overhead: server + warm runner",
            warm - bare,
            before,
            "s",
            "overhead, temporary server",
            "<= 3 s",
        ),
        Figure(
            AREA,
            "per-command overhead: server, no runner",
            cold - bare,
            before,
            "s",
            "overhead, temporary server",
        ),
        Figure(AREA, f"{label}: temporary server", temporary, bare, "s", "bare flow fn"),
        Figure(AREA, "warm runner memory (RSS)", runner_mb, server_mb, "MB", "Prefect server"),
    ]
