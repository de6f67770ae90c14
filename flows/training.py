"""Training: ingest → validate → split → train candidates → evaluate → gate → register → promote.

`fit_gate_promote` is the part after validation; the retraining flow calls it on the data
it assembles, so both flows run the same steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from pydantic import Field

from driftline.core.candidates import deadline_for, share_of
from driftline.core.config import DEFAULT_CONFIG_PATH, ProjectConfig, load_config
from driftline.core.contracts import (
    DatasetRef,
    Ingested,
    Schema,
    Split,
    TaskKind,
    TrainedCandidate,
    TrainingOutcome,
)
from driftline.core.datasets import check_sources
from driftline.core.estimators import check_candidates
from driftline.core.gates import gates_for
from driftline.core.lineage import git_commit, model_metadata, same_build
from driftline.errors import ChampionMoved, ConfigError, RegistryError
from driftline.orchestration.events import emit_run_failed
from driftline.orchestration.run_folders import run_dir
from driftline.orchestration.task_runners import task_runner
from driftline.storage.candidate_models import candidate_intact
from driftline.storage.registry import CHAMPION, ModelRegistry, ModelVersion, forced_reason
from tasks.evaluate import compare, evaluate, evaluate_baseline, evaluate_dummy, explain
from tasks.gate import gate
from tasks.ingest import ingest
from tasks.leakage import leak_check
from tasks.record import record_training
from tasks.register import promote, reference, register
from tasks.split import split
from tasks.train import cores_per_candidate, train_candidate
from tasks.validate import validate

# Times a promotion is gated again after the champion moved under it, before giving up.
MAX_REGATES = 3


def _with_overrides(
    cfg: ProjectConfig, candidates: list[str] | None, search_budget: int | None
) -> ProjectConfig:
    changes: dict[str, object] = {}
    if candidates:
        changes["candidates"] = list(candidates)
    if search_budget:
        changes["search_budget"] = search_budget
    if not changes:
        return cfg
    return cfg.model_copy(update={"training": cfg.training.model_copy(update=changes)})


def task_candidates(cfg: ProjectConfig, task: TaskKind) -> list[str]:
    """The candidates a run of `task` trains; ConfigError when one does not fit the task
    (checked at config load when target.task is set, here once it is inferred)."""
    try:
        return check_candidates(cfg.training, task)
    except ValueError as exc:
        raise ConfigError(f"config of project '{cfg.project}': {exc}") from None


def champion_training_set(champion: ModelVersion | None) -> DatasetRef | None:
    """The champion's training rows, which must stay out of the holdout it is judged on."""
    if champion is None or champion.metadata.train is None:
        return None
    train = champion.metadata.train
    return train if Path(train.path).exists() else None


def unchanged_since(
    registry: ModelRegistry, cfg: ProjectConfig, ingested: Ingested
) -> ModelVersion | None:
    """The latest version built from the same data, config and code, if there is one."""
    data, config, code = ingested.dataset.fingerprint, cfg.fingerprint(), git_commit()
    return next(
        (v for v in reversed(registry.versions()) if same_build(v.metadata, data, config, code)),
        None,
    )


def _unchanged(
    cfg: ProjectConfig, registry: ModelRegistry, same: ModelVersion, champion: str | None
) -> TrainingOutcome:
    get_run_logger().info(
        "unchanged since %s: same data (%s), config (%s) and code; nothing registered "
        "(force retrains anyway)",
        same.version,
        same.metadata.data.fingerprint if same.metadata.data else "?",
        same.metadata.lineage.config_hash,
    )
    return TrainingOutcome(
        project=cfg.project,
        version=same.version,
        candidate=same.metadata.candidate,
        outcome="unchanged",
        metrics=same.metadata.metrics,
        baseline_version=None,
        blessing_reasons=[],
        card_path=registry.card_path(same.version),
        report_dir="",
        champion=champion,
    )


