"""Monitoring measures quality whenever labels are there: a labelled batch given with
`--source` is scored with the champion, so its quality, the performance floor and its alert
work as on labelled traffic, and the history keeps quality and the estimate next to drift."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import write_project

from driftline.core.config import load_config
from driftline.core.generator import Drift, write_batches
from driftline.orchestration import events
from driftline.storage.monitoring_history import MonitoringHistory
from flows.monitoring import monitoring
from flows.training import training

if TYPE_CHECKING:
    from conftest import CapturedEvents

pytestmark = pytest.mark.server

ONE = {"candidates": ["logistic_regression"], "search_budget": 1, "cv_folds": 2}


def test_a_labelled_batch_reports_quality_and_fires_the_floor(
    prefect_server: None, captured: CapturedEvents, tmp_path: Path
) -> None:
    path = write_project(tmp_path, n_rows=2000, training=ONE, monitoring={"min_rows": 300})
    assert training(config_path=str(path)).outcome == "promoted"
    # The churn pattern reversed (concept drift): the champion ranks badly, labels show it.
    (changed,) = write_batches(
        tmp_path / "month", n_rows=1200, n_batches=1, seed=8, drift=Drift(concept=1.0)
    )
    (unlabelled,) = write_batches(tmp_path / "later", n_rows=1200, n_batches=1, seed=9)
    unlabelled.write_text(
        "\n".join(",".join(line.split(",")[:-1]) for line in unlabelled.read_text().splitlines())
    )  # the target column dropped: a batch whose labels have not come back

    result = monitoring(config_path=str(path), source=str(changed))
    assert result is not None and result.verdict
    assert result.rows.labelled == 1200 and "on 1200 labelled rows" in result.quality_note
    assert result.quality["roc_auc"] < 0.7
    assert "performance_floor" in [a.rule for a in result.alerts]
    assert result.estimated and result.prediction_drift is not None
    (event,) = captured.named(events.PERFORMANCE_DEGRADED)
    assert event.payload["quality"]["roc_auc"] == result.quality["roc_auc"]
    assert event.payload["estimated"]

    quiet = monitoring(config_path=str(path), source=str(unlabelled))
    assert quiet is not None and quiet.quality == {} and quiet.rows.labelled == 0
    assert {e.metric for e in quiet.estimated} >= {"roc_auc", "accuracy"}

    records = MonitoringHistory.for_config(load_config(path)).records()
    assert [r.source for r in records] == [str(changed), str(unlabelled)]
    assert records[0].quality == result.quality and records[0].rows_labelled == 1200
    assert records[0].alerts == [a.rule for a in result.alerts]
    assert records[1].quality == {} and records[1].estimated == quiet.estimated
