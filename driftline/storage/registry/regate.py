"""Gating a registered version again, against the champion now, on its own holdout.

A version's blessing compared it with the champion of its day. Before it replaces another
champion by hand (`driftline models promote`), both are scored on the holdout recorded in
its metadata and judged by the project's gates, as the training flow does when the champion
moves under it, so a champion is always one that passed against the one it replaced (or was
forced with a reason).
"""

from __future__ import annotations

from pathlib import Path

from driftline.core.config import ProjectConfig
from driftline.core.contracts import Blessing
from driftline.core.evaluation import evaluate_model, fit_dummy
from driftline.core.gates import bless, gates_for
from driftline.errors import RegistryError
from driftline.storage.registry import ModelRegistry, ModelVersion


def needs_regate(version: ModelVersion, champion: str | None) -> bool:
    """Whether `version` was gated against another champion than `champion`."""
    return champion is not None and version.metadata.blessing.baseline_id != champion


def regate(
    cfg: ProjectConfig, registry: ModelRegistry, version: ModelVersion, champion: str
) -> Blessing:
    """`version` against `champion` on `version`'s holdout, by the project's gates."""
    holdout = version.metadata.holdout
    if holdout is None or not Path(holdout.path).exists():
        was = version.metadata.blessing.baseline_id or "no champion"
        raise RegistryError(
            f"{version.version} was gated against {was}, "
            f"not against the champion {champion}, and its holdout "
            f"({holdout.path if holdout else 'not recorded'}) is gone, so it cannot be gated "
            "again; promote it with --force and a --reason"
        )
    df = holdout.load()
    schema = version.metadata.table_schema
    candidate = evaluate_model(
        registry.load_model(version.version), df, schema, cfg, name=version.version
    )
    baseline = evaluate_model(registry.load_model(champion), df, schema, cfg, name=champion)
    gates, _ = gates_for(cfg, version.metadata.task)
    dummy = None
    train = version.metadata.train
    if gates.dummy is not None and train is not None and Path(train.path).exists():
        model = fit_dummy(train.load(), schema, cfg)
        dummy = evaluate_model(model, df, schema, cfg, name="dummy").metrics
    return bless(gates, candidate.metrics, baseline.metrics, version.version, champion, dummy)
