"""Gates that work without configuration: the dummy baseline, the champion's tolerance, the
exit code of a run that ends with no champion, and no new version for no change."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from typer.testing import CliRunner

from driftline.apps.cli import app
from driftline.core.candidates import labels
from driftline.core.config import Gates, load_config
from driftline.core.contracts import TrainingOutcome
from driftline.core.gates import bless, default_gates, gates_for
from driftline.core.generator import generate
from driftline.storage.registry import CHAMPION, ModelRegistry


def minimal_config(folder: Path, **extra: object) -> Path:
    """The least a user writes: project, data, target, suite (no gates: section)."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    generate(1200, seed=4).drop(columns="snapshot_date").to_csv(
        folder / "data" / "a.csv", index=False
    )
    raw = {
        "project": "minimal",
        "data": {"source": "data"},
        "target": {"column": "churned"},
        "id_column": "customer_id",
        "expectations": {"suite": "churn", "directory": str(ROOT / "expectations")},
        "state_dir": "state",
        "training": {"candidates": ["logistic_regression"], "search_budget": 1, "cv_folds": 2},
        **extra,
    }
    path = folder / "driftline.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_no_gates_section_means_the_default_gates_and_says_so(tmp_path: Path) -> None:
    gates, note = gates_for(load_config(minimal_config(tmp_path)), "binary")
    assert gates == default_gates("roc_auc")
    assert note is not None and "default gates" in note and "'gates:'" in note
    empty, none = gates_for(load_config(minimal_config(tmp_path, gates={})), "binary")
    assert empty == Gates() and none is None
    assert bless(empty, {"roc_auc": 0.99}, None, "c").reasons == [
        "no gate thresholds configured; refusing to bless"
    ]
    lower = default_gates("log_loss")
    assert lower.change["log_loss"].direction == "lower"


def test_the_default_gates_ask_to_beat_the_dummy_and_not_fall_behind_the_champion() -> None:
    gates = default_gates("roc_auc")
    dummy = {"roc_auc": 0.5}
    good = bless(gates, {"roc_auc": 0.8}, None, "c", None, dummy)
    assert good.blessed
    (check,) = [c for c in good.checks if c.kind == "beats_dummy"]
    assert check.threshold == pytest.approx(0.525) and check.baseline == 0.5
    assert not bless(gates, {"roc_auc": 0.52}, None, "c", None, dummy).blessed
    behind = bless(gates, {"roc_auc": 0.80}, {"roc_auc": 0.82}, "c", "v1", dummy)
    assert not behind.blessed and "relative drop" in behind.reasons[0]
    assert bless(gates, {"roc_auc": 0.815}, {"roc_auc": 0.82}, "c", "v1", dummy).blessed
    missing = bless(gates, {"roc_auc": 0.9}, None, "c")
    assert not missing.blessed and "dummy baseline's evaluation" in missing.reasons[0]
    by_loss = default_gates("log_loss")
    assert bless(by_loss, {"log_loss": 0.50}, None, "c", None, {"log_loss": 0.55}).blessed
    assert not bless(by_loss, {"log_loss": 0.53}, None, "c", None, {"log_loss": 0.55}).blessed


def outcome(**changes: object) -> TrainingOutcome:
    base = TrainingOutcome(
        project="minimal",
        version="v0002",
        candidate="logistic_regression",
        outcome="rejected",
        metrics={"roc_auc": 0.6},
        baseline_version="v0001",
        blessing_reasons=["roc_auc is 0.6000 ..."],
        card_path="card.md",
        report_dir="run",
        champion="v0001",
    )
    return base.model_copy(update=changes)