def _train_all(
    cfg: ProjectConfig, parts: Split, schema: Schema, names: list[str]
) -> dict[str, TrainedCandidate]:
    """Every candidate in `names`, within one time budget for all of them.

    Locally they run one after another, each on all cores (its folds in joblib threads) and
    with an equal share of the time left: three searches at once as threads on two cores
    fought over the GIL and spinning threads, and took several times longer
    (`python -m benchmarks training`). On a Dask cluster they search at once, sharing the
    deadline, and joblib spreads their fits over the cluster.
    """
    deadline = deadline_for(cfg.training)
    get_run_logger().info(
        "training %s within a time budget of %g min",
        ", ".join(names),
        cfg.training.time_budget_minutes,
    )
    if cfg.training.dask_address:
        n_jobs = cores_per_candidate(cfg.training.n_jobs, len(names))
        futures = [
            train_candidate.submit(cfg, parts, schema, name, n_jobs, deadline) for name in names
        ]
        trained = {future.result().name: future.result() for future in futures}
    else:
        n_jobs = cfg.training.n_jobs
        trained = {
            name: train_candidate(
                cfg, parts, schema, name, n_jobs, share_of(deadline, len(names) - i)
            )
            for i, name in enumerate(names)
        }
    for name, candidate in trained.items():
        if not candidate_intact(candidate):  # changed since it was written (or cached)
            get_run_logger().warning("%s: %s changed since it was trained; training it again",
                                     name, candidate.model_path)  # fmt: skip
            again = train_candidate.with_options(refresh_cache=True)
            trained[name] = again(cfg, parts, schema, name, n_jobs)
    return trained


@flow(name="fit-gate-promote", on_failure=[emit_run_failed], log_prints=True)
def fit_gate_promote(
    cfg: ProjectConfig,
    ingested: Ingested,
    force: bool = False,
    force_reason: str | None = None,
    trigger: str = "manual",
    retrain_unchanged: bool = False,
) -> TrainingOutcome:
    """Split validated data, train every candidate within the time budget, pick the best, score it,
    the champion and a dummy baseline on the same holdout, gate, register, and promote when
    blessed. Data, config and code that built a version already: nothing is trained or
    registered (unless `force` or `retrain_unchanged`)."""
    logger = get_run_logger()
    folder = run_dir(cfg.state_path)
    schema = ingested.table_schema
    registry = ModelRegistry.for_config(cfg)
    registry.sweep()  # the registry takes writes (and crashed writers' leftovers go) first
    champion = registry.alias(CHAMPION)
    names = task_candidates(cfg, schema.task)
    for note in schema.notes:
        logger.info("schema: %s", note)
    again = force or retrain_unchanged
    if not again and (same := unchanged_since(registry, cfg, ingested)) is not None:
        return _unchanged(cfg, registry, same, champion.version if champion else None)
    gates, default_note = gates_for(cfg, schema.task)
    if default_note:
        logger.info(default_note)
    parts = split(cfg, ingested, champion_training_set(champion))
    logger.info("holdout: %s", parts.describe())
    leaks = leak_check(cfg, parts, schema)
    trained = _train_all(cfg, parts, schema, names)
    records = [
        evaluate(cfg, t, parts, schema, str(folder / "candidates" / t.name))
        for t in trained.values()
    ]
    ranked_first = compare(cfg, records)
    best = explain(cfg, trained[ranked_first.name], parts, schema, ranked_first)
    dummy = evaluate_dummy(cfg, parts, schema) if gates.dummy is not None else None

    baseline = None
    if champion is not None:
        model = registry.load_model(champion.version)
        baseline = evaluate_baseline(
            cfg, model, parts, schema, champion.version, str(folder / "baseline")
        )
    blessing = gate(
        gates,
        best,
        baseline,
        best.name,
        champion.version if champion else None,
        str(folder),
        cfg.artifact_key("blessing"),
        dummy,
        parts.describe(),
    )

    chosen = trained[best.name]
    metadata = model_metadata(
        cfg,
        ingested.dataset,
        parts,
        schema,
        best,
        chosen.params,
        blessing,
        trigger,
        str(flow_run.id) if flow_run.id else None,
        warnings=leaks,
        fit_seconds=chosen.fit_seconds,
        search=chosen.search,
    )
    sample = reference(
        chosen,
        parts.holdout,
        schema,
        cfg.training.reference_sample_rows,
        cfg.training.seed,
        str(folder),
    )
    files = {Path(path).name: Path(path) for path in best.artifacts.values()}
    version = register(
        cfg, chosen, metadata, "blessed" if blessing.blessed else "rejected", sample, files
    )
    # Before the promotion: the MLflow copy of the version exists when its aliases move.
    report = record_training(
        cfg, version, trained, records, best.name, blessing, sample, str(folder)
    )
    gated_against = champion.version if champion else None
    moved_from = None
    for _ in range(MAX_REGATES + 1):
        state = promote(
            cfg,
            version,
            blessing.blessed,
            force,
            force_reason,
            gated_against,
            blessing.reasons,
            moved_from,
            return_state=True,
        )
        moved = state.result(raise_on_failure=False)
        if not isinstance(moved, ChampionMoved):
            promoted = state.result()
            break
        # Compare-and-swap lost: gate again, against the champion now, on the same holdout.
        logger.warning("%s; re-gating against %s on the same holdout", moved, moved.current)
        moved_from = moved_from or gated_against
        gated_against = moved.current
        baseline = None
        if gated_against is not None:
            baseline = evaluate_baseline(
                cfg,
                registry.load_model(gated_against),
                parts,
                schema,
                gated_against,
                str(folder / f"baseline-{gated_against}"),
            )
        blessing = gate(
            gates,
            best,
            baseline,
            best.name,
            gated_against,
            str(folder),
            cfg.artifact_key("blessing"),
            dummy,
            parts.describe(),
        )
        if not blessing.blessed:
            blessing = blessing.model_copy(
                update={
                    "reasons": [
                        f"the champion moved from {moved_from} to {gated_against} while this "
                        f"run trained; against {gated_against} on the same holdout:",
                        *blessing.reasons,
                    ]
                }
            )
    else:
        raise RegistryError(
            f"{version.version} was not promoted: the champion moved {MAX_REGATES + 1} times "
            "while it was being gated; run the training again"
        )

    outcome = "promoted" if blessing.blessed else "forced" if promoted is not None else "rejected"
    now = promoted.version if promoted is not None else gated_against
    summary = ", ".join(f"{k}={v:.4f}" for k, v in sorted(best.metrics.items()))
    logger.info("%s %s (%s): %s", version.version, outcome, best.name, summary)
    if not blessing.blessed:
        logger.warning("not blessed: %s", "; ".join(blessing.reasons))
    return TrainingOutcome(
        project=cfg.project,
        version=version.version,
        candidate=best.name,
        outcome=outcome,
        metrics=best.metrics,
        baseline_version=gated_against,
        blessing_reasons=blessing.reasons,
        card_path=registry.card_path(version.version),
        report_dir=str(folder),
        report_path=report,
        warnings=leaks,
        champion=now,
        gates_note=default_note,
    )


