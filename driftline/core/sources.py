"""Which files a data source names: one file, a glob, or a folder of CSV/Parquet batches.

Path work only (no pandas), so a command can check its sources before it starts a flow run
without paying for the table libraries (`driftline.core.datasets` reads them).
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import TYPE_CHECKING

from driftline.errors import ConfigError, DataError

if TYPE_CHECKING:
    from driftline.core.config import ProjectConfig


def check_sources(cfg: ProjectConfig, *sources: str | Path | None) -> None:
    """Fail now, naming the path, when the config's data source (or one of `sources`)
    names no file: before a flow run starts, not a minute into it."""
    discover_sources(cfg.resolve(cfg.data.source))
    for source in sources:
        if source is not None:
            discover_sources(cfg.resolve(source))


def suite_not_found(path: Path) -> ConfigError:
    return ConfigError(
        f"{path}: expectation suite not found (write one with `driftline expectations suggest`)"
    )


def check_suite(cfg: ProjectConfig) -> None:
    """Fail now, naming the file, when the config's expectation suite is missing: before a
    flow run starts (8 to 40 s with a temporary server), not at its validation step."""
    if not cfg.suite_path.is_file():
        raise suite_not_found(cfg.suite_path)


def discover_sources(source: str | Path) -> list[Path]:
    """The files a source names: one file, a glob, or every CSV/Parquet file in a folder."""
    text = str(source)
    path = Path(text)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in {".csv", ".parquet"})
        if not files:
            raise DataError(f"{path}: folder holds no .csv or .parquet files")
        return files
    if glob.has_magic(text):
        files = sorted(Path(p) for p in glob.glob(text) if Path(p).is_file())
        if not files:
            raise DataError(f"{text}: no file matches this pattern")
        return files
    if not path.exists():
        raise DataError(f"{path}: file not found")
    return [path]
