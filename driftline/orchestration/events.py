"""The Prefect events driftline emits, in one place so emitters and triggers agree on names.

Resources are `driftline.model.<project>` (one model per project), so an automation can
match one project's events or, with a wildcard, all of them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from prefect.events import Event, emit_event
from prefect.events.clients import PrefectEventsClient

MODEL_PROMOTED = "driftline.model.promoted"
MODEL_REJECTED = "driftline.model.rejected"
DRIFT_DETECTED = "driftline.drift.detected"
PERFORMANCE_DEGRADED = "driftline.performance.degraded"
RUN_FAILED = "driftline.run.failed"


def model_resource(project: str) -> dict[str, str]:
    return {"prefect.resource.id": f"driftline.model.{project}", "prefect.resource.name": project}


def emit(event: str, project: str, payload: dict[str, Any]) -> None:
    """Emit a driftline event about a project's model; the flow run is attached by Prefect."""
    emit_event(event=event, resource=model_resource(project), payload=payload)


def send(api_url: str, events: list[Event]) -> None:
    """Send events to the Prefect server at `api_url` with a client of their own.

    `emit_event` goes through a process-wide worker bound to the first server it met; a
    process that talks to several servers (tests, benchmarks) must not route through it.
    """

    async def _send() -> None:
        async with PrefectEventsClient(api_url=api_url) as client:
            for event in events:
                await client.emit(event)

    asyncio.run(_send())


def emit_run_failed(flow: Any, flow_run: Any, state: Any) -> None:
    """`on_failure` hook of every flow: an automation can alert on `driftline.run.failed`."""
    emit_event(
        event=RUN_FAILED,
        resource={
            "prefect.resource.id": f"prefect.flow-run.{flow_run.id}",
            "prefect.resource.name": flow_run.name,
        },
        payload={
            "flow": flow.name,
            "flow_run_id": str(flow_run.id),
            "error": str(state.message or state.name),
        },
    )
