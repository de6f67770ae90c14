"""Monitoring measures quality whenever labels are there: a labelled batch given with
`--source` is scored with the champion, so its quality, the performance floor and its alert
work as on labelled traffic, and the history keeps quality and the estimate next to drift."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import write_project

from driftline.core.config import load_config
from driftline.core.generator import SCHEMA, Drift, generate, write_batches
from driftline.orchestration import events
from driftline.storage.monitoring_history import MonitoringHistory
from driftline.storage.prediction_log import (
    PREDICTIONS,
    feedback_columns,
    log_root,
    write_feedback,
    write_part,
)
from driftline.storage.registry import CHALLENGER, CHAMPION, ModelRegistry
from driftline.storage.report_index import ReportIndex
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


def test_monitoring_reports_on_a_canary_challenger_and_promotes_a_better_one(
    prefect_server: None, tmp_path: Path
) -> None:
    serving = {"strategy": "canary", "challenger": {"auto_promote": True, "min_labels": 100}}
    path = write_project(
        tmp_path, n_rows=2000, training=ONE, monitoring={"min_rows": 300}, serving=serving
    )
    assert training(config_path=str(path)).outcome == "promoted"
    cfg = load_config(path)
    registry = ModelRegistry.for_config(cfg)
    v1 = registry.get("v0001")
    registry.register(registry.load_model("v0001"), v1.metadata, status="blessed")  # v0002
    registry.set_alias(CHALLENGER, "v0002", reason="canary")

    # Canary traffic: the arms answer alternate requests; the challenger ranks far better.
    rng = np.random.default_rng(0)
    rows = generate(1200, seed=5)
    y = rows[SCHEMA.target].to_numpy()
    challenger = np.arange(len(rows)) % 2 == 1
    noise = np.where(challenger, 0.15, 0.45) * rng.normal(size=len(rows))
    proba = np.clip(0.25 + 0.5 * y + noise, 0, 1)
    log = rows[SCHEMA.features].assign(
        request_id=[f"r{i}" for i in range(len(rows))],
        ts=pd.Timestamp.now(tz="UTC"),
        served=True,
        arm=np.where(challenger, "challenger", "champion"),
        model_version=np.where(challenger, "v0002", "v0001"),
        probability=proba,
        label=(proba >= 0.5).astype(int),
    )
    write_part(log_root(cfg), PREDICTIONS, pa.Table.from_pandas(log, preserve_index=False))
    write_feedback(log_root(cfg), feedback_columns(list(log["request_id"]), list(y), 1))

    result = monitoring(config_path=str(path))
    assert result is not None and result.challenger is not None
    report = result.challenger
    assert report.mode == "canary" and report.recommendation == "promote"
    assert report.comparison is not None and "bootstrap" in report.comparison.test
    assert report.action == "promoted" and registry.aliases()[CHAMPION] == "v0002"
    move = [e for e in registry.audit_log() if e["alias"] == CHAMPION][-1]
    assert move["actor"].startswith("flow-run:") and "roc_auc: challenger" in move["reason"]
    [listed] = [e for e in ReportIndex.for_config(cfg).entries() if e.kind == "challenger"]
    assert (
        listed.outcome == "promote" and "Recommendation: promote" in Path(listed.path).read_text()
    )
