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
