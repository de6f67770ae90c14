"""The plumbing under `driftline run …` and `driftline server`, without a Prefect server:
the project server's record, the console without tracebacks, errors, logs, exit codes."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from driftline.errors import DataError, Interrupted, ServerError
from driftline.orchestration import flow_process, server_choice
from driftline.orchestration.flow_child import WithoutTraceback, error_line, route_logs
from driftline.orchestration.flow_process import (
    FlowOutcome,
    FlowRunFailed,
    _outcome,
    command_log,
    stoppable,
)
from driftline.orchestration.project_server import (
    PREFECT_PID_FILE,
    RECORD,
    ServerRecord,
    _announce,
    read_record,
    stop_background,
)


def _record(pid: int, owner_pid: int, owner: str = "driftline server start") -> ServerRecord:
    return ServerRecord(
        api_url="http://127.0.0.1:9/api",
        pid=pid,
        owner=owner,
        owner_pid=owner_pid,
        started_at="2026-01-01T00:00:00+00:00",
        log="server.log",
    )


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_record_of_a_dead_server_is_stale_and_removed_with_prefects_pid_file(
    tmp_path: Path,
) -> None:
    pid = _dead_pid()
    _announce(tmp_path, _record(pid, pid))
    assert (tmp_path / PREFECT_PID_FILE).read_text() == str(pid)
    assert read_record(tmp_path) is None
    assert not (tmp_path / RECORD).exists()
    assert not (tmp_path / PREFECT_PID_FILE).exists()


def test_a_record_of_a_live_server_is_kept(tmp_path: Path) -> None:
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as proc:
        try:
            _announce(tmp_path, _record(proc.pid, proc.pid))
            record = read_record(tmp_path)
            assert record is not None and record.pid == proc.pid and record.detached
        finally:
            proc.kill()


def test_stop_refuses_a_server_that_a_running_serve_flows_owns(tmp_path: Path) -> None:
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as proc:
        try:
            _announce(tmp_path, _record(proc.pid, os.getpid(), "driftline serve-flows"))
            with pytest.raises(ServerError, match="belongs to `driftline serve-flows`"):
                stop_background(tmp_path)
            assert proc.poll() is None
        finally:
            proc.kill()


def test_a_server_whose_owner_died_is_orphaned_and_can_be_stopped(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    _announce(tmp_path, _record(proc.pid, _dead_pid(), "driftline serve-flows"))
    stopped = stop_background(tmp_path, grace=5)
    assert stopped is not None and stopped.pid == proc.pid
    assert proc.wait(timeout=10) == -signal.SIGTERM
    assert read_record(tmp_path) is None


def test_console_lines_carry_no_traceback_but_the_log_file_does(tmp_path: Path) -> None:
    root = logging.getLogger()
    saved = root.handlers[:]
    console = logging.StreamHandler(stream=open(tmp_path / "console.txt", "w"))  # noqa: SIM115
    root.handlers = [console]
    try:
        route_logs(tmp_path / "run.log")
        try:
            raise DataError("data/x.csv: file not found")
        except DataError:
            logging.getLogger("driftline.test").error("Encountered exception", exc_info=True)
        for handler in root.handlers:
            handler.flush()
    finally:
        for handler in root.handlers:
            if handler not in saved:
                handler.close()
        root.handlers = saved
    assert (tmp_path / "console.txt").read_text().strip() == "Encountered exception"
    log = (tmp_path / "run.log").read_text()
    assert "Traceback (most recent call last)" in log
    assert "DataError: data/x.csv: file not found" in log


def test_without_traceback_leaves_the_record_as_it_was() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "msg", (), sys.exc_info())
    assert WithoutTraceback(logging.Formatter()).format(record) == "msg"
    assert "ValueError: boom" in logging.Formatter().format(record)


def test_error_lines_name_driftline_errors_as_they_are_and_others_by_type() -> None:
    assert error_line(DataError("data.csv: file not found")) == "data.csv: file not found"
    assert error_line(KeyError("x")) == "KeyError: 'x'"


def test_a_failed_outcome_is_one_error_line_that_names_the_log(tmp_path: Path) -> None:
    path, log = tmp_path / "outcome.json", tmp_path / "run.log"
    path.write_text(FlowOutcome(ok=False, error="data.csv: file not found").model_dump_json())
    with pytest.raises(FlowRunFailed) as failed:
        _outcome(path, 1, log, int)
    first, second = str(failed.value).splitlines()
    assert first == "data.csv: file not found"
    assert str(log) in second
    with pytest.raises(FlowRunFailed, match="without reporting an outcome"):
        _outcome(tmp_path / "missing.json", None, log, int)
    path.write_text(FlowOutcome(ok=True, value=None).model_dump_json())
    assert _outcome(path, 0, log, int | None) is None


def test_command_logs_keep_only_the_newest(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(flow_process, "KEEP_LOGS", 3)
    folder = tmp_path / "logs"
    folder.mkdir()
    for i in range(5):
        (folder / f"run-train-{i}.log").write_text("x")
        os.utime(folder / f"run-train-{i}.log", (i, i))
    new = command_log(tmp_path, "monitor")
    assert new.parent == folder and new.name.startswith("run-monitor-")
    assert sorted(p.name for p in folder.glob("run-*.log")) == [
        "run-train-2.log",
        "run-train-3.log",
        "run-train-4.log",
    ]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_stoppable_is_interrupted_with_the_shells_exit_code(
    sig: signal.Signals, code: int
) -> None:
    before = signal.getsignal(sig)
    with pytest.raises(Interrupted) as stopped, stoppable():
        os.kill(os.getpid(), sig)
        time.sleep(5)
    assert stopped.value.exit_code == code
    assert signal.getsignal(sig) == before


def test_the_configured_api_url_comes_from_the_environment_first(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PREFECT_PROFILES_PATH", raising=False)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert server_choice.configured_api_url() is None
    monkeypatch.setenv("PREFECT_API_URL", "http://example:4200/api")
    assert server_choice.configured_api_url() == "http://example:4200/api"


def test_a_configured_server_that_does_not_answer_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    with (
        pytest.raises(ServerError, match=r"PREFECT_API_URL=http://127.0.0.1:9/api does not"),
        server_choice.command_server(Path("unused"), print),
    ):
        pass


def test_a_runner_left_behind_by_its_stopped_server_is_stopped_with_the_stale_record(
    tmp_path: Path,
) -> None:
    runner = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    pid = _dead_pid()
    sock = tmp_path / "runner.sock"
    sock.touch()
    update = {"runner_pid": runner.pid, "runner_socket": str(sock)}
    _announce(tmp_path, _record(pid, pid).model_copy(update=update))
    assert read_record(tmp_path) is None
    assert runner.wait(timeout=20) == -signal.SIGTERM
    assert not sock.exists()


def test_a_server_started_for_serve_flows_is_announced_while_it_runs(
    tmp_path: Path, monkeypatch
) -> None:
    """`project_api` (serve-flows, the demo): the server it starts is the project's for as
    long as the body runs, so `driftline run …` uses it; then it is forgotten."""
    from contextlib import contextmanager

    from driftline.orchestration import project_server
    from driftline.orchestration.prefect_server import Server

    server = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )

    @contextmanager
    def fake_server(home: Path, port: int | None = None):
        yield Server("http://127.0.0.1:9/api", server)

    monkeypatch.setattr(project_server, "server_process", fake_server)
    try:
        with project_server.project_api(tmp_path, "driftline serve-flows") as api_url:
            record = read_record(tmp_path)
            assert api_url == "http://127.0.0.1:9/api"
            assert record is not None and record.pid == server.pid
            assert record.owner == "driftline serve-flows" and not record.detached
        assert read_record(tmp_path) is None
    finally:
        server.kill()
