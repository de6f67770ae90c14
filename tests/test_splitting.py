"""The holdout by `split.strategy`: out of time by default (latest batch files, the timestamp
column, or retraining's latest rows), stratified random when there is one file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import write_project
from prefect.logging import disable_run_logger

from driftline.core.config import ProjectConfig, load_config
from driftline.core.contracts import Ingested
from driftline.core.datasets import discover_sources, read_batches, read_sources, write_dataset
from driftline.core.evaluation import evaluate_model
from driftline.core.generator import generate, write_batches, write_monthly_batches
from driftline.errors import ConfigError
from driftline.storage.candidate_models import load_candidate
from tasks.split import split
from tasks.train import train_candidate

ONE = {"candidates": ["logistic_regression"], "search_budget": 1, "cv_folds": 2}


def project(folder: Path, source: str, **overrides: object) -> ProjectConfig:
    overrides.setdefault("split", {"strategy": "auto"})
    return load_config(write_project(folder, training=ONE, data={"source": source}, **overrides))


def ingested(cfg: ProjectConfig) -> Ingested:
    """What the ingest task hands on (rows per file included), without its artifact."""
    sources = discover_sources(cfg.resolve(cfg.data.source))
    df, schema, rows = read_batches(cfg, sources)
    dataset = write_dataset(df, cfg.state_path / "datasets", sources, rows)
    return Ingested(dataset=dataset, table_schema=schema, profile_path="")


def test_auto_holds_out_the_latest_batch_file(tmp_path: Path) -> None:
    files = write_batches(tmp_path / "batches", n_rows=2400, n_batches=6, seed=1)
    cfg = project(tmp_path, "batches")
    parts = split.fn(cfg, ingested(cfg))
    assert parts.strategy == "latest_batches"
    assert parts.holdout_files == [str(files[-1])]
    latest = pd.read_csv(files[-1])
    assert set(parts.holdout.load()[cfg.id_column]) == set(latest[cfg.id_column])
    assert parts.train.rows == 2000
    assert "latest batch files" in parts.describe() and files[-1].name in parts.describe()

    two = project(tmp_path / "two", str(tmp_path / "batches"), split={"batches": 2})
    assert split.fn(two, ingested(two)).holdout_files == [str(f) for f in files[-2:]]


def test_auto_is_stratified_random_for_one_file_and_by_time_with_a_timestamp(
    tmp_path: Path,
) -> None:
    (one,) = write_batches(tmp_path / "one", n_rows=1000, n_batches=1, seed=2)
    cfg = project(tmp_path, str(one))
    assert split.fn(cfg, ingested(cfg)).strategy == "random"

    timed = project(tmp_path / "t", str(one), timestamp_column="snapshot_date")
    parts = split.fn(timed, ingested(timed))
    assert parts.strategy == "time"
    assert parts.holdout_start == parts.time_cutoff and parts.holdout_end is not None
    assert parts.holdout_start in parts.describe()


def test_a_strategy_the_data_cannot_take_names_the_key(tmp_path: Path) -> None:
    (one,) = write_batches(tmp_path / "one", n_rows=600, n_batches=1, seed=2)
    cfg = project(tmp_path, str(one), split={"strategy": "latest_batches"})
    with pytest.raises(ConfigError, match=r"split\.strategy is 'latest_batches'"):
        split.fn(cfg, ingested(cfg))
    cfg = project(tmp_path / "t", str(one), split={"strategy": "time"})
    with pytest.raises(ConfigError, match="timestamp_column is not set"):
        split.fn(cfg, ingested(cfg))


def test_retraining_data_holds_out_its_latest_rows_unseen_by_the_champion(
    tmp_path: Path,
) -> None:
    """Retraining data is the champion's rows, then the recent labelled ones: the holdout is
    the most recent labelled data neither model trained on."""
    (one,) = write_batches(tmp_path / "one", n_rows=1500, n_batches=1, seed=3)
    cfg = project(tmp_path, str(one))
    first = ingested(cfg)
    champion = split.fn(cfg, first)
    recent = generate(1000, seed=9, start_id=80_000)[first.dataset.columns]
    both = pd.concat([first.dataset.load(), recent], ignore_index=True)
    data = write_dataset(both, cfg.state_path / "datasets", [])
    retrain = first.model_copy(update={"dataset": data, "arrival_order": True})
    parts = split.fn(cfg, retrain, champion.train)
    assert parts.strategy == "latest_rows"
    held = set(parts.holdout.load()[cfg.id_column])
    assert held <= set(recent[cfg.id_column])
    assert held == set(recent[cfg.id_column].tail(parts.holdout.rows))
    assert parts.holdout.rows == round(0.2 * len(both))


def test_the_latest_month_predicts_the_next_month(
    tmp_path: Path,
) -> None:
    """Monthly batches with seasonal drift: the default holdout (the latest month) scores
    the model within a few points of what the next month realises."""
    months = write_monthly_batches(tmp_path / "months", months=9, rows_per_month=1500, seed=1)
    cfg = project(tmp_path, str(tmp_path / "months" / "month_2026-0[1-8].csv"))
    parts = split.fn(cfg, ingested(cfg))
    assert parts.holdout_files == [str(months[7])]  # August
    schema = ingested(cfg).table_schema
    with disable_run_logger():
        model = load_candidate(train_candidate.fn(cfg, parts, schema, "logistic_regression", 1))
    holdout = evaluate_model(model, parts.holdout.load(), schema, cfg).metrics["roc_auc"]
    september, _ = read_sources(cfg, [months[8]])
    realised = evaluate_model(model, september, schema, cfg).metrics["roc_auc"]
    assert abs(holdout - realised) < 0.03, (holdout, realised)
