"""The app of one worker of `driftline serve --workers N`: uvicorn starts N processes that each
import this factory by name, so the config travels in an environment variable.

Each worker loads the champion, watches the registry (hot swap in every worker) and writes the
prediction log with a writer of its own: its own Parquet parts (named with its pid) and, in
journal mode, its own journal, so rows from several workers are never lost or interleaved;
the log's readers read every part of the folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

CONFIG_ENV = "DRIFTLINE_SERVE_CONFIG"


def app_from_env() -> FastAPI:
    """The prediction API of the project whose config file `$DRIFTLINE_SERVE_CONFIG` names."""
    from driftline.apps.serving.app import create_app
    from driftline.core.config import load_config

    return create_app(load_config(Path(os.environ[CONFIG_ENV])))
