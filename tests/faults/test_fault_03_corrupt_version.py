"""Case 3: promoting (or rolling back to) a version whose model file fails its sha256, and
a server whose champion alias names a version it refused."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import write_project
from fastapi.testclient import TestClient
from faultkit import assert_invariants, fit, meta, registry_with_champion
from sklearn.pipeline import Pipeline
from typer.testing import CliRunner

from driftline.apps.cli import app as cli
from driftline.apps.serving.app import create_app
from driftline.core.config import Serving, load_config
from driftline.errors import IntegrityError
from driftline.storage.registry import CHAMPION, PREVIOUS, ModelRegistry

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def model() -> Pipeline:
    return fit()


@pytest.fixture
def registry(tmp_path: Path, model: Pipeline) -> ModelRegistry:
    return registry_with_champion(tmp_path / "registry", model)


def corrupt(registry: ModelRegistry, version: str) -> None:
    (Path(registry.get(version).uri) / "model.joblib").write_bytes(b"not the registered model")


def test_promote_refuses_a_corrupt_version(registry: ModelRegistry, model: Pipeline) -> None:
    registry.register(model, meta(), status="blessed")
    corrupt(registry, "v0002")
    before = registry.audit_log()
    with pytest.raises(IntegrityError, match=r"v0002: model\.joblib has sha256"):
        registry.promote("v0002", reason="better")
    assert registry.aliases() == {CHAMPION: "v0001"} and registry.audit_log() == before
    assert_invariants(registry, damaged=("v0002",))


def test_rollback_refuses_a_corrupt_previous(registry: ModelRegistry, model: Pipeline) -> None:
    registry.register(model, meta(), status="blessed")
    registry.promote("v0002", reason="better")
    corrupt(registry, "v0001")
    with pytest.raises(IntegrityError, match="v0001"):
        registry.rollback(reason="panic")
    assert registry.aliases() == {CHAMPION: "v0002", PREVIOUS: "v0001"}


def test_the_cli_says_why_and_changes_nothing(tmp_path: Path, model: Pipeline) -> None:
    config = write_project(tmp_path, n_rows=200)
    registry = ModelRegistry.for_config(load_config(config))
    registry.promote(registry.register(model, meta(), status="blessed").version, reason="first")
    registry.register(model, meta(), status="blessed")
    corrupt(registry, "v0002")
    result = CliRunner().invoke(cli, ["models", "promote", "v0002", "--config", str(config),
                                      "--force", "--reason", "try"])  # fmt: skip
    assert result.exit_code == 1
    assert "error: v0002: model.joblib has sha256" in result.output
    assert "Traceback" not in result.output
    assert registry.aliases() == {CHAMPION: "v0001"}


def test_ready_and_model_tell_what_is_served(
    registry: ModelRegistry, model: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file rots after promotion verified it: the server keeps v0001 and says so."""
    registry.register(model, meta(), status="blessed")
    app = create_app(registry, Serving(poll_seconds=0.05), log_dir=tmp_path / "log")
    with TestClient(app) as client:
        corrupt(registry, "v0002")
        monkeypatch.setattr(registry, "verified", lambda version: None)
        registry.promote("v0002", reason="the file rots after the check")
        deadline = time.monotonic() + 10
        while "champion" not in client.get("/ready").json()["refused"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for body in (client.get("/ready").json(), client.get("/model").json()):
            assert body["model_version"] == "v0001"
            assert body["registry_champion"] == "v0002" and body["in_sync"] is False
            assert body["refused"]["champion"]["version"] == "v0002"
            assert "IntegrityError" in body["refused"]["champion"]["error"]
