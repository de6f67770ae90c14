"""What every command shares: the --config option, loading it, and clean failures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from driftline.config import DEFAULT_CONFIG_PATH, ConfigError, ProjectConfig, load_config
from driftline.datasets import DataError
from driftline.environment import configure
from driftline.registry import RegistryError

ConfigOption = typer.Option(
    DEFAULT_CONFIG_PATH, "--config", "-c", help="Project config file (YAML).", show_default=True
)
DataOption = typer.Option(
    None, "--data", help="Override the config's data source (file, glob or folder)."
)

# Errors that are the user's to fix: shown as one clear message, exit code 1, no traceback.
USER_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    DataError,
    FileNotFoundError,
    RegistryError,
)


def project(config: Path, data: str | None = None) -> ProjectConfig:
    """Load the project config and make this process hermetic under its state folder."""
    cfg = load_config(config).with_source(data)
    configure(cfg.state_path)
    return cfg


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except USER_ERRORS as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
