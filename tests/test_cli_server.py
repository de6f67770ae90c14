"""`driftline server` and `driftline run …` typed as a user would, in a shell with no Prefect
settings: commands use the project's running server and its warm runner, a failure is one
clean `error:` line with the traceback in the log, and SIGINT / SIGTERM stop a training run
within seconds, register nothing, leave no process behind and mark the run Cancelled.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import write_project

from driftline.core.config import load_config
from driftline.orchestration.project_server import ServerRecord, alive, read_record

pytestmark = [pytest.mark.server, pytest.mark.slow]

SMALL_TRAINING = {"candidates": ["logistic_regression"], "search_budget": 1}
# A search that takes minutes, so a stop that returns in seconds abandoned it.
LONG_TRAINING = ["--candidate", "random_forest", "--search-budget", "300"]
STOP_WITHIN = 45.0


def user_env() -> dict[str, str]:
    """A user's shell: none of the test session's Prefect settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}


def driftline(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "driftline", *args],
        cwd=cwd,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Command:
    """A `driftline` command running in the background, its output collected by line."""

    def __init__(self, *args: str, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "driftline", *args],
            cwd=cwd,
            env=user_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 300) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := re.search(pattern, line):
                    return match
            assert self.proc.poll() is None, f"exited {self.proc.returncode}:\n{self.output}"
            time.sleep(0.2)
        raise AssertionError(f"no line matching {pattern!r} in:\n{self.output}")

    def finish(self, timeout: float) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code


def wait_until_fitting(api_url: str, timeout: float = 300) -> None:
    """Until a `train-…` task run is Running: the search has started fitting."""
    body = {"task_runs": {"name": {"like_": "train-"}, "state": {"type": {"any_": ["RUNNING"]}}}}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.post(f"{api_url}/task_runs/filter", json=body, timeout=10).json():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("no train task run started")


def project_processes(home: Path) -> list[int]:
    """Live processes whose environment has this project's PREFECT_HOME (every process a
    command starts: the flow child, joblib's workers, a temporary server)."""
    marker = f"PREFECT_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in environ and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def process_group(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.parent.name))
    return members


def versions(folder: Path) -> list[str]:
    cfg = load_config(folder / "driftline.yaml")
    root = cfg.state_path / "registry" / cfg.project / "versions"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def latest_training_run(api_url: str) -> dict:
    body = {"flows": {"name": {"any_": ["training"]}}, "sort": "START_TIME_DESC", "limit": 1}
    return httpx.post(f"{api_url}/flow_runs/filter", json=body, timeout=10).json()[0]


@dataclass(frozen=True)
class Served:
    folder: Path
    home: Path
    record: ServerRecord


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A project whose server `driftline server start` keeps running; stopped after."""
    folder = tmp_path_factory.mktemp("served")
    write_project(folder, training=SMALL_TRAINING)
    started = driftline("server", "start", "--port", "0", cwd=folder)
    assert started.returncode == 0, started.stdout + started.stderr
    home = folder / "state" / "prefect"
    record = read_record(home)
    assert record is not None and record.runner is not None, started.stdout
    yield Served(folder, home, record)
    stopped = driftline("server", "stop", cwd=folder)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not alive(record.pid) and not alive(record.runner_pid or record.pid)
    assert read_record(home) is None
    assert not Path(record.runner_socket or "").exists()


def test_status_says_where_the_server_and_its_runner_run(served: Served) -> None:
    status = driftline("server", "status", cwd=served.folder)
    assert status.returncode == 0, status.stderr
    assert served.record.ui_url in status.stdout
    assert f"warm flow runner: pid {served.record.runner_pid}" in status.stdout
    again = driftline("server", "start", "--port", "0", cwd=served.folder)
    assert again.returncode == 0
    assert f"already running: {served.record.ui_url} (pid {served.record.pid}" in again.stdout


def test_commands_use_the_running_server_and_fork_from_its_runner(served: Served) -> None:
    trained = driftline("run", "train", cwd=served.folder)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "PROMOTED" in trained.stdout
    assert f"Prefect server: {served.record.ui_url} (the project's" in trained.stderr
    assert "temporary" not in trained.stderr
    assert latest_training_run(served.record.api_url)["state_type"] == "COMPLETED"

    batch = served.folder / "data" / "batch_000.csv"
    checked = driftline("run", "monitor", "--source", str(batch), cwd=served.folder)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "alerts:" in checked.stdout  # its summary (a 400-row reference gives no verdict)
    assert "temporary" not in checked.stderr
    runner_log = (served.home / "runner.log").read_text()
    assert "for flows.training:training" in runner_log
    assert "for flows.monitoring:monitoring" in runner_log


def test_a_failed_run_is_one_error_line_and_its_traceback_is_in_the_log(served: Served) -> None:
    batch = served.folder / "data" / "batch_000.csv"
    lines = batch.read_text().splitlines()[:200]
    target = lines[0].split(",").index("churned")
    broken = served.folder / "no-target.csv"
    broken.write_text(
        "\n".join(",".join(c for i, c in enumerate(row.split(",")) if i != target) for row in lines)
    )
    failed = driftline("run", "train", "--data", str(broken), cwd=served.folder)
    assert failed.returncode == 1
    output = failed.stdout + failed.stderr
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {broken}: required column 'churned' is missing"], output
    log = Path(re.search(r"traceback and full log: (\S+)\)", output).group(1))
    assert log.parent == served.folder / "state" / "logs"
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "'churned' is missing" in text


def test_sigterm_stops_a_forked_training_and_marks_the_run_cancelled(served: Served) -> None:
    before = versions(served.folder)
    train = Command("run", "train", *LONG_TRAINING, cwd=served.folder)
    wait_until_fitting(served.record.api_url)
    child = int(
        re.findall(
            r"forked pid (\d+) for flows.training", (served.home / "runner.log").read_text()
        )[-1]
    )
    train.proc.send_signal(signal.SIGTERM)
    assert train.finish(timeout=STOP_WITHIN) == 143, train.output
    assert "interrupted by SIGTERM" in train.output
    assert versions(served.folder) == before
    run = latest_training_run(served.record.api_url)
    assert run["state_type"] == "CANCELLED", run["state"]
    assert "SIGTERM" in run["state"]["message"]
    assert process_group(child) == []
    assert alive(served.record.pid) and alive(served.record.runner_pid or 0)


def test_ctrl_c_stops_training_and_its_temporary_server(tmp_path: Path) -> None:
    write_project(tmp_path, training=SMALL_TRAINING)
    home = tmp_path / "state" / "prefect"
    train = Command("run", "train", *LONG_TRAINING, cwd=tmp_path)
    api_url = train.wait_for(r"Prefect server: (http://\S+) \(temporary").group(1) + "/api"
    wait_until_fitting(api_url)
    assert project_processes(home)
    started = time.monotonic()
    train.proc.send_signal(signal.SIGINT)
    assert train.finish(timeout=STOP_WITHIN) == 130, train.output
    print(f"stopped in {time.monotonic() - started:.1f} s")
    assert "interrupted by SIGINT" in train.output
    assert versions(tmp_path) == []
    assert project_processes(home) == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{api_url}/health", timeout=5)
    with sqlite3.connect(home / "prefect.db") as db:
        states = {
            name: state for name, state in db.execute("SELECT name, state_type FROM flow_run")
        }
    assert set(states.values()) == {"CANCELLED"}, states
