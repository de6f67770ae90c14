"""A warm flow runner beside the project's server, so a command does not re-import the stack.

A `driftline run …` flow needs Prefect, pandas, scikit-learn, Great Expectations and
Evidently imported: 5 to 25 s on two busy cores, more than most checks take. `driftline
server start` therefore also starts this runner: one process that imports every flow once
and waits on a Unix socket (in a 0700 folder of this user). A command sends it the flow
spec, its working folder, its environment and its stdin/stdout/stderr; the runner forks a
child that runs the spec exactly as `flow_child` would, in a session of its own, writing
to the command's terminal. The command stops it as it stops a spawned child: SIGKILL to
its process group. The connection stays open in the child until it exits, which is how
the command knows it ended.

Forking is safe here because the runner only imports: it starts no thread of its own and
runs no OpenMP region before forking. When driftline's own source files change, the runner
replaces itself (exec) and that command spawns a fresh process instead (`flow_process`).
Nothing but `python -m driftline.orchestration.warm_runner` is written by hand here, because
neither Prefect nor the standard library keeps a pre-imported process to fork from across
separate commands (`multiprocessing`'s forkserver lives and dies with one parent).
"""

from __future__ import annotations

import gc
import hashlib
import importlib
import json
import os
import random
import signal
import socket
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from pydantic import BaseModel

FLOW_MODULES = (
    "flows.ingest",
    "flows.training",
    "flows.monitoring",
    "flows.scoring",
    "flows.retraining",
)
# Imported on a flow's first call, or by the child itself; imported here, every child
# starts with them.
ENGINE_MODULES = (
    "prefect.flow_engine",
    "prefect.task_engine",
    "pyarrow.dataset",
    "driftline.orchestration.flow_child",
)
STALE = b'{"stale": true}'
MODULE = "driftline.orchestration.warm_runner"


class RunRequest(BaseModel):
    """A command's request: the spec file of its flow, its working folder and environment."""

    flow: str
    spec: str
    cwd: str
    env: dict[str, str]


def socket_path(home: Path) -> Path:
    """A short path (Unix socket paths are limited to ~107 bytes) private to this user."""
    key = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"driftline-{os.getuid()}" / f"{key}.sock"


def _source_roots() -> list[Path]:
    roots = []
    for name in ("driftline", "flows", "tasks"):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            roots.append(Path(module.__file__).parent)
    return roots


def sources_stamp() -> tuple[int, int]:
    """(count, newest mtime) of the loaded modules from driftline's own packages."""
    roots = [str(root) for root in _source_roots()]
    times = []
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and path.startswith(tuple(roots)):
            try:
                times.append(os.stat(path).st_mtime_ns)
            except OSError:
                times.append(-1)
    return len(times), max(times, default=0)


def serve(sock_path: Path) -> None:
    """Import every flow, then fork one child per request until killed."""
    gc.disable()
    import prefect.main  # noqa: F401

    for name in (*FLOW_MODULES, *ENGINE_MODULES):
        importlib.import_module(name)
    # What is imported now is shared with every child: kept out of the collector's scans, a
    # child's garbage collections do not touch (and so copy) those pages (gc.freeze's docs).
    gc.freeze()
    gc.enable()
    stamp = sources_stamp()
    prefect_env = _prefect_env(dict(os.environ))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    sock_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(sock_path.parent, 0o700)
    sock_path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(str(sock_path))
    os.chmod(sock_path, 0o600)
    listener.listen(16)
    print(f"warm runner ready on {sock_path} (pid {os.getpid()})", flush=True)
    while True:
        conn, _ = listener.accept()
        fds: list[int] = []
        try:
            message, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 3)
            if not message:  # a readiness probe: connected and went away
                conn.close()
                continue
            request = RunRequest.model_validate_json(message)
            if sources_stamp() != stamp:
                conn.send(STALE)
                print("driftline's sources changed: restarting", flush=True)
                for fd in fds:
                    os.close(fd)
                os.execv(sys.executable, [sys.executable, "-m", MODULE, str(sock_path)])
            pid = os.fork()
            if pid == 0:
                # Raises SystemExit: never returns into this loop.
                _child(listener, conn, fds, request, prefect_env)
            conn.send(json.dumps({"pid": pid}).encode())
            print(f"forked pid {pid} for {request.flow}", flush=True)
        except Exception as exc:  # one bad request must not end the runner
            print(f"request failed: {exc!r}", flush=True)
        for fd in fds:
            os.close(fd)
        conn.close()


def _child(
    listener: socket.socket,
    conn: socket.socket,
    fds: list[int],
    request: RunRequest,
    prefect_env: dict[str, str],
) -> None:
    """In the forked child: become the command's process, run its spec, exit with its code.
    The connection stays open until this process ends. `prefect_env`: the runner's own
    PREFECT_* variables, which Prefect's settings were read from."""
    code = 1
    try:
        listener.close()
        os.setsid()
        for target, fd in zip((0, 1, 2), fds, strict=True):
            os.dup2(fd, target)
            os.close(fd)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request.cwd)
        os.environ.clear()
        os.environ.update(request.env)
        _fresh_random_state()
        from prefect.context import SettingsContext, get_settings_context
        from prefect.settings import Settings

        from driftline.orchestration.flow_child import reported, run
        from driftline.orchestration.flow_process import REPORTED, FlowSpec

        spec = FlowSpec.model_validate_json(Path(request.spec).read_text())
        with ExitStack() as stack:
            if _prefect_env(request.env) != prefect_env:
                # Prefect read its settings from the runner's environment; the command's count.
                context = SettingsContext(
                    profile=get_settings_context().profile, settings=Settings()
                )
                stack.enter_context(context)
            code = run(spec)
        reported(lambda: conn.send(REPORTED))
    except BaseException as exc:  # report, never fall back into the runner's loop
        print(f"warm runner child failed: {exc!r}", file=sys.stderr, flush=True)
    sys.exit(code)


def _prefect_env(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("PREFECT_")}


def _fresh_random_state() -> None:
    """A fork copies the runner's random state; a new process would start from fresh
    entropy (flow run names, unseeded numpy), so this one does too."""
    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
