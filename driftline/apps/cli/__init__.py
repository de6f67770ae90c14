"""The `driftline` command. Each sub-command group lives in its own module of this package."""

from __future__ import annotations

from pathlib import Path

import typer

from driftline.apps.cli import (
    challenger,
    data,
    expectations,
    flows,
    models,
    run,
    serve,
    server,
    ui,
)
from driftline.apps.cli.common import ConfigOption, project, user_errors

app = typer.Typer(
    help="driftline: a machine-learning lifecycle for tabular data, orchestrated by Prefect.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(challenger.app, name="challenger")
app.add_typer(data.app, name="data")
app.add_typer(expectations.app, name="expectations")
app.add_typer(models.app, name="models")
app.add_typer(run.app, name="run")
app.add_typer(server.app, name="server")
app.command("serve")(serve.serve)
app.add_typer(serve.feedback_app, name="feedback")
app.command("serve-flows")(flows.serve_flows)
app.command("ui")(ui.ui)


@app.command("demo")
def demo(config: Path = ConfigOption) -> None:
    """Run the whole loop on the embedded data: train, serve, drift, retrain, hot swap."""
    with user_errors():
        cfg = project(config)
        from driftline.apps.demo import run_demo

        run_demo(cfg, config)
