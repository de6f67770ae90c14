"""The retraining ledger: one retraining per model at a time, a cooldown, every decision kept.

Prefect's deployment concurrency limit already queues served runs one at a time; this
covers what it cannot: a cooldown after a retraining, runs started outside a deployment
(plain local execution), and a durable record of each skipped duplicate. Hand-written
because it must hold across processes on one filesystem: the lock beside the ledger is the
registry's kind (`driftline.storage.locks`), released by the OS even when the process dies.

A retraining killed mid-run leaves only its "started" line. Whoever holds the lock knows no
other retraining runs, so such a line is resolved then (`resolve_unfinished`): "completed"
when Prefect says its flow run completed, else "crashed", which starts no cooldown.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from driftline.core.config import ProjectConfig
from driftline.storage import locks

ENDED = ("completed", "failed", "crashed")


class RetrainingLedger:
    """`<folder>/ledger.jsonl`: one JSON line per retraining request and its outcome.

    Statuses: "started", then "completed", "failed" or "crashed" (same `flow_run_id`);
    "skipped" for a request turned down (another retraining running, or within the cooldown).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "ledger.jsonl"
        folder.mkdir(parents=True, exist_ok=True)

    @classmethod
    def for_config(cls, cfg: ProjectConfig) -> RetrainingLedger:
        return cls(cfg.state_path / "retraining" / cfg.project)

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def record(self, **entry: Any) -> dict[str, Any]:
        entry = {"time": datetime.now(UTC).isoformat(), **entry}
        with self.path.open("a") as fh:
            fh.write(json.dumps(entry, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return entry

    def last_retraining(self) -> dict[str, Any] | None:
        """The latest entry of a retraining that did not fail: its completion, or its start
        while it runs. Alerts queued behind a retraining then meet the cooldown when it ends;
        a failed one must not hold back the next. Entries match by `flow_run_id`."""
        entries = self.entries()
        failed = {e.get("flow_run_id") for e in entries if e.get("status") in ("failed", "crashed")}
        live = [
            e
            for e in entries
            if e.get("status") in ("started", "completed") and e.get("flow_run_id") not in failed
        ]
        return live[-1] if live else None

    def cooldown_left(self, cooldown: timedelta, now: datetime | None = None) -> timedelta:
        """Time until another retraining may start (zero when none is due to wait)."""
        last = self.last_retraining()
        if last is None:
            return timedelta(0)
        since = (now or datetime.now(UTC)) - datetime.fromisoformat(last["time"])
        return max(cooldown - since, timedelta(0))

    def resolve_unfinished(
        self, state_of: Callable[[str], str | None], current: str | None = None
    ) -> list[dict[str, Any]]:
        """Close the "started" entries that have no end (call while holding `exclusive`, so
        none of them is running): "completed" if `state_of(flow_run_id)` (Prefect's state
        type, None when unknown) is COMPLETED, else "crashed". `current`: this run's id."""
        entries = self.entries()
        ended = {e.get("flow_run_id") for e in entries if e.get("status") in ENDED}
        closed = []
        for e in entries:
            run = e.get("flow_run_id")
            if e.get("status") != "started" or run in ended or run == current:
                continue
            ended.add(run)
            state = state_of(run) if run else None
            status = "completed" if state == "COMPLETED" else "crashed"
            closed.append(
                self.record(
                    status=status,
                    reason=e.get("reason"),
                    event_id=e.get("event_id"),
                    flow_run_id=run,
                    detail=f"resolved after the fact: its flow run is {state or 'unknown'} "
                    "and no longer running",
                )
            )
        return closed

    @contextmanager
    def exclusive(self) -> Iterator[bool]:
        """Yield True while holding the model's retraining lock, False when another holds it."""
        held = locks.acquire(
            None, str(self.folder / "retraining.lock"), purpose="retraining", timeout=0
        )
        if held is None:
            yield False
            return
        try:
            yield True
        finally:
            held.release()
