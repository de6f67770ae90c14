"""Asking Prefect about a flow run: what the retraining ledger needs to close a crashed entry."""

from __future__ import annotations

import logging
from uuid import UUID

log = logging.getLogger("driftline.orchestration")


def flow_run_state(flow_run_id: str) -> str | None:
    """The state type of a flow run ("COMPLETED", "RUNNING", "CRASHED", ...); None when the
    server does not know it or cannot be asked."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(UUID(flow_run_id))
    except (ObjectNotFound, ValueError):
        return None
    except Exception as exc:  # an unreachable server must not block the next retraining
        log.warning("could not ask Prefect about flow run %s: %s", flow_run_id, exc)
        return None
    return run.state.type.value if run.state else None
