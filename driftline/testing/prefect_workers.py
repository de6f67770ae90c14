"""Prefect workers as child processes, for the production end-to-end test."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from subprocess import Popen

from driftline.orchestration.prefect_server import child


@contextmanager
def prefect_worker(
    pool: str,
    api_url: str,
    home: Path,
    cwd: Path | None = None,
    name: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Popen]:
    """Run `prefect worker start --pool <pool> [--name <name>]` against `api_url`; stop it
    (and the flow runs it started, same process group) after, even when the body raises.

    It polls every 2 s (Prefect's default is 15) and logs to `home/worker-<name or pool>.log`.
    """
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api_url,
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        **(extra_env or {}),
    }
    cmd = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool]
    log = home / f"worker-{name or pool}.log"
    with child([*cmd, "--name", name] if name else cmd, log, env, cwd) as proc:
        yield proc
