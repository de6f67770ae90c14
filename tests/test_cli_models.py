"""`driftline models`: list, show, promote and rollback, their output and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.dummy import DummyClassifier
from typer.testing import CliRunner, Result

from driftline.apps.cli import models
from driftline.core.config import ProjectConfig
from driftline.core.contracts import Blessing
from driftline.core.metadata import ModelMetadata
from driftline.storage.registry import ModelRegistry
from driftline.testing.models import churn_metadata

runner = CliRunner()


def metadata(candidate: str, roc_auc: float, passed: bool) -> ModelMetadata:
    return churn_metadata(
        candidate=candidate,
        metrics={"roc_auc": roc_auc, "pr_auc": 0.5, "f1": 0.6, "log_loss": 0.45},
        blessing=Blessing(
            blessed=passed,
            candidate_id=candidate,
            baseline_id=None,
            checks=[],
            reasons=[] if passed else ["roc_auc below 0.75"],
        ),
    )


@pytest.fixture
def config(project: ProjectConfig, tmp_path: Path) -> Path:
    """The demo project with two versions: v0001 blessed, v0002 rejected by the gates."""
    registry = ModelRegistry.for_config(project)
    model = DummyClassifier().fit([[0], [1]], [0, 1])
    registry.register(model, metadata("random_forest", 0.81, True), status="blessed")
    registry.register(model, metadata("logistic_regression", 0.7, False), status="rejected")
    return tmp_path / "driftline.yaml"


def run(config: Path, *args: str) -> Result:
    return runner.invoke(models.app, [*args, "--config", str(config)])


def test_list_compares_versions_at_a_glance(config: Path) -> None:
    result = run(config, "list")
    assert result.exit_code == 0, result.output
    header, _, first, second = result.output.splitlines()
    for column in ("version", "candidate", "roc_auc", "pr_auc", "f1", "log_loss", "gate"):
        assert column in header
    assert first.split()[0] == "v0001" and "random_forest" in first and "0.8100" in first
    assert "blessed" in first and "rejected" in second

    assert run(config, "promote", "v0001").exit_code == 0
    assert run(config, "list").output.splitlines()[2].endswith("champion")


def test_list_on_an_empty_registry(project: ProjectConfig, tmp_path: Path) -> None:
    result = run(tmp_path / "driftline.yaml", "list")
    assert result.exit_code == 0
    assert "no model versions registered yet" in result.output


def test_promote_rollback_and_refusals(config: Path) -> None:
    result = run(config, "promote", "v0001", "--reason", "first model")
    assert result.exit_code == 0, result.output
    assert "v0001 is now the champion; previous: none" in result.output

    result = run(config, "promote", "v0002")
    assert result.exit_code == 1
    assert "error: v0002 was rejected by the gates" in result.output

    result = run(config, "promote", "v0002", "--force")
    assert result.exit_code == 1
    assert "needs a reason" in result.output

    result = run(config, "promote", "v0002", "--force", "--reason", "gate bug #12")
    assert result.exit_code == 0, result.output
    assert "v0002 is now the champion (forced past the gates); previous: v0001" in result.output

    result = run(config, "rollback", "--reason", "v0002 misbehaves")
    assert result.exit_code == 0, result.output
    assert "rolled back: v0001 is the champion; previous: v0002" in result.output


def test_rollback_without_previous_fails_cleanly(config: Path) -> None:
    result = run(config, "rollback")
    assert result.exit_code == 1
    assert "error: there is no 'previous' version" in result.output
    assert "Traceback" not in result.output


def test_show_prints_metadata_card_and_alias_history(config: Path) -> None:
    run(config, "promote", "v0001", "--reason", "first model")
    run(config, "promote", "v0002", "--force", "--reason", "gate bug #12")

    result = run(config, "show", "v0002")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("v0002  rejected  aliases: champion")
    assert '"candidate": "logistic_regression"' in out
    assert "# Model card: churn-demo v0002" in out and "- roc_auc below 0.75" in out
    assert "promote FORCED  champion: v0001 -> v0002" in out and "gate bug #12" in out

    by_alias = run(config, "show", "previous")
    assert by_alias.exit_code == 0 and by_alias.output.startswith("v0001  blessed")
    assert "champion: - -> v0001" in by_alias.output


@pytest.mark.parametrize("command", ["show", "promote"])
def test_unknown_version_is_a_clear_error(config: Path, command: str) -> None:
    result = run(config, command, "v0099")
    assert result.exit_code == 1
    assert "error: unknown model version 'v0099'" in result.output
    assert "known: v0001, v0002" in result.output


def test_models_is_a_driftline_subcommand() -> None:
    from driftline.apps.cli import app

    result = runner.invoke(app, ["models", "--help"])
    assert result.exit_code == 0
    for command in ("list", "show", "promote", "rollback"):
        assert command in result.output
