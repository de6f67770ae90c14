"""Config section of experiment tracking: the optional MLflow mirror."""

from __future__ import annotations

from pydantic import Field

from driftline.core.config.section import Section

# `driftline ui`'s default port (Evidently's own default, 8000, is the prediction API's).
DASHBOARD_PORT = 8085


class Tracking(Section):
    """Where training runs and registry aliases are mirrored (driftline's registry stays the
    source of truth; MLflow gives the comparison UI)."""

    mlflow_uri: str | None = Field(
        None,
        description=(
            "MLflow tracking URI: a folder (mlruns, relative to the config file), "
            "sqlite:///file.db or http://server; unset: no mirror."
        ),
    )
