"""The MLflow mirror (`tracking.mlflow_uri`): a training run read back through MLflow's client,
its aliases kept in step with the registry on promotion and rollback; and what the same run
leaves for a person: its reports in the index, its reference on the dashboard."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_project
from evidently.ui.workspace import Workspace
from mlflow.tracking import MlflowClient

from driftline.core.config import load_config
from driftline.storage.dashboard import Dashboard
from driftline.storage.mlflow_mirror import VERSION_TAG, MlflowMirror
from driftline.storage.registry import ModelRegistry
from driftline.storage.report_index import ReportIndex
from flows.training import training

pytestmark = [pytest.mark.server, pytest.mark.slow]

ONE = {"candidates": ["logistic_regression"], "search_budget": 1, "cv_folds": 2}


def test_training_runs_versions_and_aliases_appear_in_mlflow(
    prefect_server: None, tmp_path: Path
) -> None:
    path = write_project(tmp_path, n_rows=1200, training=ONE, tracking={"mlflow_uri": "mlruns"})
    cfg = load_config(path)
    first = training(config_path=str(path))
    assert first.outcome == "promoted"

    mirror = MlflowMirror.for_config(cfg)
    assert mirror is not None and mirror.uri == f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=mirror.uri, registry_uri=mirror.uri)
    experiment = client.get_experiment_by_name(cfg.project)
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    parent = next(r for r in runs if r.info.run_name == "v0001")
    child = next(r for r in runs if r.info.run_name == "logistic_regression")
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert parent.data.tags["blessed"] == "true"
    assert parent.data.metrics["holdout_roc_auc"] == pytest.approx(first.metrics["roc_auc"])
    assert "cv_score" in child.data.metrics and child.data.params
    plots = [a.path for a in client.list_artifacts(child.info.run_id, "plots")]
    assert "plots/roc_curve.png" in plots and all(p.endswith(".png") for p in plots)
    (version,) = client.search_model_versions(f"name='{cfg.project}'")
    assert version.tags[VERSION_TAG] == "v0001" and version.run_id == parent.info.run_id
    assert mirror.aliases() == {"champion": "v0001"}

    second = training(config_path=str(path), force=True, force_reason="test: a second version")
    assert second.version == "v0002"
    assert mirror.aliases() == {"champion": "v0002", "previous": "v0001"}

    registry = ModelRegistry.for_config(cfg)
    registry.rollback(reason="test: roll back")
    assert mirror.aliases() == {"champion": "v0001", "previous": "v0002"}
    registry.set_alias("challenger", "v0002", reason="test: challenger")
    assert mirror.aliases()["challenger"] == "v0002"
    registry.remove_alias("challenger", reason="test: done")
    assert "challenger" not in mirror.aliases()

    # What the two runs leave for a person to look at.
    kinds = [(e.kind, e.outcome) for e in ReportIndex.for_config(cfg).entries()]
    assert kinds.count(("validation", "passed")) == 2 and ("training", "blessed") in kinds
    assert all(Path(e.path).is_file() for e in ReportIndex.for_config(cfg).entries())
    ws = Workspace.create(str(Dashboard.for_config(cfg, "binary").folder))
    (project,) = ws.search_project(cfg.project)
    assert len(ws.list_runs(project.id)) == 2  # each training run's reference sample
    promotions = next(p for p in ws.get_dashboard(project.id).panels if p.title == "Promotions")
    assert promotions.subtitle is not None
    assert promotions.subtitle.split("; ")[0].endswith(" v0002 → v0001 (rollback)")
