"""The training and retraining flows end to end against a Prefect test server.

Small projects (2,000 rows, a budget of two settings, two folds) keep a run to seconds.
One module-scoped project, trained once on two candidates, serves the tests of a run's
results, caching and reproducibility; the gate, force, failure and retraining tests train
projects of their own on one candidate, since the number of candidates changes nothing there.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

import pandas as pd
import pytest
from conftest import write_project
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import TaskRun

from driftline.core.config import load_config
from driftline.core.generator import Drift, write_batches
from driftline.core.lineage import PREDICTION_COLUMN
from driftline.orchestration import events
from driftline.storage.ledger import RetrainingLedger
from driftline.storage.registry import CHAMPION, ModelRegistry
from flows.retraining import retraining
from flows.training import TrainingOutcome, training

if TYPE_CHECKING:
    from conftest import CapturedEvents

pytestmark = pytest.mark.server

SMALL = {
    "candidates": ["logistic_regression", "hist_gradient_boosting"],
    "search_budget": 2,
    "cv_folds": 2,
}
ONE = {**SMALL, "candidates": ["logistic_regression"]}
IMPOSSIBLE = {"value": {"roc_auc": {"min": 0.999}}}


def small_project(folder: Path, settings: dict[str, object] = SMALL, **overrides: object) -> Path:
    return write_project(folder, n_rows=2000, training=settings, **overrides)


def _task_runs(flow_run_id: str, expected: int, prefix: str) -> list[TaskRun]:
    """The flow run's task runs named `prefix*` once all `expected` have a final state.

    Task run states reach the server as events, recorded asynchronously: poll briefly.
    """
    flt = FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)]))
    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while True:
            runs = [
                r
                for r in client.read_task_runs(flow_run_filter=flt)
                if r.name.startswith(prefix) and r.state is not None and r.state.is_final()
            ]
            if len(runs) >= expected or time.monotonic() > deadline:
                return runs
            time.sleep(0.5)


@pytest.fixture(scope="module")
def trained(
    prefect_server: None, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, TrainingOutcome]:
    """A small project trained once: its config path and the first run's outcome."""
    path = small_project(tmp_path_factory.mktemp("trained"))
    return path, training(config_path=str(path))


def test_first_run_registers_and_promotes_with_lineage(
    trained: tuple[Path, TrainingOutcome],
) -> None:
    path, outcome = trained
    cfg = load_config(path)
    assert outcome.version == "v0001" and outcome.outcome == "promoted"
    assert outcome.baseline_version is None and outcome.blessing_reasons == []
    registry = ModelRegistry.for_config(cfg)
    champion = registry.alias(CHAMPION)
    assert champion is not None and champion.version == "v0001"
    assert champion.status == "blessed"

    meta = champion.metadata
    assert meta.candidate == outcome.candidate in SMALL["candidates"]
    assert meta.metrics == outcome.metrics and 0.5 < meta.metrics["roc_auc"] <= 1
    assert meta.lineage.config_hash == cfg.fingerprint()
    assert len(meta.data.fingerprint) == 20 and len(meta.holdout.fingerprint) == 20
    assert meta.data.fingerprint != meta.holdout.fingerprint
    assert meta.data.rows == 2000
    assert meta.train.rows + meta.holdout.rows == 2000
    assert meta.blessing.blessed is True and meta.blessing.baseline_id is None
    checks = {(c.metric, c.kind): c.status for c in meta.blessing.checks}
    assert checks == {  # no champion yet: the change thresholds are skipped
        ("roc_auc", "min"): "passed",
        ("brier", "max"): "passed",
        ("roc_auc", "max_drop_abs"): "skipped",
        ("log_loss", "max_drop_rel"): "skipped",
    }
    assert meta.table_schema.target == cfg.target.column
    assert set(meta.table_schema.numeric) == set(cfg.features.numeric)
    assert meta.lineage.flow_run_id and UUID(meta.lineage.flow_run_id)
    assert meta.lineage.trigger == "manual"

    reference = pd.read_parquet(registry.reference_uri("v0001"))
    assert PREDICTION_COLUMN in reference.columns
    assert len(reference) == meta.holdout.rows  # fewer than reference_sample_rows
    assert reference[PREDICTION_COLUMN].between(0, 1).all()
    card = Path(outcome.card_path)
    assert card.is_file() and "v0001" in card.read_text()
    assert meta.holdout.fingerprint in card.read_text()
    # The time budget's outcome is recorded with the model and on its card.
    assert meta.search is not None and meta.search.settings_tried >= 1
    assert meta.search.budget_seconds == cfg.training.time_budget_minutes * 60
    assert "## Search" in card.read_text() and meta.search.describe() in card.read_text()


