"""A real Prefect server in the background, with its state inside the project.

Schedules and event triggers need one (the temporary server of a bare flow run runs no
scheduler, and every emitting process would start its own). `prefect server start` is the
real thing; this only starts it as a child process, waits until it answers, and stops it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import NamedTuple

from driftline.errors import ServerError

# Server settings driftline runs with (the caller's extra_env wins). A run waiting for a
# deployment concurrency slot (retraining duplicates) retries after this many seconds instead
# of 30, so a burst of alerts resolves into recorded skips within seconds.
SERVER_ENV: dict[str, str] = {"PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "3"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(api_url: str, timeout: float = 2.0) -> bool:
    """Whether `<api>/health` answers 200. The standard library's client: every command
    asks this first, and importing httpx costs it 0.2 to 0.5 s."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as reply:
            return reply.status == 200
    except (OSError, ValueError):
        return False


def wait_healthy(api_url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Poll `<api>/health` until the server answers (or the process dies, or time runs out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServerError(f"Prefect server exited with code {proc.returncode}")
        if healthy(api_url):
            return
        time.sleep(0.3)
    raise ServerError(f"Prefect server at {api_url} did not answer within {timeout:.0f} s")


def _die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` asking Linux to SIGTERM the child when this process dies (however it
    dies: a `finally` cannot run after kill -9); None where prctl is not available."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:  # runs in the child between fork and exec: no Python locks here
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


_PR_SET_PDEATHSIG = 1


def spawn(
    cmd: Sequence[str],
    log: Path | None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    die_with_parent: bool = True,
    pass_fds: Sequence[int] = (),
) -> subprocess.Popen:
    """Start a process in a session of its own (a terminal's Ctrl-C does not reach it; its
    group can be stopped as one), its output appended to `log` (None: this process's own
    stdout and stderr), with `pass_fds` open in it; with `die_with_parent`, sent SIGTERM by
    the kernel when this process is killed outright."""
    with ExitStack() as stack:
        out = None
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            out = stack.enter_context(log.open("ab"))
        return subprocess.Popen(
            list(cmd),
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,
            preexec_fn=_die_with_parent() if die_with_parent else None,
            pass_fds=tuple(pass_fds),
        )


@contextmanager
def child(
    cmd: Sequence[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    die_with_parent: bool = True,
) -> Iterator[subprocess.Popen]:
    """`spawn`, and stop the process (SIGTERM to its group, then SIGKILL) when the body ends,
    even when it raises."""
    proc = spawn(cmd, log, env, cwd, die_with_parent)
    try:
        yield proc
    finally:
        stop_process(proc)


def server_launch(
    home: Path, port: int, extra_env: Mapping[str, str] | None = None
) -> tuple[list[str], dict[str, str], str]:
    """The one way driftline starts a Prefect server: `prefect server start` on 127.0.0.1
    with PREFECT_HOME=`home` (its database, its log `home/server.log`). Returns the command,
    its environment and the API URL it will answer on."""
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": api_url,
        **SERVER_ENV,
        **(extra_env or {}),
    }
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    return [*cmd, "--port", str(port)], env, api_url


class Server(NamedTuple):
    api_url: str
    process: subprocess.Popen


@contextmanager
def server_process(
    home: Path,
    port: int | None = None,
    timeout: float = 90,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    """Run `prefect server start` with PREFECT_HOME=`home` until it answers; yield it; stop
    it after (SIGTERM, then SIGKILL), even when the body raises. Output: `home/server.log`."""
    home.mkdir(parents=True, exist_ok=True)
    cmd, env, api_url = server_launch(home, port or free_port(), extra_env)
    with child(cmd, home / "server.log", env) as proc:
        try:
            wait_healthy(api_url, timeout, proc)
        except ServerError as exc:
            raise ServerError(f"{exc}; see {home / 'server.log'}") from None
        yield Server(api_url, proc)


@contextmanager
def prefect_server(
    home: Path,
    port: int | None = None,
    timeout: float = 90,
    extra_env: dict[str, str] | None = None,
) -> Iterator[str]:
    """`server_process`, yielding only its API URL."""
    with server_process(home, port, timeout, extra_env) as server:
        yield server.api_url


def _exists(url: str) -> bool:
    import httpx

    return httpx.get(url, timeout=5).status_code == 200


def _automations(api_url: str) -> int:
    import httpx

    reply = httpx.post(f"{api_url}/automations/filter", json={}, timeout=5)
    return len(reply.json()) if reply.status_code == 200 else 0


def wait_for_deployments(
    api_url: str,
    names: Sequence[str],
    timeout: float,
    proc: subprocess.Popen | None = None,
    automations: int = 0,
) -> None:
    """Poll until every `flow/deployment` name exists on the server, and at least
    `automations` automations (a served trigger is created after its deployment, so an event
    sent before then would start nothing)."""
    import httpx

    deadline = time.monotonic() + timeout
    missing = list(names)
    found = 0
    while missing or found < automations:
        if proc is not None and proc.poll() is not None:
            raise ServerError(f"serving process exited with code {proc.returncode}")
        if time.monotonic() > deadline:
            raise ServerError(
                f"deployments {missing} / {automations - found} trigger(s) not registered "
                f"within {timeout:.0f} s"
            )
        with suppress(httpx.HTTPError):
            missing = [n for n in missing if not _exists(f"{api_url}/deployments/name/{n}")]
            found = _automations(api_url) if automations else 0
        time.sleep(0.3)


@contextmanager
def served_flows(
    config: Path,
    api_url: str,
    env: Mapping[str, str],
    log: Path,
    expect: Sequence[str],
    args: Sequence[str] = (),
    timeout: float = 120,
    automations: int = 1,
) -> Iterator[subprocess.Popen]:
    """Run `driftline serve-flows` against `api_url` as a child process (for the demo, tests
    and benchmarks); yield once the `expect`ed `flow/deployment`s and the `automations`
    (event triggers) exist; stop it after."""
    cmd = [sys.executable, "-m", "driftline", "serve-flows", "--config", str(config)]
    with child(
        [*cmd, "--api-url", api_url, *args], log, {**env, "PREFECT_API_URL": api_url}
    ) as proc:
        try:
            wait_for_deployments(api_url, expect, timeout, proc, automations)
        except ServerError as exc:
            raise ServerError(f"{exc}; see {log}") from None
        yield proc


def ui_url(api_url: str) -> str:
    """The UI's address for an API URL (the API is served under `/api`)."""
    return api_url.rstrip("/").removesuffix("/api")


def stop_process(proc: subprocess.Popen, grace: float = 15) -> None:
    """Stop a child started in its own session: SIGTERM to its group, SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass
