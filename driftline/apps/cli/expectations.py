"""`driftline expectations`: write a project's first expectation suite from reference data."""

from __future__ import annotations

from pathlib import Path

import typer

from driftline.apps.cli.common import ConfigOption, DataOption, project, user_errors

app = typer.Typer(help="Write and inspect Great Expectations suites.", no_args_is_help=True)


@app.command("suggest")
def suggest(
    config: Path = ConfigOption,
    data: str = DataOption,
    name: str = typer.Option(None, help="Suite name (default: the config's expectations.suite)."),
    out: Path = typer.Option(
        None, help="Folder to write <name>.json into (default: the config's expectations folder)."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing suite."),
) -> None:
    """Suggest a suite from reference data, read exactly as ingestion reads it.

    The suite is a first draft: read it, loosen or tighten bounds, set severities.
    """
    with user_errors():
        cfg = project(config, data)
        from driftline.core.datasets import discover_sources, read_sources
        from driftline.storage.expectations import save_suite, suggest_suite

        name = name or cfg.expectations.suite
        target = (out or cfg.resolve(cfg.expectations.directory)) / f"{name}.json"
        if target.exists() and not force:
            typer.secho(f"error: {target} exists; pass --force to overwrite it", err=True, fg="red")
            raise typer.Exit(1)
        df, schema = read_sources(cfg, discover_sources(cfg.resolve(cfg.data.source)))
        suite = suggest_suite(df, schema, name)
        save_suite(suite, target)
    typer.echo(
        f"wrote {len(suite.expectations)} expectations from {len(df)} rows to {target}; "
        "review the bounds and severities before relying on it"
    )
