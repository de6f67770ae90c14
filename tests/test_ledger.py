"""The retraining ledger: the cooldown counts from the end of the last retraining that did not
fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from driftline.storage.ledger import RetrainingLedger

HOUR = timedelta(hours=1)


def test_cooldown_counts_from_the_end_of_the_last_retraining(tmp_path: Path) -> None:
    ledger = RetrainingLedger(tmp_path)
    assert ledger.cooldown_left(HOUR) == timedelta(0)
    ledger.record(status="started", flow_run_id="a")
    ledger.record(status="completed", flow_run_id="a")
    ledger.record(status="skipped", flow_run_id="b")
    left = ledger.cooldown_left(HOUR, now=datetime.now(UTC))
    assert timedelta(minutes=59) < left <= HOUR
    assert ledger.last_retraining()["status"] == "completed"


def test_a_failed_retraining_does_not_hold_back_the_next(tmp_path: Path) -> None:
    ledger = RetrainingLedger(tmp_path)
    ledger.record(status="started", flow_run_id="a")
    ledger.record(status="completed", flow_run_id="a")
    ledger.record(status="started", flow_run_id="b")
    ledger.record(status="failed", flow_run_id="b", error="boom")
    assert ledger.last_retraining()["flow_run_id"] == "a"
    later = datetime.now(UTC) + 2 * HOUR
    assert ledger.cooldown_left(HOUR, now=later) == timedelta(0)

    only_failed = RetrainingLedger(tmp_path / "other")
    only_failed.record(status="started", flow_run_id="c")
    only_failed.record(status="failed", flow_run_id="c", error="boom")
    assert only_failed.last_retraining() is None
    assert only_failed.cooldown_left(HOUR) == timedelta(0)


def test_the_lock_admits_one_holder(tmp_path: Path) -> None:
    ledger = RetrainingLedger(tmp_path)
    with ledger.exclusive() as first, RetrainingLedger(tmp_path).exclusive() as second:
        assert first and not second
    with ledger.exclusive() as again:
        assert again
