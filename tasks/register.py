"""Registering a trained model and promoting it: the registry's writes as Prefect tasks.

Both tasks have side effects, so neither is cached: each call to `register` is a new
version, and a promotion must never be skipped because an earlier one looked alike.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from driftline.core.atomic import atomic_path
from driftline.core.config import ProjectConfig
from driftline.core.contracts import DatasetRef, Schema, TrainedCandidate
from driftline.core.lineage import reference_sample
from driftline.core.metadata import ModelMetadata
from driftline.orchestration import events
from driftline.storage.candidate_models import load_candidate
from driftline.storage.registry import ANY, CHAMPION, ModelRegistry, ModelVersion, forced_reason
from tasks.policies import retry_on_io


@task(
    name="register-model",
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=retry_on_io,
    cache_policy=NO_CACHE,
)
def register(
    cfg: ProjectConfig,
    trained: TrainedCandidate,
    metadata: ModelMetadata,
    status: str,
    reference_path: str | Path | None = None,
    files: dict[str, Path] | None = None,
) -> ModelVersion:
    """Store the trained model as a new version with its lineage, reference sample and plots.

    Retried on I/O errors only: a failed attempt leaves no version and no claim behind, so a
    retry cannot create a half or duplicate one.
    """
    reference = pd.read_parquet(reference_path) if reference_path else None
    registry = ModelRegistry.for_config(cfg)
    version = registry.register(
        load_candidate(trained), metadata, status=status, reference=reference, files=files
    )
    get_run_logger().info("registered %s (%s) at %s", version.version, status, version.uri)
    return version


@task(name="reference-sample", cache_policy=NO_CACHE)
def reference(
    trained: TrainedCandidate,
    holdout: DatasetRef,
    schema: Schema,
    rows: int,
    seed: int,
    out_dir: str,
) -> str:
    """Write the reference sample monitoring will compare live traffic against."""
    sample = reference_sample(load_candidate(trained), holdout.load(), schema, rows, seed)
    path = Path(out_dir) / "reference.parquet"
    with atomic_path(path) as tmp:
        sample.to_parquet(tmp, index=False)
    return str(path)


def gate_note(gated_against: str | None, moved_from: str | None = None) -> str:
    """What the audit log says of a gated promotion: against which champion it passed."""
    if moved_from is not None or gated_against is not None:
        against = f"passed the gates against {gated_against or 'no champion'}"
        if moved_from is not None:
            against += f" (re-gated on the same holdout: the champion moved from {moved_from})"
        return against
    return "passed the gates (there was no champion to compare with)"


@task(name="promote-model", cache_policy=NO_CACHE)
def promote(
    cfg: ProjectConfig,
    version: ModelVersion,
    blessing_passed: bool,
    force: bool = False,
    reason: str | None = None,
    gated_against: str | None = None,
    reasons: list[str] | None = None,
    moved_from: str | None = None,
) -> ModelVersion | None:
    """Make a blessed version (or one forced past the gates, with a reason) the champion.

    Compare-and-swap: a gated version is promoted only while the champion is still
    `gated_against`, the one its gate compared it with (`moved_from`: the champion of an
    earlier gate, when it was re-gated); otherwise ChampionMoved names the champion now.
    Returns the new champion, or None when the version was not promoted (`reasons`: why
    the gate said no). Emits `driftline.model.promoted` or `driftline.model.rejected` so
    automations can react (reload serving, alert a human).
    """
    logger = get_run_logger()
    audited = forced_reason(force, reason, version.version) or gate_note(gated_against, moved_from)
    if not blessing_passed and not force:
        reasons = reasons or version.metadata.blessing.reasons
        reasons = reasons or [f"{version.version} did not pass the gates"]
        events.emit(
            events.MODEL_REJECTED, cfg.project, {"version": version.version, "reasons": reasons}
        )
        logger.warning("%s not promoted: %s", version.version, "; ".join(reasons))
        return None

    registry = ModelRegistry.for_config(cfg)
    champion = registry.alias(CHAMPION)
    if champion is not None and champion.version == version.version:
        logger.info("%s is already the champion", version.version)  # a re-run after a promotion
        return champion
    old = registry.promote(
        version.version,
        reason=audited,
        force=force,
        actor=_actor(),
        expected=ANY if force else gated_against,
        gated_against=gated_against,
    )
    events.emit(
        events.MODEL_PROMOTED,
        cfg.project,
        {
            "version": version.version,
            "previous_version": old.version if old else None,
            "metrics": version.metadata.key_metrics(),
            "previous_metrics": old.metadata.key_metrics() if old else None,
            "forced": force,
            "reason": reason,
        },
    )
    logger.info(
        "%s is the champion%s (previous: %s)",
        version.version,
        " (forced)" if force else "",
        old.version if old else "none",
    )
    return registry.get(version.version)


def _actor() -> str:
    """Who moved the alias, for the audit log: the flow run when there is one."""
    return f"flow-run:{flow_run.id}" if flow_run.id else "driftline"