@pytest.mark.parametrize(
    ("result", "code", "says"),
    [
        (outcome(), 0, "kept v0001 as the champion"),
        (outcome(champion=None, baseline_version=None), 1, "'gates:' key"),
        (outcome(champion=None, baseline_version=None), 1, "gate no champion yet, so no change"),
        (outcome(outcome="promoted", champion="v0002", blessing_reasons=[]), 0, "PROMOTED"),
        (outcome(outcome="unchanged", version="v0001"), 0, "unchanged since v0001"),
    ],
)
def test_run_train_exits_1_only_when_nothing_is_served(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    result: TrainingOutcome,
    code: int,
    says: str,
) -> None:
    monkeypatch.setattr("driftline.apps.cli.run.run_flow", lambda *a, **k: result)
    ran = CliRunner().invoke(app, ["run", "train", "--config", str(minimal_config(tmp_path))])
    assert ran.exit_code == code, ran.output
    assert says in ran.output


@pytest.mark.server
def test_a_minimal_config_promotes_a_model_that_beats_the_dummy_once(
    prefect_server: None, tmp_path: Path
) -> None:
    from flows.training import training

    path = minimal_config(tmp_path)
    first = training(config_path=str(path))
    assert first.outcome == "promoted" and first.champion == first.version == "v0001"
    assert first.gates_note and "default gates" in first.gates_note
    registry = ModelRegistry.for_config(load_config(path))
    blessing = registry.get("v0001").metadata.blessing
    (beats,) = [c for c in blessing.checks if c.kind == "beats_dummy"]
    assert beats.status == "passed" and beats.baseline == pytest.approx(0.5)
    assert blessing.holdout and "stratified random holdout" in blessing.holdout
    card = Path(first.card_path).read_text()
    assert "stratified random holdout: 240 rows (training: 960)" in card
    assert "`churned` in the holdout set:" in card and "Source files (1): `a.csv`" in card
    assert "reliability_curve.png" in card and "search time" in card

    again = training(config_path=str(path))  # unchanged data, config and code
    assert again.outcome == "unchanged" and again.version == "v0001"
    assert [v.version for v in registry.versions()] == ["v0001"]
    forced = training(config_path=str(path), retrain_unchanged=True)
    assert forced.version == "v0002" and forced.baseline_version == "v0001"
    assert registry.alias(CHAMPION) is not None


@pytest.mark.parametrize(("name", "metric"), [("diabetes", "rmse"), ("wine", "f1_macro")])
def test_the_default_gates_judge_each_task_against_its_own_dummy(
    tmp_path: Path, name: str, metric: str
) -> None:
    """Regression is judged against DummyRegressor (the mean) on RMSE, lower is better;
    multiclass against DummyClassifier (the priors) on macro F1, on a real bundled table."""
    from driftline.core.candidates import build_pipeline
    from driftline.core.config import FeatureSelection
    from driftline.core.datasets import discover_sources, read_sources
    from driftline.core.evaluation import evaluate_model, fit_dummy
    from driftline.core.splitting import split_frame
    from driftline.testing.tables import write_table_project

    cfg = load_config(write_table_project(tmp_path, name))
    df, schema = read_sources(cfg, discover_sources(cfg.resolve(cfg.data.source)))
    parts = split_frame(df, cfg, [*schema.features, schema.target], None, schema.task)
    gates, note = gates_for(cfg, schema.task)
    assert gates.dummy is not None and gates.dummy.metric == metric and note
    dummy = evaluate_model(fit_dummy(parts.train, schema, cfg), parts.holdout, schema, cfg)
    first = "ridge" if schema.task == "regression" else "logistic_regression"
    model = build_pipeline(first, schema, FeatureSelection(), 0)
    model.fit(parts.train[schema.features], labels(parts.train, cfg, schema.task))
    fitted = evaluate_model(model, parts.holdout, schema, cfg)
    verdict = bless(gates, fitted.metrics, None, first, None, dummy.metrics)
    assert verdict.blessed, verdict.reasons
    (check,) = [c for c in verdict.checks if c.kind == "beats_dummy"]
    if metric == "rmse":  # lower is better: the bar sits below the dummy's error
        assert check.threshold < dummy.metrics["rmse"]
    else:
        assert check.threshold > dummy.metrics[metric]
    worse = bless(gates, dummy.metrics, None, "dummy", None, dummy.metrics)
    assert not worse.blessed  # the dummy itself does not beat the dummy by the margin
