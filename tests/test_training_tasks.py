"""The split, train, evaluate, compare and gate tasks, directly and inside a flow."""

from __future__ import annotations

from pathlib import Path

import joblib
import pandas as pd
import pytest
from conftest import write_project
from prefect import flow
from prefect.artifacts import Artifact
from prefect.logging import disable_run_logger
from prefect.task_runners import ThreadPoolTaskRunner

from driftline.core.candidates import labels
from driftline.core.config import ProjectConfig, load_config
from driftline.core.contracts import Ingested, Split
from driftline.core.datasets import discover_sources, read_sources, write_dataset
from driftline.core.generator import generate
from driftline.errors import DataError
from driftline.orchestration.run_folders import run_dir
from driftline.storage.candidate_models import load_candidate
from tasks.evaluate import compare, evaluate, evaluate_baseline
from tasks.gate import gate
from tasks.split import split
from tasks.train import cores_per_candidate, train_candidate


def small_project(folder: Path, **overrides: object) -> ProjectConfig:
    training = {
        "candidates": ["logistic_regression", "hist_gradient_boosting"],
        "search_budget": 2,
        "cv_folds": 2,
        "slice_columns": ["contract"],
    }
    return load_config(write_project(folder, n_rows=1500, seed=7, training=training, **overrides))


def ingested_for(cfg: ProjectConfig) -> Ingested:
    """What the ingest task hands on, without its Prefect artifact."""
    sources = discover_sources(cfg.resolve(cfg.data.source))
    df, schema = read_sources(cfg, sources)
    dataset = write_dataset(df, cfg.state_path / "datasets", sources)
    return Ingested(dataset=dataset, table_schema=schema, profile_path="")


def test_stratified_split(tmp_path: Path) -> None:
    cfg = small_project(tmp_path)
    ingested = ingested_for(cfg)
    parts = split.fn(cfg, ingested)
    assert parts.strategy == "random" and parts.time_cutoff is None
    assert parts.train.rows + parts.holdout.rows == ingested.dataset.rows
    assert parts.holdout.rows == pytest.approx(0.2 * ingested.dataset.rows, abs=1)
    train, holdout = parts.train.load(), parts.holdout.load()
    assert labels(train, cfg).mean() == pytest.approx(labels(holdout, cfg).mean(), abs=0.01)
    assert not set(train[cfg.id_column]) & set(holdout[cfg.id_column])
    assert Path(parts.train.path).is_relative_to(cfg.state_path / "datasets")
    assert parts.train.sources == [ingested.dataset.path]
    assert split.fn(cfg, ingested) == parts  # seeded: the same split again


def test_time_split_holds_out_the_latest_rows(tmp_path: Path) -> None:
    cfg = small_project(tmp_path, timestamp_column="snapshot_date", split={"strategy": "auto"})
    parts = split.fn(cfg, ingested_for(cfg))
    assert parts.strategy == "time"
    train, holdout = parts.train.load(), parts.holdout.load()
    assert train["snapshot_date"].max() < holdout["snapshot_date"].min()
    assert str(holdout["snapshot_date"].min()) == parts.time_cutoff
    assert 0.1 < parts.holdout.rows / (parts.train.rows + parts.holdout.rows) < 0.3


def test_the_champions_training_rows_never_enter_the_holdout(tmp_path: Path) -> None:
    """Retraining data holds the champion's training rows; judging the champion on them would
    flatter it. The new holdout is drawn from rows the champion has not seen."""
    cfg = small_project(tmp_path)
    first = ingested_for(cfg)
    champion_split = split.fn(cfg, first)
    recent = generate(600, seed=99, start_id=50_000)
    combined = pd.concat([first.dataset.load(), recent[first.dataset.columns]], ignore_index=True)
    ingested = first.model_copy(
        update={"dataset": write_dataset(combined, cfg.state_path / "datasets", [])}
    )
    parts = split.fn(cfg, ingested, champion_split.train)
    seen_ids = set(champion_split.train.load()[cfg.id_column])
    assert not seen_ids & set(parts.holdout.load()[cfg.id_column])
    assert parts.train.rows + parts.holdout.rows == len(combined)
    assert parts.holdout.rows == pytest.approx(0.2 * len(combined), abs=1)

    everything_seen = first.model_copy(update={"dataset": champion_split.train})
    with pytest.raises(DataError, match="unseen by the champion"):
        split.fn(cfg, everything_seen, champion_split.train)


