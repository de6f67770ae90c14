"""The project's Prefect server: one that keeps running, found by every command.

`driftline server start` (and `driftline serve-flows` / the demo, for as long as they run)
start `prefect server start` with its state in the project (`<state_dir>/prefect`) and
announce it in `<state_dir>/prefect/driftline-server.json` (its API URL, its pid, who
started it). Prefect's own `server.pid` is written beside it, so `prefect server stop` with
the same PREFECT_HOME stops it too, and `prefect server start --background` refuses a
second one on the same database. A record whose process is gone is stale and removed.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from driftline.core.atomic import atomic_path
from driftline.errors import ServerError
from driftline.orchestration import warm_runner
from driftline.orchestration.prefect_server import (
    free_port,
    healthy,
    server_launch,
    server_process,
    spawn,
    wait_healthy,
)

RECORD = "driftline-server.json"
# Prefect's own marker of a background server (prefect.cli._server_utils.SERVER_PID_FILE_NAME).
PREFECT_PID_FILE = "server.pid"
DEFAULT_PORT = 4200


class ServerRecord(BaseModel):
    """A running project server: where it answers and which processes own it."""

    api_url: str
    pid: int
    owner: str
    owner_pid: int
    started_at: str
    log: str
    # The warm flow runner beside it (`warm_runner`), when `driftline server start` runs one.
    runner_pid: int | None = None
    runner_socket: str | None = None

    @property
    def runner(self) -> str | None:
        """The warm runner's socket, if that runner is alive."""
        if self.runner_pid is not None and self.runner_socket and alive(self.runner_pid):
            return self.runner_socket
        return None

    @property
    def ui_url(self) -> str:
        return self.api_url.rstrip("/").removesuffix("/api")

    @property
    def detached(self) -> bool:
        """Started by `driftline server start` (no other process stops it), or orphaned by an
        owner that died without stopping it."""
        return self.owner_pid == self.pid or not alive(self.owner_pid)


def alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie (a zombie has exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    return True


def read_record(home: Path) -> ServerRecord | None:
    """The announced server of this PREFECT_HOME, if its process still runs (a stale record,
    and Prefect's pid file with the same pid, are removed)."""
    path = home / RECORD
    try:
        record = ServerRecord.model_validate_json(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        path.unlink(missing_ok=True)
        return None
    if alive(record.pid):
        return record
    _stop_runner(record)  # its server was stopped without it (`prefect server stop`)
    _forget(home, record)
    return None


def running_server(home: Path, patience: float = 5.0) -> ServerRecord | None:
    """The project's server if one runs and answers (within `patience` seconds: a busy
    SQLite database can make it slow to answer); None otherwise."""
    record = read_record(home)
    if record is None:
        return None
    deadline = time.monotonic() + patience
    while not healthy(record.api_url):
        if time.monotonic() > deadline or not alive(record.pid):
            return None
        time.sleep(0.3)
    return record


def _announce(home: Path, record: ServerRecord) -> None:
    with atomic_path(home / RECORD) as tmp:
        tmp.write_text(record.model_dump_json(indent=2))
    (home / PREFECT_PID_FILE).write_text(str(record.pid))


def _forget(home: Path, record: ServerRecord) -> None:
    """Remove the record and Prefect's pid file, when they still describe `record`."""
    with suppress(FileNotFoundError, ValueError):
        if ServerRecord.model_validate_json((home / RECORD).read_text()).pid == record.pid:
            (home / RECORD).unlink()
    with suppress(FileNotFoundError, ValueError):
        if int((home / PREFECT_PID_FILE).read_text().strip()) == record.pid:
            (home / PREFECT_PID_FILE).unlink()


@contextmanager
def _locked(home: Path) -> Iterator[None]:
    """One start or stop at a time per PREFECT_HOME (an OS lock: it dies with its holder)."""
    home.mkdir(parents=True, exist_ok=True)
    with (home / "driftline-server.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _record(api_url: str, pid: int, owner: str, owner_pid: int, log: Path) -> ServerRecord:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return ServerRecord(
        api_url=api_url, pid=pid, owner=owner, owner_pid=owner_pid, started_at=now, log=str(log)
    )


def start_background(
    home: Path, port: int = DEFAULT_PORT, runner: bool = True, timeout: float = 120
) -> ServerRecord:
    """Start the project's server detached from this process (it outlives it), with the
    warm flow runner beside it (`runner`), wait until it answers, announce it. Returns the
    running one when there is one already.

    Port 0 takes a free port; a port in use is refused naming it.
    """
    with _locked(home):
        existing = running_server(home)
        if existing is not None:
            return existing
        port = port or free_port()
        if not _port_free(port):
            raise ServerError(
                f"port {port} is in use (another Prefect server?); "
                "pass --port N, or --port 0 for a free one"
            )
        cmd, env, api_url = server_launch(home, port)
        log = home / "server.log"
        proc = spawn(cmd, log, env, die_with_parent=False)  # it outlives this command
        # The runner imports the stack while the server starts (both take seconds).
        warm = (
            spawn(
                *_runner_launch(home),
                {**os.environ, "PREFECT_API_URL": api_url},
                die_with_parent=False,
            )
            if runner
            else None
        )
        try:
            wait_healthy(api_url, timeout, proc)
        except BaseException as exc:
            if warm is not None:
                _stop_pid(warm.pid)
            _stop_pid(proc.pid)
            if isinstance(exc, ServerError):
                raise ServerError(f"{exc}; see {log}") from None
            raise
        record = _record(api_url, proc.pid, "driftline server start", proc.pid, log)
        if warm is not None and _wait_runner(home, warm, timeout):
            sock = str(warm_runner.socket_path(home))
            record = record.model_copy(update={"runner_pid": warm.pid, "runner_socket": sock})
        elif warm is not None:
            _stop_pid(warm.pid)
        _announce(home, record)
        return record


def _runner_launch(home: Path) -> tuple[list[str], Path]:
    cmd = [sys.executable, "-m", warm_runner.MODULE, str(warm_runner.socket_path(home))]
    return cmd, home / "runner.log"


def _wait_runner(home: Path, runner: subprocess.Popen, timeout: float) -> bool:
    """Wait until the warm runner accepts connections; False if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and runner.poll() is None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as probe:
            try:
                probe.connect(str(warm_runner.socket_path(home)))
            except OSError:
                time.sleep(0.3)
                continue
        return True
    return False


def stop_background(home: Path, grace: float = 15) -> ServerRecord | None:
    """Stop the project's server (SIGTERM to its process group, SIGKILL after `grace`).
    Refuses one that a running `driftline serve-flows` or demo owns: stopping that process
    stops its server. Returns what was stopped (None: nothing ran)."""
    with _locked(home):
        record = read_record(home)
        if record is None:
            return None
        if not record.detached:
            raise ServerError(
                f"the project's Prefect server (pid {record.pid}) belongs to `{record.owner}` "
                f"(pid {record.owner_pid}); stop that process (Ctrl-C) and the server stops "
                "with it"
            )
        _stop_runner(record, grace)
        _stop_pid(record.pid, grace)
        _forget(home, record)
        return record


def _stop_runner(record: ServerRecord, grace: float = 15) -> None:
    """Stop the record's warm runner, if it runs, and remove its socket file."""
    if record.runner_pid is not None and alive(record.runner_pid):
        _stop_pid(record.runner_pid, grace)
    if record.runner_socket:
        Path(record.runner_socket).unlink(missing_ok=True)


def _stop_pid(pid: int, grace: float = 15) -> None:
    """Stop a session leader that may not be this process's child: SIGTERM to its group,
    poll until it is gone, SIGKILL after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + wait
        while alive(pid) and time.monotonic() < deadline:
            with suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.2)
        if not alive(pid):
            return


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextmanager
def project_api(home: Path, owner: str, port: int | None = None) -> Iterator[str]:
    """The API URL of the project's running server, or of one started here for the body
    (announced, so `driftline run …` uses it meanwhile; stopped after)."""
    existing = running_server(home)
    if existing is not None:
        print(f"using the project's Prefect server: {existing.ui_url} ({existing.owner})")
        yield existing.api_url
        return
    print(f"starting a Prefect server (state in {home}) ...", flush=True)
    with server_process(home, port=port) as server:
        record = _record(
            server.api_url, server.process.pid, owner, os.getpid(), home / "server.log"
        )
        _announce(home, record)
        try:
            yield server.api_url
        finally:
            _forget(home, record)
