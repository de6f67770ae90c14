"""Where a run keeps its files: one folder per (root) flow run under the state folder."""

from __future__ import annotations

import uuid
from pathlib import Path

from prefect.runtime import flow_run


def run_dir(state_dir: Path) -> Path:
    """`<state>/runs/<root flow run id>`; nested flows share their parent's folder.

    Outside a flow run (a task called directly in a test) a fresh id stands in.
    """
    run_id = flow_run.root_flow_run_id or flow_run.id or f"local-{uuid.uuid4().hex[:12]}"
    path = state_dir / "runs" / str(run_id)
    path.mkdir(parents=True, exist_ok=True)
    return path
