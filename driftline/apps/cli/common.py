"""What every command shares: the --config option, loading it, and clean failures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from driftline.core.config import DEFAULT_CONFIG_PATH, ProjectConfig, load_config
from driftline.errors import DriftlineError, Interrupted
from driftline.orchestration.environment import configure

ConfigOption = typer.Option(
    DEFAULT_CONFIG_PATH, "--config", "-c", help="Project config file (YAML).", show_default=True
)
DataOption = typer.Option(
    None, "--data", help="Override the config's data source (file, glob or folder)."
)


def project(config: Path, data: str | None = None) -> ProjectConfig:
    """Load the project config and make this process hermetic under its state folder."""
    cfg = load_config(config).with_source(data)
    configure(cfg.state_path)
    return cfg


@contextmanager
def user_errors() -> Iterator[None]:
    """The one place a driftline error becomes "error: ..." and exit code 1, no traceback,
    and a command stopped by a signal exits 128 + its number (130 for Ctrl-C)."""
    try:
        yield
    except DriftlineError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
    except Interrupted as stop:
        raise typer.Exit(stop.exit_code) from None
