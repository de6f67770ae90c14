"""Keep every run hermetic: Prefect's state inside the project, every phone-home off.

Prefect reads its settings when it is first imported, so this runs before any flow module
is imported (the CLI calls it first; the Makefile and tests export the same variables).
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_STATE_DIR = Path(".driftline")
LEASE_STORAGE = "prefect.server.concurrency.lease_storage.filesystem"


def hermetic_env(state_dir: str | Path = DEFAULT_STATE_DIR) -> dict[str, str]:
    """The environment variables a driftline process runs with (state under `state_dir`)."""
    state = Path(state_dir).resolve()
    return {
        "PREFECT_HOME": str(state / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "60",
        # Concurrency-slot leases on disk, not in the server's memory: after a restart the
        # server can still expire the lease of a run that died, instead of keeping its
        # slot (and every queued retraining behind it) taken forever.
        "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": LEASE_STORAGE,
        "GX_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        # MLflow (the optional mirror) reads DO_NOT_TRACK only as the string "true".
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MPLBACKEND": "Agg",
        # Idle OpenMP threads (HistGradientBoosting's) sleep instead of spinning: with several
        # fits sharing two cores, spinning threads slowed each fit down several times over.
        # OpenMP reads it once, when the runtime loads (with scikit-learn): set it before.
        "OMP_WAIT_POLICY": "PASSIVE",
    }


def configure(state_dir: str | Path = DEFAULT_STATE_DIR) -> None:
    """Set the hermetic variables in this process, keeping any the caller set explicitly."""
    for key, value in hermetic_env(state_dir).items():
        os.environ.setdefault(key, value)
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