def test_second_run_is_gated_against_the_first_and_reuses_fits(
    trained: tuple[Path, TrainingOutcome],
) -> None:
    path, first = trained
    cfg = load_config(path)
    models = sorted((cfg.state_path / "models-wip").glob("*/model.joblib"))
    assert len(models) == len(SMALL["candidates"])
    written = {p: p.stat().st_mtime_ns for p in models}

    unchanged = training(config_path=str(path))  # same data, config and code: no new version
    assert unchanged.outcome == "unchanged" and unchanged.version == "v0001"
    assert [v.version for v in ModelRegistry.for_config(cfg).versions()] == ["v0001"]
    second = training(config_path=str(path), force=True, force_reason="test: train it again")
    assert second.version == "v0002" and second.baseline_version == "v0001"
    assert second.metrics == first.metrics  # the same fitted model, scored on the same holdout
    meta = ModelRegistry.for_config(cfg).get("v0002").metadata
    assert meta.blessing.baseline_id == "v0001"
    assert {c.kind for c in meta.blessing.checks} >= {"max_drop_abs", "max_drop_rel"}
    assert {p: p.stat().st_mtime_ns for p in models} == written  # no model was fitted again

    runs = _task_runs(meta.lineage.flow_run_id, len(SMALL["candidates"]), "train-")
    assert sorted(r.name for r in runs) == sorted(f"train-{c}" for c in SMALL["candidates"])
    assert {r.state.name for r in runs if r.state} == {"Cached"}


def test_same_data_and_config_give_the_same_metrics(
    trained: tuple[Path, TrainingOutcome], tmp_path: Path
) -> None:
    _, first = trained
    again = training(config_path=str(small_project(tmp_path)))  # same seed: same bytes
    assert again.version == "v0001"  # a state folder of its own: nothing came from a cache
    assert again.candidate == first.candidate
    assert again.metrics == first.metrics


def test_rejected_candidate_never_becomes_champion(
    prefect_server: None, captured: CapturedEvents, tmp_path: Path
) -> None:
    path = small_project(tmp_path, ONE, gates=IMPOSSIBLE)
    outcome = training(config_path=str(path))
    assert outcome.outcome == "rejected" and outcome.version == "v0001"
    assert any("must be at least 0.999" in r for r in outcome.blessing_reasons)

    registry = ModelRegistry.for_config(load_config(path))
    assert registry.get("v0001").status == "rejected"
    assert registry.alias(CHAMPION) is None and registry.audit_log() == []
    (event,) = captured.named(events.MODEL_REJECTED)
    assert event.resource.id == "driftline.model.churn-demo"
    assert event.payload["version"] == "v0001"
    assert event.payload["reasons"] == outcome.blessing_reasons
    assert captured.named(events.MODEL_PROMOTED) == []


