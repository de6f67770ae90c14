"""How a `driftline run …` command runs its flow: in a child process it can stop at once.

Fits run in threads (and joblib's worker processes) that nothing can interrupt, so a flow
run in the command's own process ignores Ctrl-C until its fits end. The command instead
runs the flow in a child process in a session of its own (`flow_child`) and waits. On
SIGINT, SIGTERM or SIGHUP it kills the child's whole process group (the fits with it: no
step after the running one starts, so nothing is registered or promoted), marks the flow
run and its subflows and task runs Cancelled on the server, stops a temporary server, and
exits 128 + the signal (130, 143). The child's console output shows no tracebacks; they go
to the command's log file under `<state_dir>/logs/`, which a failure names.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from driftline.errors import DriftlineError, Interrupted
from driftline.orchestration.prefect_server import spawn
from driftline.orchestration.server_choice import command_server

# How a child tells the command its outcome is written: this line, on a pipe whose file
# descriptor is in REPORT_FD (spawned), or on the warm runner's connection (forked).
REPORTED = b"reported"
REPORT_FD = "DRIFTLINE_REPORT_FD"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
KEEP_LOGS = 50


class FlowSpec(BaseModel):
    """What the child runs (`module:flow` with keyword parameters) and where it reports."""

    flow: str
    parameters: dict[str, Any]
    log: str
    outcome: str
    flow_run_id: str


class FlowOutcome(BaseModel):
    """What the child reports: the flow's return value (JSON), or the error's one line."""

    ok: bool
    value: Any = None
    error: str | None = None


class FlowRunFailed(DriftlineError, RuntimeError):
    """A flow run of a command failed; the message is its error, with the log to read."""


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@contextmanager
def stoppable() -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGHUP into `Interrupted` in this (main) thread. After the
    first, further signals are ignored: the clean-up that follows is bounded."""

    def handler(signum: int, _frame: object) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def command_log(state_path: Path, command: str) -> Path:
    """A new log file for one command, `<state>/logs/run-<command>-<time>-<pid>.log`; the
    oldest beyond the last KEEP_LOGS are removed."""
    folder = state_path / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    for old in sorted(folder.glob("run-*.log"), key=lambda p: p.stat().st_mtime)[:-KEEP_LOGS]:
        old.unlink(missing_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    return folder / f"run-{command}-{stamp}-{os.getpid()}.log"


def run_flow(
    state_path: Path,
    command: str,
    flow: str,
    parameters: dict[str, Any],
    returns: Any,
    say: Callable[[str], None] = _stderr,
) -> Any:
    """Run `flow` ("module:name") with `parameters` in a child process (forked by the warm
    runner when the project's server has one, else spawned) against the server the command
    uses (`command_server`); return its value validated as `returns`.

    Raises `FlowRunFailed` (its error, and the log with the traceback) when the run fails,
    `Interrupted` when a signal stopped it.
    """
    log = command_log(state_path, command)
    with (
        stoppable(),
        command_server(state_path / "prefect", say) as server,
        tempfile.TemporaryDirectory(prefix="driftline-run-") as tmp,
    ):
        spec = FlowSpec(
            flow=flow,
            parameters=parameters,
            log=str(log),
            outcome=str(Path(tmp) / "outcome.json"),
            flow_run_id=str(Path(tmp) / "flow_run_id"),
        )
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(spec.model_dump_json())
        env = {**os.environ, "PREFECT_API_URL": server.api_url}
        proc = start_child(spec, spec_path, env, server.runner_socket)
        try:
            reported = proc.wait_reported()
            if not (reported and server.outlives_command):
                proc.wait_exit()  # a temporary server must outlive the child's last words
                proc.kill()
        except BaseException as exc:
            proc.kill()
            if isinstance(exc, Interrupted):
                say(f"\n{exc}: stopping the {command} run ...")
                cancelled = abandon(
                    server.api_url, Path(spec.flow_run_id), f"{exc} (driftline run)"
                )
                say(
                    f"stopped: {cancelled or 'no flow run had started'}; the running step was "
                    "abandoned and no later step ran"
                )
            raise
        # Reported and the server stays: the child's exit (sending its last logs and events,
        # then Python's own teardown, about a second) goes on without holding the command.
        return _outcome(Path(spec.outcome), proc.returncode, log, returns)


def _outcome(path: Path, code: int | None, log: Path, returns: Any) -> Any:
    try:
        outcome = FlowOutcome.model_validate_json(path.read_text())
    except (OSError, ValueError):
        how = f" (exit code {code})" if code is not None else ""
        raise FlowRunFailed(
            f"the flow process ended without reporting an outcome{how}; see {log}"
        ) from None
    if not outcome.ok:
        raise FlowRunFailed(f"{outcome.error}\n(traceback and full log: {log})")
    return TypeAdapter(returns).validate_python(outcome.value)


class SpawnedChild:
    """A flow child started as `python -m driftline.orchestration.flow_child SPEC`; it
    writes to a pipe once its outcome is written (`flow_child.REPORTED`)."""

    def __init__(self, spec_path: Path, env: dict[str, str]) -> None:
        cmd = [sys.executable, "-m", "driftline.orchestration.flow_child", str(spec_path)]
        read, write = os.pipe()
        try:
            self.proc = spawn(cmd, None, {**env, REPORT_FD: str(write)}, pass_fds=(write,))
        finally:
            os.close(write)
        self.reports = os.fdopen(read, "rb", buffering=0)

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def wait_reported(self) -> bool:
        """Block until the child has written its outcome (True) or ended without (False)."""
        return REPORTED in self.reports.read(len(REPORTED))

    def wait_exit(self) -> None:
        self.proc.wait()

    def kill(self) -> None:
        """SIGKILL its process group (the child, joblib's workers, anything they started)."""
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.reports.close()


class WarmChild:
    """A flow child forked by the project's warm runner (`warm_runner`): it sends REPORTED
    on the connection once its outcome is written; the connection ends when it does."""

    returncode = None

    def __init__(self, conn: socket.socket, pid: int) -> None:
        self.conn, self.pid = conn, pid

    @classmethod
    def start(
        cls, sock: str, spec: FlowSpec, spec_path: Path, env: dict[str, str]
    ) -> WarmChild | None:
        """Ask the runner to fork a child for the spec; None when the runner cannot (gone,
        busy restarting, or its code is stale)."""
        from driftline.orchestration.warm_runner import RunRequest

        request = RunRequest(flow=spec.flow, spec=str(spec_path), cwd=os.getcwd(), env=env)
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            conn.settimeout(10)
            conn.connect(sock)
            socket.send_fds(conn, [request.model_dump_json().encode()], [0, 1, 2])
            reply = json.loads(conn.recv(4096) or b"{}")
        except (OSError, ValueError):
            conn.close()
            return None
        if "pid" not in reply:
            conn.close()
            return None
        conn.settimeout(None)
        return cls(conn, int(reply["pid"]))

    def wait_reported(self) -> bool:
        return self.conn.recv(4096) == REPORTED

    def wait_exit(self) -> None:
        while self.conn.fileno() >= 0 and self.conn.recv(4096):
            pass

    def kill(self) -> None:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with suppress(OSError):
            self.wait_exit()
        self.conn.close()


def start_child(
    spec: FlowSpec, spec_path: Path, env: dict[str, str], runner_socket: str | None
) -> SpawnedChild | WarmChild:
    """A child from the warm runner when there is one that can, else a spawned one."""
    warm = WarmChild.start(runner_socket, spec, spec_path, env) if runner_socket else None
    return warm or SpawnedChild(spec_path, env)


def abandon(api_url: str, id_file: Path, reason: str) -> str | None:
    """Mark the killed run, its subflow runs and their unfinished task runs Cancelled, so
    the server (and its UI) does not show them running forever. Returns what was marked."""
    try:
        flow_run_id = id_file.read_text().strip()
    except FileNotFoundError:
        return None
    import httpx

    from driftline.orchestration.run_states import cancel_flow_run

    try:
        return cancel_flow_run(api_url, flow_run_id, reason)
    except httpx.HTTPError as exc:  # the server may be gone too; the run is stopped anyway
        return f"flow run {flow_run_id} (not marked cancelled: {exc})"
