"""`driftline run`: run a flow locally (a temporary Prefect server starts when none is set)."""

from __future__ import annotations

from pathlib import Path

import typer

from driftline.cli.common import ConfigOption, DataOption, project, user_errors

app = typer.Typer(help="Run a driftline flow locally.", no_args_is_help=True)


@app.command("ingest")
def ingest(config: Path = ConfigOption, data: str = DataOption) -> None:
    """Ingest the project's data and validate it with its expectation suite."""
    with user_errors():
        cfg = project(config, data)
        from flows.ingest import ingest_and_validate

        result = ingest_and_validate(config_path=str(config), data=data)
    v = result.validation
    typer.echo(
        f"\n{cfg.project}: ingested {result.ingested.dataset.rows} rows "
        f"(fingerprint {result.ingested.dataset.fingerprint})\n"
        f"validation: {v.summary_line}\n"
        f"validation result: {v.result_path}\nData Docs: {v.docs_path}"
    )


@app.command("score")
def score(
    input: str = typer.Option(..., "--input", help="File, glob or folder of CSV/Parquet to score."),
    output: Path = typer.Option(None, "--output", help="Parquet file (default: run folder)."),
    config: Path = ConfigOption,
    no_validate: bool = typer.Option(False, "--no-validate", help="Skip the suite's checks."),
) -> None:
    """Score a file or glob with the champion into Parquet predictions (with the version)."""
    with user_errors():
        cfg = project(config)
        from driftline.registry import RegistryError
        from flows.scoring import batch_scoring

        try:
            result = batch_scoring(
                input=input,
                output=str(output.resolve()) if output else None,
                config_path=str(config),
                validate_input=not no_validate,
            )
        except RegistryError as exc:
            typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(1) from None
    typer.echo(
        f"\n{cfg.project}: scored {result.rows} rows with {result.model_version}\n"
        f"predictions: {result.output}"
    )