def test_split_refuses_one_class(tmp_path: Path) -> None:
    cfg = small_project(tmp_path)
    cfg = cfg.model_copy(update={"target": cfg.target.model_copy(update={"positive_label": 0})})
    ingested = ingested_for(cfg)
    df = ingested.dataset.load()
    only = df[labels(df, cfg) == 1].reset_index(drop=True)
    one_class = ingested.model_copy(
        update={"dataset": write_dataset(only, cfg.state_path / "datasets", [])}
    )
    with pytest.raises(DataError, match="fewer than 2 rows"):
        split.fn(cfg, one_class)


@pytest.mark.parametrize(
    ("n_jobs", "n_candidates", "expected"), [(2, 3, 1), (8, 3, 2), (4, 1, 4), (1, 2, 1)]
)
def test_cores_per_candidate(n_jobs: int, n_candidates: int, expected: int) -> None:
    assert cores_per_candidate(n_jobs, n_candidates) == expected


def test_train_candidate_writes_a_loadable_model(tmp_path: Path) -> None:
    cfg = small_project(tmp_path)
    ingested = ingested_for(cfg)
    parts = split.fn(cfg, ingested)
    with disable_run_logger():
        trained = train_candidate.fn(
            cfg, parts, ingested.table_schema, "logistic_regression", n_jobs=1
        )
    path = Path(trained.model_path)
    assert path.is_relative_to(cfg.state_path / "models-wip") and path.name == "model.joblib"
    assert [p.name for p in path.parent.iterdir()] == ["model.joblib"]  # no temporary left
    model = joblib.load(path)
    holdout = parts.holdout.load()
    assert model.predict_proba(holdout[ingested.table_schema.features]).shape == (len(holdout), 2)
    assert trained.name == "logistic_regression" and "C" in trained.params
    assert 0 < trained.threshold < 1 and trained.fit_seconds > 0
    assert trained.search and trained.search.settings_tried == trained.search.settings_planned


@flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
def mini_training(cfg: ProjectConfig, ingested: Ingested) -> dict:
    """The lead's training flow in miniature: split, parallel candidates, evaluate, gate."""
    schema = ingested.table_schema
    parts: Split = split(cfg, ingested)
    n_jobs = cores_per_candidate(cfg.training.n_jobs, len(cfg.training.candidates))
    futures = [
        train_candidate.submit(cfg, parts, schema, name, n_jobs) for name in cfg.training.candidates
    ]
    trained = [f.result() for f in futures]
    folder = run_dir(cfg.state_path)
    records = [
        evaluate(cfg, t, parts, schema, str(folder / "candidates" / t.name)) for t in trained
    ]
    best = compare(cfg, records)
    champion = next(t for t in trained if t.name != best.name)
    baseline = evaluate_baseline(
        cfg, load_candidate(champion), parts, schema, "v1", str(folder / "baseline")
    )
    blessing = gate(cfg.gates, best, baseline, "v2", "v1", str(folder), "churn-demo-blessing")
    return {
        "states": [f.state.name for f in futures],
        "best": best,
        "records": records,
        "baseline": baseline,
        "blessing": blessing,
    }


@pytest.mark.server
def test_tasks_in_a_flow_and_fits_come_from_the_cache(tmp_path: Path, prefect_server) -> None:
    cfg = small_project(tmp_path)
    ingested = ingested_for(cfg)
    first = mini_training(cfg, ingested)
    assert first["states"] == ["Completed", "Completed"]
    best, baseline, blessing = first["best"], first["baseline"], first["blessing"]
    assert best.name in cfg.training.candidates
    assert best.metrics["roc_auc"] == max(r.metrics["roc_auc"] for r in first["records"])
    assert best.model_path and Path(best.model_path).is_file()
    run_folder = Path(best.artifacts["evaluation"]).parents[2]
    assert (run_folder / "candidates" / best.name / "roc_curve.png").is_file()
    assert (run_folder / "baseline" / "evaluation.json").is_file()
    assert (run_folder / "blessing.json").is_file()
    assert baseline.rows == best.rows  # champion scored on the same holdout
    assert blessing.baseline_id == "v1" and any(c.kind == "max_drop_abs" for c in blessing.checks)
    table = Artifact.get("churn-demo-candidates")
    assert table is not None and best.name in str(table.data)
    markdown = Artifact.get("churn-demo-blessing")
    assert markdown is not None and "v2" in str(markdown.data)
    progress = Artifact.get("churn-demo-search-logistic-regression")
    assert progress is not None and progress.type == "progress" and progress.data == 100.0

    again = mini_training(cfg, ingested)
    assert again["states"] == ["Cached", "Cached"]
    assert again["best"].metrics == best.metrics