@flow(name="training", on_failure=[emit_run_failed], log_prints=True)
def training(
    config_path: str = str(DEFAULT_CONFIG_PATH),
    data: str | None = None,
    candidates: list[str] | None = None,
    search_budget: Annotated[int, Field(ge=1)] | None = None,
    force: bool = False,
    force_reason: str | None = None,
    retrain_unchanged: bool = False,
) -> TrainingOutcome:
    """Train a model for the project and promote it to champion if it passes the gate.

    Args:
        config_path: Project config file (YAML).
        data: Override the config's data source (file, glob or folder).
        candidates: Estimators to try (default: the config's).
        search_budget: Hyperparameter settings tried per candidate (default: the config's).
        force: Train even when data, config and code are unchanged since a version, and
            promote even if the gate rejects the candidate (needs a reason).
        force_reason: Why the gate is overridden; recorded in the audit log.
        retrain_unchanged: Train even when data, config and code are unchanged since a
            version (and gate as usual).
    """
    forced_reason(force, force_reason, "the new version")
    cfg = _with_overrides(load_config(config_path).with_source(data), candidates, search_budget)
    check_sources(cfg)  # a missing source fails here, naming it, before any task runs
    ingested = ingest(cfg)
    checked = validate(cfg, ingested, str(run_dir(cfg.state_path) / "validation"))
    # The task runner per config at run time: a Dask cluster when training.dask_address is set.
    run = fit_gate_promote.with_options(task_runner=task_runner(cfg))
    outcome = run(cfg, ingested, force, force_reason, "manual", retrain_unchanged)
    return outcome.model_copy(
        update={"validation": checked.summary_line, "data_docs": checked.docs_path}
    )
