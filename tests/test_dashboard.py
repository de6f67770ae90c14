"""The Evidently workspace behind `driftline ui`, and the report index: written without a flow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import write_project
from evidently.ui.workspace import Workspace

from driftline.core.config import Monitoring
from driftline.core.drift import check_drift
from driftline.core.generator import CATEGORICAL, NUMERIC, Drift, generate
from driftline.core.lineage import PREDICTION_COLUMN
from driftline.storage.dashboard import Dashboard, promotion_lines
from driftline.storage.report_index import ReportIndex

POLICY = Monitoring(min_rows=100)


def _scored(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A window as the prediction log holds it: a probability per row and the fed-back label."""
    rng = np.random.default_rng(seed)
    noisy = 0.6 * df["churned"].astype(float) + 0.4 * rng.random(len(df))
    return df.assign(**{PREDICTION_COLUMN: noisy.clip(0, 1)})


@pytest.fixture
def board(tmp_path: Path) -> Dashboard:
    return Dashboard(tmp_path / "evidently", "churn-demo", PREDICTION_COLUMN)


def _check(board: Dashboard, shift: float, seed: int) -> tuple[list[str], list[str]]:
    reference = _scored(generate(800, seed=1), 1)
    current = _scored(generate(800, seed=seed, drift=Drift(shift={"age": shift})), seed)
    result, report = check_drift(
        reference,
        current,
        NUMERIC,
        CATEGORICAL,
        POLICY,
        prediction_column=PREDICTION_COLUMN,
        target_column="churned",
    )
    board.add_check(result, report, current, "v0001", ["2026-12-01 10:00 — → v0001 (promote)"])
    assert report.quality is not None
    quality = [m["config"]["type"].split(":")[-1] for m in report.quality.dict()["metrics"]]
    return quality, [e.metric for e in result.estimated]


def test_every_check_adds_snapshots_and_the_panels_follow_what_they_hold(board: Dashboard) -> None:
    board.add_reference("v0001", _scored(generate(500, seed=1), 1), [])
    quality, estimated = _check(board, 0.0, 2)
    _check(board, 15.0, 3)
    assert estimated  # a binary window with probabilities: CBPE estimates

    ws = Workspace.create(str(board.folder))
    (project,) = ws.search_project("churn-demo")
    # reference summary, then per check: drift, quality, summary
    assert len(ws.list_runs(project.id)) == 1 + 2 * 3
    panels = {p.title: p for p in ws.get_dashboard(project.id).panels}
    assert set(panels) == {
        "Share of drifted columns",
        "Prediction drift score",
        "Drift score per column",
        "Prediction mean and distribution",
        "Realised quality on labelled windows",
        "Label-free quality estimate",
        "Promotions",
    }
    per_column = [v.metric_labels["column"] for v in panels["Drift score per column"].values]
    assert per_column == [*NUMERIC, *CATEGORICAL]
    # The quality panel shows the metrics the check computed, whatever they are.
    shown = [v.metric.split(":")[-1] for v in panels["Realised quality on labelled windows"].values]
    assert shown == quality
    estimate_lines = [
        v.metric_labels["column"] for v in panels["Label-free quality estimate"].values
    ]
    assert estimate_lines == [
        f"estimated {m}{part}" for m in estimated for part in ("", " (lower)", " (upper)")
    ]
    assert panels["Promotions"].subtitle == "2026-12-01 10:00 — → v0001 (promote)"


def test_a_check_without_a_verdict_adds_nothing(board: Dashboard) -> None:
    small = generate(50, seed=2)
    result, report = check_drift(generate(50, seed=1), small, NUMERIC, CATEGORICAL, POLICY)
    assert not result.verdict
    board.add_check(result, report, small, "v0001", [])
    assert not board.folder.exists()


def test_promotion_lines_are_the_champion_moves_newest_first() -> None:
    audit = [
        {"time": "2026-12-01T10:00:00.000+00:00", "alias": "champion", "from": None,
         "to": "v0001", "action": "promote"},
        {"time": "2026-12-01T10:00:00.000+00:00", "alias": "previous", "from": None,
         "to": "v0001", "action": "promote"},
        {"time": "2026-12-02T11:30:00.000+00:00", "alias": "champion", "from": "v0002",
         "to": "v0001", "action": "rollback"},
    ]  # fmt: skip
    assert promotion_lines(audit) == [
        "2026-12-02 11:30 v0002 → v0001 (rollback)",
        "2026-12-01 10:00 — → v0001 (promote)",
    ]


def test_report_index_lists_reports_newest_first_with_relative_links(tmp_path: Path) -> None:
    index = ReportIndex(tmp_path / "state" / "reports" / "p", "p")
    run = tmp_path / "state" / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "drift-report.html").write_text("<html></html>")
    (run / "training-report.html").write_text("<html></html>")
    index.add("training", "blessed", "v0001 (logistic_regression)", run / "training-report.html")
    relative = index.add("monitoring", "alerts: drift_share", "3 of 11", run / "drift-report.html")
    assert relative == "runs/r1/drift-report.html"
    assert [e.kind for e in index.entries()] == ["monitoring", "training"]
    page = index.page.read_text()
    assert page.index("drift-report.html") < page.index("training-report.html")
    assert "href='../../runs/r1/drift-report.html'" in page
    assert "alerts: drift_share" in page
    (index.folder / "entries.jsonl").open("a").write('{"torn": \n')
    assert len(index.entries()) == 2
    assert json.loads((index.folder / "entries.jsonl").read_text().splitlines()[0])["kind"]


def test_ui_before_any_check_or_training_says_what_fills_it(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from driftline.apps.cli import app

    config = write_project(tmp_path, n_rows=100)
    result = CliRunner().invoke(app, ["ui", "--config", str(config)])
    assert result.exit_code == 1
    assert "no dashboard yet" in result.output and "driftline run monitor" in result.output


def test_a_regression_project_gets_its_own_quality_metrics_and_prediction_column(
    tmp_path: Path,
) -> None:
    from sklearn.datasets import load_diabetes

    from driftline.core.scoring import prediction_column

    data = load_diabetes(as_frame=True).frame
    column = prediction_column("regression")
    rng = np.random.default_rng(0)
    scored = data.assign(**{column: data["target"] + rng.normal(0, 30, len(data))})
    features = [c for c in data.columns if c != "target"]
    reference, current = scored.iloc[:220], scored.iloc[220:]
    result, report = check_drift(
        reference, current, features, [], POLICY, column, "target", task="regression"
    )
    board = Dashboard(tmp_path / "evidently", "diabetes", column)
    board.add_check(result, report, current, "v0001", [])
    ws = Workspace.create(str(board.folder))
    (project,) = ws.search_project("diabetes")
    panels = {p.title: p for p in ws.get_dashboard(project.id).panels}
    quality = [
        v.metric.split(":")[-1] for v in panels["Realised quality on labelled windows"].values
    ]
    assert report.quality is not None and quality == [
        m["config"]["type"].split(":")[-1] for m in report.quality.dict()["metrics"]
    ]
    assert "RocAuc" not in quality and quality  # the task's metrics, not a classifier's
    means = panels["Prediction mean and distribution"].values
    assert {v.metric_labels["column"] for v in means} == {column, board.reference_column}
