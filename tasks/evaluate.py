"""Evaluation: each candidate and the champion scored on the same holdout; the best one chosen.

These tasks write into the run folder, so they never come from a cache (NO_CACHE).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from driftline.core.config import ProjectConfig
from driftline.core.contracts import EvaluationRecord, Schema, Split, TrainedCandidate
from driftline.core.evaluation import (
    best_record,
    evaluate_model,
    feature_importance,
    fit_dummy,
    write_record,
)
from driftline.core.render import OUTCOME_METRICS
from driftline.core.task_kinds import primary_metric
from driftline.storage.candidate_models import load_candidate


@task(name="evaluate", task_run_name="evaluate-{trained.name}", cache_policy=NO_CACHE)
def evaluate(
    cfg: ProjectConfig, trained: TrainedCandidate, split: Split, schema: Schema, out_dir: str
) -> EvaluationRecord:
    """Score one trained candidate on the holdout; report files go to `out_dir`."""
    return evaluate_model(
        load_candidate(trained),
        split.holdout.load(),
        schema,
        cfg,
        Path(out_dir),
        name=trained.name,
        model_path=trained.model_path,
    )


@task(name="explain", task_run_name="explain-{trained.name}", cache_policy=NO_CACHE)
def explain(
    cfg: ProjectConfig,
    trained: TrainedCandidate,
    split: Split,
    schema: Schema,
    chosen: EvaluationRecord,
) -> EvaluationRecord:
    """The chosen candidate's record with its permutation importance, rewritten in its folder."""
    importance = feature_importance(load_candidate(trained), split.holdout.load(), schema, cfg)
    record = chosen.model_copy(update={"permutation_importance": importance})
    if "evaluation" in record.artifacts:
        write_record(record, Path(record.artifacts["evaluation"]).parent)
    return record


@task(name="evaluate-baseline", task_run_name="evaluate-baseline-{version}", cache_policy=NO_CACHE)
def evaluate_baseline(
    cfg: ProjectConfig, model: Any, split: Split, schema: Schema, version: str, out_dir: str
) -> EvaluationRecord:
    """Score the champion (a fitted model, its threshold inside) on this run's holdout."""
    return evaluate_model(model, split.holdout.load(), schema, cfg, Path(out_dir), name=version)


@task(name="evaluate-dummy", cache_policy=NO_CACHE)
def evaluate_dummy(cfg: ProjectConfig, split: Split, schema: Schema) -> EvaluationRecord:
    """The trivial baseline (`fit_dummy`) fitted on the training set, scored on the holdout."""
    model = fit_dummy(split.train.load(), schema, cfg)
    return evaluate_model(model, split.holdout.load(), schema, cfg, name="dummy")


@task(name="compare", cache_policy=NO_CACHE)
def compare(cfg: ProjectConfig, records: list[EvaluationRecord]) -> EvaluationRecord:
    """The best record by the primary metric (first listed wins a tie), plus a table."""
    metric = primary_metric(cfg.training.primary_metric, records[0].task)
    best = best_record(records, metric)
    create_table_artifact(
        key=cfg.artifact_key("candidates"),
        table=[
            {
                "candidate": r.name,
                "chosen": "yes" if r is best else "",
                **({"threshold": round(r.threshold, 4)} if r.threshold is not None else {}),
                **{m: round(r.metrics[m], 4) for m in OUTCOME_METRICS if m in r.metrics},
            }
            for r in records
        ],
        description=(
            f"Candidates on the holdout ({records[0].rows} rows); chosen by {metric}: "
            f"**{best.name}** ({best.metrics.get(metric, math.nan):.4f})."
        ),
    )
    return best
