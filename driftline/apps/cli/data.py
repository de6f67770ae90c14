"""`driftline data`: the embedded synthetic churn data."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from driftline.apps.cli.common import user_errors

app = typer.Typer(help="Generate the embedded demo data.", no_args_is_help=True)


@app.command("generate")
def generate(
    out: Path = typer.Option(Path("data/churn/train"), help="Folder to write the batches into."),
    rows: int = typer.Option(20_000, min=1, help="Rows in all batches together."),
    batches: int = typer.Option(4, min=1, help="Number of batch files."),
    seed: int = typer.Option(0, help="Seed; the same seed writes the same bytes."),
    fmt: str = typer.Option("csv", "--format", help="csv or parquet."),
    drift: str = typer.Option(
        None,
        help='Drift as JSON, e.g. \'{"shift": {"monthly_charges": 20}, "concept": 0.5}\'.',
    ),
    task: str = typer.Option(
        "binary",
        help="Target: binary (churned), regression (next_month_spend) or multiclass "
        "(next_step: stay/downgrade/upgrade/churn).",
    ),
) -> None:
    """Write seeded synthetic customer batches (optionally drifted) with a task's target."""
    from driftline.core.generator import TARGETS, Drift, write_batches

    with user_errors():
        try:
            spec = Drift(**json.loads(drift)) if drift else None
        except (json.JSONDecodeError, TypeError, ValueError) as exc:
            raise typer.BadParameter(f"--drift: {exc}") from None
        if task not in TARGETS:
            raise typer.BadParameter(f"--task: '{task}' is not one of {list(TARGETS)}")
        paths = write_batches(
            out, n_rows=rows, n_batches=batches, seed=seed, drift=spec, fmt=fmt, task=task
        )
    typer.echo(f"wrote {rows} rows in {len(paths)} file(s) under {out}")
