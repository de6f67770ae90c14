"""The fault matrix's shared pieces: a model, a registry with a champion, the invariants.

(A module, not a conftest.py: test modules import the top-level `conftest` by that name.)

Every test here reproduces one case of issue 13 by injecting the fault (a SIGKILL at a chosen
write, an OSError(ENOSPC), a file swapped or removed, a racing promotion), never by timing,
and then checks the invariants: the champion is a complete, verified version; nothing
half-written is visible; the audit log and the aliases agree; every answered prediction is in
the log (or counted as dropped); the next normal command works without manual cleanup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sklearn.pipeline import Pipeline

from driftline.core.candidates import build_pipeline
from driftline.core.config import FeatureSelection
from driftline.core.generator import CATEGORICAL, NUMERIC, SCHEMA, generate
from driftline.core.metadata import ModelMetadata
from driftline.storage.registry import CHAMPION, ModelRegistry
from driftline.testing.models import churn_metadata

FEATURES = [*NUMERIC, *CATEGORICAL]


def fit(seed: int = 1) -> Pipeline:
    df = generate(1000, seed=seed)
    pipeline = build_pipeline("logistic_regression", SCHEMA, FeatureSelection(), seed)
    return pipeline.fit(df[FEATURES], df.churned)


def meta(**fields: Any) -> ModelMetadata:
    return churn_metadata(threshold=0.5, **fields)


def registry_with_champion(root: Path, model: Pipeline) -> ModelRegistry:
    """A registry whose champion is v0001."""
    reg = ModelRegistry(root)
    reg.promote(reg.register(model, meta(), status="blessed").version, reason="first")
    return reg


def replayed(registry: ModelRegistry) -> dict[str, str]:
    """The aliases the audit log describes, replayed move by move."""
    aliases: dict[str, str] = {}
    for e in registry.audit_log():
        if e["to"] is None:
            aliases.pop(e["alias"], None)
        else:
            aliases[e["alias"]] = e["to"]
    return aliases


def assert_invariants(registry: ModelRegistry, damaged: tuple[str, ...] = ()) -> None:
    """Complete versions only (but those a test `damaged` on purpose), a verified champion,
    aliases and audit log in agreement."""
    for mv in registry.versions():
        if mv.version not in damaged:
            registry.load_model(mv.version)  # complete: its bytes match what was registered
    assert registry.aliases() == replayed(registry)
    champion = registry.alias(CHAMPION)
    if champion is not None:
        registry.verified(champion.version)


def assert_next_command_works(registry: ModelRegistry, model: Pipeline) -> None:
    """Register and promote a new version at once, and no leftover of a crash remains."""
    mv = registry.register(model, meta(), status="blessed")
    registry.promote(mv.version, reason="after the fault")
    assert registry.aliases()[CHAMPION] == mv.version
    root = Path(registry.root)
    assert not list((root / ".staging").glob("*")), "a crashed writer's staging folder stayed"
    assert not list((root / ".claims").glob("*")), "a crashed writer's claim stayed"
    assert_invariants(registry)
