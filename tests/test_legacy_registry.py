"""A registry written by driftline before typed metadata (format 1) still loads and serves.

`tests/fixtures/legacy-registry/` was written by the training flow of that code: a flat
metadata dict, the threshold beside the model rather than inside it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.model_selection import FixedThresholdClassifier

from driftline.apps.serving.app import create_app
from driftline.core.config import Serving
from driftline.core.generator import SCHEMA, generate
from driftline.storage.registry import CHAMPION, ModelRegistry

FIXTURE = Path(__file__).parent / "fixtures" / "legacy-registry" / "churn-demo"
THRESHOLD = 0.5280442449964283  # what that version's metadata.json records


@pytest.fixture
def legacy(tmp_path: Path) -> ModelRegistry:
    shutil.copytree(FIXTURE, tmp_path / "churn-demo")
    return ModelRegistry(tmp_path / "churn-demo")


def test_old_metadata_is_upgraded(legacy: ModelRegistry) -> None:
    (mv,) = legacy.versions()
    assert mv.format == 1 and mv.status == "blessed"
    meta = mv.metadata
    assert (meta.project, meta.candidate, meta.task, meta.target) == (
        "churn-demo",
        "logistic_regression",
        "binary",
        "churned",
    )
    assert meta.table_schema.features == SCHEMA.features
    assert meta.threshold == THRESHOLD and meta.positive_label == 1
    assert meta.metrics["roc_auc"] == pytest.approx(0.8867, abs=1e-4)
    assert meta.blessing.blessed and meta.blessing.reasons == []
    assert meta.data is not None and meta.train is not None and meta.holdout is not None
    assert meta.lineage.config_hash and meta.lineage.flow_run_id
    assert meta.lineage.libraries["sklearn"] and meta.lineage.code is not None
    assert legacy.alias(CHAMPION) == mv
    assert "## Lineage" in (legacy.card(mv.version) or "")


def test_old_model_gets_its_threshold_inside(legacy: ModelRegistry) -> None:
    model = legacy.load_model("v0001")
    assert isinstance(model, FixedThresholdClassifier) and model.threshold == THRESHOLD
    X = generate(300, seed=5)[SCHEMA.features]
    proba = model.predict_proba(X)[:, 1]
    np.testing.assert_array_equal(model.predict(X), (proba >= THRESHOLD).astype(int))


def test_old_registry_serves_and_promotes(legacy: ModelRegistry, tmp_path: Path) -> None:
    records = generate(20, seed=9)[SCHEMA.features]
    body = {"records": records.astype(object).where(records.notna(), None).to_dict("records")}
    app = create_app(legacy, Serving(poll_seconds=0.05), log_dir=tmp_path / "log")
    with TestClient(app) as client:
        assert client.get("/ready").json()["model_version"] == "v0001"
        preds = client.post("/predict", json=body).json()["predictions"]
        assert len(preds) == 20
        assert all(p["label"] == int(p["probability"] >= THRESHOLD) for p in preds)
        assert client.get("/model").json()["champion"]["threshold"] == THRESHOLD
    assert [e["to"] for e in legacy.audit_log()] == ["v0001"]
