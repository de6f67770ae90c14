"""The monitoring flow against a Prefect test server: reports, history, windows and events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pytest
from conftest import write_project
from prefect import flow
from sklearn.dummy import DummyClassifier

import flows.monitoring as monitoring_flow
from driftline.core.config import FeatureDrift, ProjectConfig, load_config
from driftline.core.drift import check_drift
from driftline.core.generator import (
    CATEGORICAL,
    NUMERIC,
    SCHEMA,
    Drift,
    generate,
    write_batches,
)
from driftline.core.scoring import FeatureSpec, ScoringModel
from driftline.orchestration import events
from driftline.storage.monitoring_history import MonitoringHistory
from driftline.storage.prediction_log import PREDICTIONS, log_root, write_part
from driftline.testing.models import churn_metadata
from tasks.monitor import alert

if TYPE_CHECKING:
    from conftest import CapturedEvents

pytestmark = pytest.mark.server


class FakeRegistry:
    """Stands in for ModelRegistry: one champion whose reference sample is `reference`."""

    reference: Path | None = None

    @classmethod
    def for_config(cls, cfg: ProjectConfig) -> FakeRegistry:
        return cls()

    def alias(self, name: str) -> SimpleNamespace | None:
        if self.reference is None:
            return None
        return SimpleNamespace(version="v0007", metadata=churn_metadata())

    def reference_uri(self, version: str) -> str:
        return str(self.reference)

    def verified(self, version: str) -> ScoringModel:
        """The champion scoring a `--source` batch: the class priors of generated data."""
        data = generate(500, seed=0)
        model = DummyClassifier(strategy="prior").fit(data[SCHEMA.features], data[SCHEMA.target])
        return ScoringModel(version, "", churn_metadata(), model, FeatureSpec.of(SCHEMA))


@pytest.fixture
def config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = write_project(tmp_path, n_rows=600)
    reference = tmp_path / "reference.parquet"
    generate(3000, seed=1).to_parquet(reference)
    monkeypatch.setattr(FakeRegistry, "reference", reference)
    monkeypatch.setattr(monitoring_flow, "ModelRegistry", FakeRegistry)
    return path


def test_alert_emits_drift_event_with_payload(
    prefect_server: None, captured: CapturedEvents, config_path: Path
) -> None:
    cfg = load_config(config_path)
    policy = cfg.monitoring.model_copy(update={"per_feature": {"age": FeatureDrift()}})
    current = generate(3000, seed=2, drift=Drift(shift={"age": 10.0}))
    result, _ = check_drift(generate(3000, seed=1), current, NUMERIC, CATEGORICAL, policy)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    result = result.model_copy(update={"window_start": start, "window_end": start})

    @flow
    def run_alert() -> list[str]:
        return alert(cfg, result, "v0003", "/reports/drift.html")

    assert run_alert() == [events.DRIFT_DETECTED]
    (event,) = captured.named(events.DRIFT_DETECTED)
    assert event.resource.id == f"driftline.model.{cfg.project}"
    assert event.payload["model_version"] == "v0003"
    assert event.payload["report_path"] == "/reports/drift.html"
    assert list(event.payload["drifted_columns"]) == ["age"]
    assert event.payload["drifted_columns"]["age"] > 0.1
    assert event.payload["drift_share"] == pytest.approx(1 / 11)
    assert [a["rule"] for a in event.payload["alerts"]] == ["per_feature"]
    assert event.payload["window"]["start"] == start.isoformat()
    assert "flow-run" in {r.role for r in event.related}
    assert captured.named(events.PERFORMANCE_DEGRADED) == []


def test_flow_checks_a_batch_writes_reports_history_and_alerts(
    prefect_server: None, captured: CapturedEvents, config_path: Path, tmp_path: Path
) -> None:
    drift = Drift(
        shift={"age": 10.0, "support_calls": 2.0},
        scale={"data_usage_gb": 2.0},
        category_mix={"contract": {"two_year": 0.7}},
    )
    write_batches(tmp_path / "batch", n_rows=1500, n_batches=1, seed=5, drift=drift)
    result = monitoring_flow.monitoring(
        config_path=str(config_path), source=str(tmp_path / "batch" / "*.csv")
    )
    assert result is not None and result.verdict
    assert {"age", "support_calls", "data_usage_gb", "contract"} <= set(result.drifted_columns)
    assert result.report_path and Path(result.report_path).stat().st_size > 10_000
    assert Path(result.report_path).with_suffix(".json").exists()
    history = MonitoringHistory.for_config(load_config(config_path)).read()
    assert len(history) == 1 and history["rows_current"].iloc[0] == 1500
    assert history["report_path"].iloc[0] == result.report_path
    (event,) = captured.named(events.DRIFT_DETECTED)
    assert event.payload["report_path"] == result.report_path
    assert event.payload["model_version"] == "v0007"


def test_flow_without_champion_gives_no_verdict(
    prefect_server: None, config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FakeRegistry, "reference", None)
    assert monitoring_flow.monitoring(config_path=str(config_path)) is None


def _log_rows(cfg: ProjectConfig, n: int, seed: int, day: datetime) -> None:
    df = generate(n, seed=seed)[[*NUMERIC, *CATEGORICAL]]
    df["request_id"] = [f"r{seed}-{i}" for i in range(n)]
    df["ts"] = [day + timedelta(seconds=i) for i in range(n)]
    df["served"] = True
    df["probability"] = 0.3
    write_part(log_root(cfg), PREDICTIONS, pa.Table.from_pandas(df, preserve_index=False))


def test_next_window_starts_where_the_last_check_ended(
    prefect_server: None, config_path: Path
) -> None:
    cfg = load_config(config_path)
    day1 = datetime(2026, 3, 1, tzinfo=UTC)
    _log_rows(cfg, 300, seed=7, day=day1)
    first = monitoring_flow.monitoring(config_path=str(config_path))
    assert first is not None and not first.verdict  # 300 < min_rows: look again later
    _log_rows(cfg, 500, seed=8, day=day1 + timedelta(hours=1))
    second = monitoring_flow.monitoring(config_path=str(config_path))
    assert second is not None and second.verdict and second.rows.current == 800
    _log_rows(cfg, 700, seed=9, day=day1 + timedelta(days=1))
    third = monitoring_flow.monitoring(config_path=str(config_path))
    assert third is not None and third.rows.current == 700
    assert third.window_start == second.window_end
    history = MonitoringHistory.for_config(cfg).read()
    assert history["verdict"].tolist() == [False, True, True]
    assert pd.Timestamp(history["window_end"].iloc[-1]) == pd.Timestamp(third.window_end)
