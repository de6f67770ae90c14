"""`driftline server`: keep the project's Prefect server running in the background.

While it runs, every `driftline run …` uses it instead of starting a temporary server (8 to
40 s per command), and its UI shows the project's whole history. Its state is the
project's (`<state_dir>/prefect`, the PREFECT_HOME every command uses).
"""

from __future__ import annotations

from pathlib import Path

import typer

from driftline.apps.cli.common import ConfigOption, project, user_errors
from driftline.orchestration.project_server import (
    DEFAULT_PORT,
    ServerRecord,
    running_server,
    start_background,
    stop_background,
)
from driftline.orchestration.server_choice import configured_api_url

app = typer.Typer(
    help="The project's Prefect server, kept running in the background.", no_args_is_help=True
)


def _home(config: Path) -> Path:
    return project(config).state_path / "prefect"


def _runner_line(record: ServerRecord) -> str:
    if record.runner:
        return f"warm flow runner: pid {record.runner_pid} (commands fork from it: no import wait)"
    return "warm flow runner: none (each command starts a fresh Python process)"


def _configured_note() -> None:
    configured = configured_api_url()
    if configured:
        typer.echo(f"note: PREFECT_API_URL is set ({configured}); `driftline run …` uses that")


@app.command("start")
def start(
    config: Path = ConfigOption,
    port: int = typer.Option(
        DEFAULT_PORT, min=0, max=65535, help="Port on 127.0.0.1 (0: a free one)."
    ),
    runner: bool = typer.Option(
        True,
        "--runner/--no-runner",
        help="Also keep a warm flow runner (the stack imported once, about 0.5-1 GB of "
        "memory): each command then starts in about a second instead of importing it.",
    ),
) -> None:
    """Start the project's Prefect server in the background (or say where it already runs)."""
    with user_errors():
        home = _home(config)
        existing = running_server(home)
        record = existing or start_background(home, port, runner)
    state = "already running" if existing else "started"
    typer.echo(
        f"Prefect server {state}: {record.ui_url} (pid {record.pid}, {record.owner})\n"
        f"state in {home}; log {record.log}\n{_runner_line(record)}\n"
        "every `driftline run …` of this project now uses it; `driftline server stop` stops it"
    )
    _configured_note()


@app.command("stop")
def stop(config: Path = ConfigOption) -> None:
    """Stop the server `driftline server start` started."""
    with user_errors():
        record = stop_background(_home(config))
    if record is None:
        typer.echo("no Prefect server running for this project")
    else:
        typer.echo(f"stopped the Prefect server at {record.ui_url} (pid {record.pid})")


@app.command("status")
def status(config: Path = ConfigOption) -> None:
    """Say whether the project's server runs, and where. Exit code 0 if it does, 1 if not."""
    with user_errors():
        home = _home(config)
        record = running_server(home)
    if record is None:
        typer.echo(
            f"no Prefect server running for this project (state in {home}); "
            "`driftline run …` starts a temporary one per command"
        )
        raise typer.Exit(1)
    typer.echo(
        f"running: {record.ui_url} (API {record.api_url})\n"
        f"pid {record.pid}, started by {record.owner} at {record.started_at}\n"
        f"state in {home}; log {record.log}\n{_runner_line(record)}"
    )
    _configured_note()
