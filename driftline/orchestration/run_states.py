"""Recording on the Prefect server that a run was stopped from outside its process.

A process killed by a signal cannot report its own state, so the flow run it ran would stay
"Running" on the server forever. The command that killed it reports it instead, as
Prefect's runner does when it cancels a flow run it started: Cancelled, with the reason.

Through Prefect's REST API with httpx rather than Prefect's client: importing the client
takes 2 to 5 s here, most of the time a stop would otherwise take.
"""

from __future__ import annotations

from typing import Any

import httpx

FINAL = {"COMPLETED", "FAILED", "CANCELLED", "CRASHED"}
UNFINISHED = ["SCHEDULED", "PENDING", "RUNNING", "PAUSED"]


def _cancelled(reason: str) -> dict[str, Any]:
    return {"state": {"type": "CANCELLED", "name": "Cancelled", "message": reason}, "force": True}


def _unfinished(run: dict[str, Any]) -> bool:
    return (run.get("state") or {}).get("type") not in FINAL


def cancel_flow_run(api_url: str, flow_run_id: str, reason: str) -> str:
    """Set the flow run, every subflow run under it and their unfinished task runs to
    Cancelled (forced: their process is gone). Returns a line saying what was marked."""
    with httpx.Client(base_url=api_url.rstrip("/") + "/", timeout=10) as api:
        root = api.get(f"flow_runs/{flow_run_id}").raise_for_status().json()
        runs, frontier = [root], [root["id"]]
        while frontier:
            body = {"flow_runs": {"parent_flow_run_id": {"any_": frontier}}}
            children = api.post("flow_runs/filter", json=body).raise_for_status().json()
            runs += children
            frontier = [c["id"] for c in children]
        body = {
            "flow_runs": {"id": {"any_": [r["id"] for r in runs]}},
            "task_runs": {"state": {"type": {"any_": UNFINISHED}}},
        }
        for task_run in api.post("task_runs/filter", json=body).raise_for_status().json():
            api.post(f"task_runs/{task_run['id']}/set_state", json=_cancelled(reason))
        marked = [r for r in runs if _unfinished(r)]
        for run in marked:
            api.post(f"flow_runs/{run['id']}/set_state", json=_cancelled(reason)).raise_for_status()
    names = ", ".join(f"'{r['name']}'" for r in marked) or "none still running"
    return f"flow run '{root['name']}' ({root['id']}): marked Cancelled: {names}"