def test_force_needs_a_reason_and_is_audited(prefect_server: None, tmp_path: Path) -> None:
    path = small_project(tmp_path, ONE, gates=IMPOSSIBLE)
    state = training(config_path=str(path), force=True, return_state=True)
    assert state.is_failed()
    assert "force=True needs a force_reason" in str(state.message)
    registry = ModelRegistry.for_config(load_config(path))
    assert registry.versions() == []  # refused before anything ran

    reason = "ticket OPS-12: gate threshold under review"
    outcome = training(config_path=str(path), force=True, force_reason=reason)
    assert outcome.outcome == "forced" and outcome.blessing_reasons
    champion = registry.alias(CHAMPION)
    assert champion is not None and champion.version == outcome.version
    assert champion.status == "rejected"  # forced past the gates, still recorded as rejected
    (move,) = registry.audit_log()
    assert move["alias"] == CHAMPION and move["to"] == outcome.version
    assert move["forced"] is True and move["reason"] == reason
    assert move["actor"].startswith("flow-run:")


def test_no_gate_thresholds_means_not_blessed(prefect_server: None, tmp_path: Path) -> None:
    path = small_project(tmp_path, ONE, gates={})
    outcome = training(config_path=str(path))
    assert outcome.outcome == "rejected"
    assert outcome.blessing_reasons == ["no gate thresholds configured; refusing to bless"]
    registry = ModelRegistry.for_config(load_config(path))
    assert registry.alias(CHAMPION) is None
    assert registry.get(outcome.version).metadata.blessing.checks == []


def test_failed_run_emits_run_failed_naming_the_file(
    prefect_server: None, captured: CapturedEvents, tmp_path: Path
) -> None:
    path = small_project(tmp_path, ONE)
    missing = tmp_path / "data"
    shutil.rmtree(missing)
    state = training(config_path=str(path), return_state=True)
    assert state.is_failed()
    assert str(missing) in str(state.message)
    (event,) = captured.named(events.RUN_FAILED)
    assert event.payload["flow"] == "training"
    assert event.payload["flow_run_id"] == str(state.state_details.flow_run_id)
    assert str(missing) in event.payload["error"]
    assert event.resource.id == f"prefect.flow-run.{state.state_details.flow_run_id}"


def test_retraining_on_drifted_batch_then_cooldown_skip(
    prefect_server: None, tmp_path: Path
) -> None:
    path = small_project(tmp_path, ONE)
    cfg = load_config(path)
    first = training(config_path=str(path))
    (batch,) = write_batches(
        tmp_path / "recent",
        n_rows=1500,
        n_batches=1,
        seed=5,
        drift=Drift(shift={"monthly_charges": 20}),
    )

    result = retraining(config_path=str(path), reason="driftline.drift.detected", recent=str(batch))
    assert result.status == "completed" and result.training is not None
    retrained = result.training
    assert retrained.version == "v0002" and retrained.baseline_version == first.version
    assert result.detail == retrained.outcome
    meta = ModelRegistry.for_config(cfg).get("v0002").metadata
    assert meta.blessing.baseline_id == "v0001"
    assert meta.lineage.trigger == "driftline.drift.detected"
    assert meta.data.rows == 2000 + 1500  # combined: champion's data + the batch
    assert str(batch) in meta.data.sources

    again = retraining(config_path=str(path), reason="manual", recent=str(batch))
    assert again.status == "skipped" and again.training is None
    assert "cooldown" in again.detail

    ledger = cfg.state_path / "retraining" / cfg.project / "ledger.jsonl"
    assert ledger.is_file()
    entries: list[dict[str, Any]] = RetrainingLedger(ledger.parent).entries()
    assert [e["status"] for e in entries] == ["started", "completed", "skipped"]
    assert entries[1]["version"] == "v0002" and entries[1]["outcome"] == retrained.outcome
    assert entries[0]["flow_run_id"] == entries[1]["flow_run_id"] != entries[2]["flow_run_id"]
    assert "cooldown" in entries[2]["detail"] and entries[2]["reason"] == "manual"
    assert len(ModelRegistry.for_config(cfg).versions()) == 2  # the skip registered nothing
