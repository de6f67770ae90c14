"""Canary and shadow verdicts: per-arm quality on labelled traffic, the difference with its
interval and test, the labels still needed, a recommendation, and the configured automatic
promotion or withdrawal, audited with its numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import write_project
from typer.testing import CliRunner

from driftline.apps.cli import app
from driftline.core.candidates import build_pipeline
from driftline.core.challenger_report import challenger_report
from driftline.core.config import ChallengerPolicy, FeatureSelection, load_config
from driftline.core.generator import SCHEMA, generate
from driftline.storage.prediction_log import (
    PREDICTIONS,
    feedback_columns,
    log_root,
    write_feedback,
    write_part,
)
from driftline.storage.registry import CHALLENGER, CHAMPION, ModelRegistry
from driftline.storage.registry.verdicts import act_on
from driftline.testing.models import churn_metadata


def traffic(n: int, right: dict[str, float], shadow: bool, seed: int = 0) -> pd.DataFrame:
    """Labelled log rows: each arm right on a share `right[version]` of its requests."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    frames = []
    for i, (version, share) in enumerate(right.items()):
        arm = "champion" if i == 0 else "challenger"
        rows = np.arange(n) if shadow else np.arange(i, n, 2)
        correct = rng.random(len(rows)) < share
        label = np.where(correct, y[rows], 1 - y[rows])
        score = np.clip(np.where(label == 1, 0.7, 0.3) + rng.normal(0, 0.1, len(rows)), 0, 1)
        frames.append(
            pd.DataFrame(
                {
                    "request_id": [f"r{j}" for j in rows],
                    "arm": arm,
                    "served": not (shadow and arm == "challenger"),
                    "model_version": version,
                    "label": label,
                    "probability": score,
                    "y_true": y[rows],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


POLICY = ChallengerPolicy(min_labels=100)


def test_canary_accuracy_recommends_promoting_a_clear_winner() -> None:
    log = traffic(2000, {"v0001": 0.70, "v0002": 0.85}, shadow=False)
    report = challenger_report("p", log, "v0001", "v0002", POLICY, "accuracy")
    assert report.mode == "canary" and report.recommendation == "promote"
    c = report.comparison
    assert c is not None and c.test == "two-proportion z-test" and c.labelled["challenger"] == 1000
    assert c.ci_low > 0 and c.p_value < 0.05 and c.labels_needed is None
    assert report.quality["challenger"]["accuracy"] == pytest.approx(c.challenger)


def test_shadow_auc_is_paired_and_too_few_labels_ask_for_more() -> None:
    log = traffic(1500, {"v0001": 0.85, "v0002": 0.70}, shadow=True)
    report = challenger_report("p", log, "v0001", "v0002", POLICY, "roc_auc")
    assert report.mode == "shadow" and report.recommendation == "keep"
    assert report.comparison is not None and "paired bootstrap" in report.comparison.test
    assert report.comparison.labelled == {"champion": 1500, "challenger": 1500}

    few = challenger_report("p", log.iloc[::30], "v0001", "v0002", POLICY, "roc_auc")
    assert few.recommendation == "need more data" and few.comparison is None
    assert "serving.challenger.min_labels" in few.explanation
    close = traffic(400, {"v0001": 0.80, "v0002": 0.80}, shadow=False, seed=0)
    undecided = challenger_report("p", close, "v0001", "v0002", POLICY, "accuracy")
    assert undecided.recommendation == "need more data"
    assert undecided.comparison is not None and undecided.comparison.labels_needed


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    """v0001 champion, v0002 the challenger: two fitted churn models."""
    data = generate(600, seed=3)
    model = build_pipeline("logistic_regression", SCHEMA, FeatureSelection(), 0)
    model.fit(data[SCHEMA.features], data[SCHEMA.target])
    registry = ModelRegistry(tmp_path / "registry")
    for _ in range(2):
        registry.register(model, churn_metadata(), status="blessed")
    registry.promote("v0001", reason="first")
    registry.set_alias(CHALLENGER, "v0002", reason="canary")
    return registry


def test_a_better_challenger_is_promoted_and_audited_with_its_numbers(
    registry: ModelRegistry,
) -> None:
    log = traffic(2000, {"v0001": 0.70, "v0002": 0.85}, shadow=False)
    report = challenger_report("p", log, "v0001", "v0002", POLICY, "accuracy")
    assert act_on(registry, report, POLICY, "test").action == "none"  # not configured
    acted = act_on(registry, report, POLICY.model_copy(update={"auto_promote": True}), "test")
    assert acted.action == "promoted"
    assert registry.aliases() == {CHAMPION: "v0002", "previous": "v0001"}
    move = [e for e in registry.audit_log() if e["alias"] == CHAMPION][-1]
    assert move["to"] == "v0002" and "two-proportion z-test p=" in move["reason"]
    assert "difference +0.1" in move["reason"]


def test_a_worse_challenger_is_withdrawn(registry: ModelRegistry) -> None:
    log = traffic(2000, {"v0001": 0.85, "v0002": 0.70}, shadow=False)
    report = challenger_report("p", log, "v0001", "v0002", POLICY, "accuracy")
    policy = POLICY.model_copy(update={"auto_rollback": True})
    assert act_on(registry, report, policy, "test").action == "rolled back"
    assert CHALLENGER not in registry.aliases()
    (withdrawn,) = [e for e in registry.audit_log() if e["alias"] == CHALLENGER and not e["to"]]
    assert "withdrawn" in withdrawn["reason"] and "significantly worse" in withdrawn["reason"]


def test_challenger_report_command_prints_the_verdict(tmp_path: Path) -> None:
    path = write_project(tmp_path, n_rows=200, serving={"strategy": "canary"})
    cfg = load_config(path)
    data = generate(600, seed=3)
    model = build_pipeline("logistic_regression", SCHEMA, FeatureSelection(), 0)
    model.fit(data[SCHEMA.features], data[SCHEMA.target])
    registry = ModelRegistry.for_config(cfg)
    for _ in range(2):
        registry.register(model, churn_metadata(), status="blessed")
    registry.promote("v0001", reason="first")
    invoke = ["challenger", "report", "--config", str(path)]
    assert CliRunner().invoke(app, invoke).exit_code == 1  # no challenger yet
    set_it = CliRunner().invoke(app, ["challenger", "set", "v0002", "--config", str(path)])
    assert set_it.exit_code == 0, set_it.output

    log = traffic(1200, {"v0001": 0.70, "v0002": 0.85}, shadow=False)
    rows = log.drop(columns="y_true").assign(ts=pd.Timestamp.now(tz="UTC"))
    write_part(log_root(cfg), PREDICTIONS, pa.Table.from_pandas(rows))
    write_feedback(log_root(cfg), feedback_columns(list(log["request_id"]), list(log["y_true"]), 1))
    shown = CliRunner().invoke(app, invoke)
    assert shown.exit_code == 0, shown.output
    assert "Recommendation: promote" in shown.output and "roc_auc" in shown.output
    assert "labels still needed per arm: none" in shown.output


def test_run_monitor_prints_the_challenger_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftline.core.contracts import ChallengerReport, DriftResult, Rows

    report = ChallengerReport(
        project="churn-demo",
        champion="v0001",
        challenger="v0002",
        mode="canary",
        quality={},
        recommendation="need more data",
        explanation="40 labelled rows of v0001 and 38 of v0002",
    )
    result = DriftResult(
        verdict=False,
        reason="no verdict",
        columns=[],
        drifted_columns=[],
        drift_share=0.0,
        dataset_drift=False,
        prediction_drift=None,
        quality={},
        quality_note="not computed",
        rows=Rows(reference=0, current=0, reference_sampled=0, current_sampled=0),
        alerts=[],
        challenger=report,
    )
    monkeypatch.setattr("driftline.apps.cli.run.run_flow", lambda *a, **k: result)
    path = write_project(tmp_path, n_rows=200)
    shown = CliRunner().invoke(app, ["run", "monitor", "--config", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "challenger v0002: need more data: 40 labelled rows" in shown.output
