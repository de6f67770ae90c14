"""Evaluation: each candidate and the champion scored on the same holdout; the best one chosen.

These tasks write into the run folder, so they never come from a cache (NO_CACHE).
"""

from __future__ import annotations

import math
from typing import Any

import joblib
from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from driftline.config import ProjectConfig
from driftline.datasets import Schema
from driftline.evaluation import EvaluationRecord, evaluate_model
from driftline.runs import run_dir
from tasks.split import Split
from tasks.train import TrainedCandidate

TABLE_METRICS = ("roc_auc", "pr_auc", "f1", "precision", "recall", "log_loss", "brier")

# Metrics where a smaller value is better; every other metric is "higher is better".
LOWER_IS_BETTER = frozenset({"log_loss", "brier"})


@task(name="evaluate", task_run_name="evaluate-{trained.name}", cache_policy=NO_CACHE)
def evaluate(
    cfg: ProjectConfig, trained: TrainedCandidate, split: Split, schema: Schema
) -> EvaluationRecord:
    """Score one trained candidate on the holdout; report files go to the run's candidate folder."""
    model = joblib.load(trained.model_path)
    out_dir = run_dir(cfg.state_path) / "candidates" / trained.name
    return evaluate_model(
        model,
        trained.threshold,
        split.holdout.load(),
        schema,
        cfg,
        out_dir,
        name=trained.name,
        model_path=trained.model_path,
    )


@task(name="evaluate-baseline", task_run_name="evaluate-baseline-{version}", cache_policy=NO_CACHE)
def evaluate_baseline(
    cfg: ProjectConfig, model: Any, threshold: float, split: Split, schema: Schema, version: str
) -> EvaluationRecord:
    """Score the champion (a fitted model and its threshold) on this run's holdout."""
    out_dir = run_dir(cfg.state_path) / "baseline"
    return evaluate_model(
        model, threshold, split.holdout.load(), schema, cfg, out_dir, name=version
    )


def _rank_value(record: EvaluationRecord, metric: str) -> float:
    """Sort key, larger is better; a missing or NaN metric ranks last."""
    value = record.metrics.get(metric, math.nan)
    if math.isnan(value):
        return -math.inf
    return -value if metric in LOWER_IS_BETTER else value


@task(name="compare", cache_policy=NO_CACHE)
def compare(cfg: ProjectConfig, records: list[EvaluationRecord]) -> EvaluationRecord:
    """The best record by `training.primary_metric` (first listed wins a tie), plus a table."""
    if not records:
        raise ValueError("compare: no candidate records to choose from")
    metric = cfg.training.primary_metric
    if all(metric not in r.metrics for r in records):
        known = sorted(records[0].metrics)
        raise ValueError(f"primary_metric '{metric}' is not an evaluation metric; one of {known}")
    best = max(records, key=lambda r: _rank_value(r, metric))
    create_table_artifact(
        key=cfg.artifact_key("candidates"),
        table=[
            {
                "candidate": r.name,
                "chosen": "yes" if r is best else "",
                "threshold": round(r.threshold, 4),
                **{m: round(r.metrics[m], 4) for m in TABLE_METRICS if m in r.metrics},
            }
            for r in records
        ],
        description=(
            f"Candidates on the holdout ({records[0].rows} rows); chosen by {metric}: "
            f"**{best.name}** ({best.metrics.get(metric, math.nan):.4f})."
        ),
    )
    return best
