"""Which Prefect server a `driftline run …` command runs its flow against, and saying so.

The configured PREFECT_API_URL when there is one (as Prefect resolves it); else the
project's running server (`project_server`), with its warm runner; else a temporary server
started for the command and stopped after it, as before there was a project server.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from driftline.errors import ServerError
from driftline.orchestration.prefect_server import healthy, prefect_server
from driftline.orchestration.project_server import running_server

# A temporary server answers one command: no scheduler creating runs of the project's
# deployments while it is up, and no late-run marking (as Prefect's own temporary server).
TEMPORARY_SERVER_ENV = {
    "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false",
}
_SETTINGS_FILES = ("prefect.toml", "pyproject.toml", ".env")
_SETTING_HINTS = ("PREFECT_API_URL", "[api]", "tool.prefect")


def configured_api_url() -> str | None:
    """PREFECT_API_URL as Prefect resolves it: the environment, then `.env`, `prefect.toml`,
    `pyproject.toml` ([tool.prefect]) and the active profile. Importing Prefect's settings
    costs about 2 s, so they are read only when one of those files could set it."""
    if url := os.environ.get("PREFECT_API_URL"):
        return url
    home = Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser()
    profiles = Path(os.environ.get("PREFECT_PROFILES_PATH", home / "profiles.toml"))
    files = [profiles.expanduser(), *map(Path, _SETTINGS_FILES)]
    if not any(_mentions_api(f) for f in files):
        return None
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


def _mentions_api(path: Path) -> bool:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return False
    return any(hint in text for hint in _SETTING_HINTS)


class ServerInUse(NamedTuple):
    api_url: str
    # The server keeps running after the command (not a temporary one).
    outlives_command: bool
    runner_socket: str | None = None


@contextmanager
def command_server(home: Path, say: Callable[[str], None]) -> Iterator[ServerInUse]:
    """The API URL a `driftline run …` command runs its flow against, saying which: the
    configured PREFECT_API_URL; else the project's running server; else a temporary one,
    started here with its state in `home` and stopped when the body ends."""
    configured = configured_api_url()
    if configured:
        if not healthy(configured, timeout=5):
            raise ServerError(
                f"PREFECT_API_URL={configured} does not answer; start that server, or unset "
                "PREFECT_API_URL to use the project's server (`driftline server start`)"
            )
        say(f"Prefect server: {configured} (PREFECT_API_URL)")
        yield ServerInUse(configured, outlives_command=True)
        return
    record = running_server(home)
    if record is not None:
        say(f"Prefect server: {record.ui_url} (the project's, started by {record.owner})")
        yield ServerInUse(record.api_url, True, record.runner)
        return
    say(
        "Prefect server: none running for this project; starting a temporary one "
        "(`driftline server start` keeps one running, and commands then start at once) ..."
    )
    with prefect_server(home, extra_env=TEMPORARY_SERVER_ENV) as api_url:
        say(f"Prefect server: {api_url.removesuffix('/api')} (temporary, stops with this command)")
        yield ServerInUse(api_url, outlives_command=False)
