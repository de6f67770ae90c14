"""The `driftline` command. Each sub-command group lives in its own module of this package."""

from __future__ import annotations

import typer

from driftline.cli import data, expectations, run

app = typer.Typer(
    help="driftline: a machine-learning lifecycle for tabular data, orchestrated by Prefect.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(data.app, name="data")
app.add_typer(expectations.app, name="expectations")
app.add_typer(run.app, name="run")
