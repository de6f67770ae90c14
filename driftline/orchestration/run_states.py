"""Recording on the Prefect server that a run was stopped from outside its process.

A process killed by a signal cannot report its own state, so the flow run it ran would stay
"Running" on the server forever. The command that killed it reports it instead, as
Prefect's runner does when it cancels a flow run it started: Cancelled, with the reason.
"""

from __future__ import annotations

from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterParentFlowRunId,
    TaskRunFilter,
    TaskRunFilterState,
    TaskRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.settings import (
    PREFECT_API_REQUEST_TIMEOUT,
    PREFECT_API_URL,
    PREFECT_CLIENT_MAX_RETRIES,
    temporary_settings,
)
from prefect.states import Cancelled

UNFINISHED = [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.PAUSED]


def cancel_flow_run(api_url: str, flow_run_id: str, reason: str) -> str:
    """Set the flow run, every subflow run under it and their unfinished task runs to
    Cancelled (forced: their process is gone). Returns a line saying what was marked."""
    settings = {PREFECT_API_URL: api_url, PREFECT_CLIENT_MAX_RETRIES: 1}
    with (
        temporary_settings({**settings, PREFECT_API_REQUEST_TIMEOUT: 10}),
        get_client(sync_client=True) as client,
    ):
        root = client.read_flow_run(UUID(flow_run_id))
        runs, frontier = [root], [root.id]
        while frontier:
            children = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=frontier)
                )
            )
            runs += children
            frontier = [c.id for c in children]
        unfinished = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[r.id for r in runs])),
            task_run_filter=TaskRunFilter(
                state=TaskRunFilterState(type=TaskRunFilterStateType(any_=UNFINISHED))
            ),
        )
        for task_run in unfinished:
            client.set_task_run_state(task_run.id, Cancelled(message=reason), force=True)
        marked = [r for r in runs if r.state is None or not r.state.is_final()]
        for run in marked:
            client.set_flow_run_state(run.id, Cancelled(message=reason), force=True)
    names = ", ".join(f"'{r.name}'" for r in marked) or "none left running"
    return f"flow run '{root.name}' ({root.id}) cancelled; runs marked: {names}"
