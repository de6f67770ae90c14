"""`driftline serve-flows`: serve every deployment of the project with `prefect.serve`.

Schedules and event triggers need a real Prefect server (the temporary one runs no
scheduler), so without `--api-url` or PREFECT_API_URL this uses the project's running
server (`driftline server start`), or starts `prefect server start` in the background with
its state in the project (`<state_dir>/prefect`, the same PREFECT_HOME local runs use, so
the UI shows the project's whole history) and stops it on exit; meanwhile `driftline run …`
commands use it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import typer

from driftline.apps.cli.common import ConfigOption, project, user_errors


def parse_params(items: list[str]) -> dict[str, dict[str, Any]]:
    """`retraining.recent=data/labelled` -> {"retraining": {"recent": "data/labelled"}};
    a VALUE that parses as JSON (`2`, `true`, `["a"]`) is taken as that JSON value."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        short, dot, name = key.partition(".")
        if not (sep and dot and short and name):
            raise typer.BadParameter(
                f"expected DEPLOYMENT.NAME=VALUE, got {item!r}", param_hint="--param"
            )
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(short, {})[name] = value
    return out


def _exit_on_sigterm(*_: Any) -> None:
    """Until Prefect's runner installs its own handler, SIGTERM must still unwind the
    context managers, or the background server would outlive this process."""
    sys.exit(0)


def serve_flows(
    config: Path = ConfigOption,
    api_url: str | None = typer.Option(
        None,
        "--api-url",
        help="Prefect API to serve against (default: PREFECT_API_URL, else a server started "
        "here with its state in the project).",
    ),
    param: list[str] = typer.Option(
        [],
        "--param",
        help="Default parameter of one deployment, DEPLOYMENT.NAME=VALUE "
        "(e.g. retraining.recent=data/labelled); repeatable.",
    ),
    port: int = typer.Option(0, min=0, max=65535, help="Port of a server started here (0: free)."),
    poll_seconds: float = typer.Option(
        2.0, min=0.5, help="How often the runner looks for runs to start (triggered, scheduled)."
    ),
) -> None:
    """Serve the project's deployments (training, monitoring on its cron, retraining on drift
    and performance events and its cron, scoring) until Ctrl-C or SIGTERM."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with user_errors():
        cfg = project(config)
        parameters = parse_params(param)
    from driftline.orchestration.prefect_server import ui_url
    from driftline.orchestration.project_server import project_api

    with ExitStack() as stack:
        url = api_url or os.environ.get("PREFECT_API_URL")
        if not url:
            home = cfg.state_path / "prefect"
            owner = "driftline serve-flows"
            url = stack.enter_context(project_api(home, owner, port=port or None))
        os.environ["PREFECT_API_URL"] = url
        typer.echo(f"Prefect UI: {ui_url(url)}")

        from prefect import serve
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from deployments.definitions import runner_deployments

        stack.enter_context(temporary_settings({PREFECT_API_URL: url}))
        with user_errors():
            try:
                deployments = runner_deployments(cfg, config, parameters)
            except ValueError as exc:
                raise typer.BadParameter(str(exc), param_hint="--param") from None
        serve(*deployments, query_seconds=poll_seconds)
