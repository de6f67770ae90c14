"""Case 6: aliases.json missing (or unreadable) while the audit log holds every move."""

from __future__ import annotations

from pathlib import Path

import pytest
from faultkit import assert_invariants, assert_next_command_works, fit, meta, registry_with_champion
from sklearn.pipeline import Pipeline

from driftline.storage.registry import CHAMPION, PREVIOUS, ModelRegistry

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def model() -> Pipeline:
    return fit()


@pytest.fixture
def registry(tmp_path: Path, model: Pipeline) -> ModelRegistry:
    return registry_with_champion(tmp_path / "registry", model)


@pytest.mark.parametrize("damage", ["deleted", "garbled"])
def test_aliases_are_rebuilt_from_the_audit_log(
    registry: ModelRegistry, model: Pipeline, damage: str
) -> None:
    registry.register(model, meta(), status="blessed")
    registry.promote("v0002", reason="better")
    registry.set_alias("challenger", "v0001", reason="shadow")
    registry.remove_alias("challenger", reason="done")
    aliases = Path(registry.root) / "aliases.json"
    if damage == "deleted":
        aliases.unlink()
    else:
        aliases.write_text('{"aliases": {"champ')
    # Read-only users (the server, `models list`) see the truth at once ...
    assert registry.aliases() == {CHAMPION: "v0002", PREVIOUS: "v0001"}
    assert registry.alias(CHAMPION).version == "v0002"
    # ... and the next change writes it back and keeps the audit log in step.
    registry.rollback(reason="after the repair")
    assert registry.aliases() == {CHAMPION: "v0001", PREVIOUS: "v0002"}
    assert_invariants(registry)
    assert_next_command_works(registry, model)


def test_no_audit_log_and_no_aliases_is_a_new_registry(tmp_path: Path, model: Pipeline) -> None:
    registry = ModelRegistry(tmp_path / "new")
    registry.register(model, meta(), status="blessed")
    assert registry.aliases() == {}
    assert_next_command_works(registry, model)
