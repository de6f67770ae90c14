"""`driftline challenger`: what labelled shadow or canary traffic says of the challenger."""

from __future__ import annotations

from pathlib import Path

import typer

from driftline.apps.cli.common import ConfigOption, project, user_errors

app = typer.Typer(help="The challenger served beside the champion.", no_args_is_help=True)


@app.command("report")
def report(config: Path = ConfigOption) -> None:
    """Per-arm quality on labelled traffic, the difference with its confidence interval and
    test, the labels still needed, and a recommendation (promote / keep / need more data).

    Read-only: the monitoring flow acts on it when serving.challenger.auto_promote or
    auto_rollback is set.
    """
    with user_errors():
        cfg = project(config)
        from driftline.core.render import challenger_report
        from driftline.storage.registry import ModelRegistry
        from tasks.challenger import report_for

        found = report_for(cfg, ModelRegistry.for_config(cfg))
    if found is None:
        typer.echo(
            f"{cfg.project} has no challenger: driftline challenger set VERSION, and serve it "
            "with serving.strategy shadow or canary"
        )
        raise typer.Exit(1)
    typer.echo(challenger_report(found))


@app.command("set")
def set_challenger(
    version: str = typer.Argument(..., help="The version to serve beside the champion."),
    reason: str = typer.Option("set from the command line", help="Recorded in the audit log."),
    config: Path = ConfigOption,
) -> None:
    """Point the 'challenger' alias at VERSION (serving.strategy shadow or canary serves it)."""
    with user_errors():
        from driftline.apps.cli.models import _actor, _registry
        from driftline.storage.registry import CHALLENGER

        _registry(config).set_alias(CHALLENGER, version, reason=reason, actor=_actor())
    typer.echo(f"challenger: {version}")
