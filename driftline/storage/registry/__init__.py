"""The model registry: immutable model versions with lineage, and aliases that pick one.

MLflow-style aliases ("champion", "previous", "challenger") point at versions; each version
carries typed `ModelMetadata` with ZenML-style lineage. One folder per project, a local path
or any fsspec URL, so a bucket can replace the folder without touching callers. Three rooms
behind this façade: `versions` (immutable versions, integrity), `aliases` (lock and audit
log), `cards` (the model card). The promotion rules live here, where both are in reach.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem
from sklearn.model_selection import FixedThresholdClassifier

from driftline.core.atomic import write_atomic
from driftline.core.config import ProjectConfig
from driftline.core.lineage import build_stamp
from driftline.core.metadata import ModelMetadata
from driftline.core.scoring import FeatureSpec, ScoringModel, verify
from driftline.errors import ChampionMoved, RegistryError
from driftline.storage.registry.aliases import (
    CHALLENGER,
    CHAMPION,
    PREVIOUS,
    AliasListener,
    AliasStore,
)
from driftline.storage.registry.cards import render_card
from driftline.storage.registry.versions import (
    CARD_FILE,
    REFERENCE_FILE,
    ModelVersion,
    VersionStore,
)

__all__ = [
    "ANY",
    "CHALLENGER",
    "CHAMPION",
    "PREVIOUS",
    "ModelRegistry",
    "ModelVersion",
    "forced_reason",
]

# `promote(expected=ANY)`: move the champion whatever it is now (a person's decision).
ANY = object()

_ALIAS_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


def forced_reason(force: bool, reason: str | None, what: str) -> str:
    """The reason a gate is overridden, required whenever `force` is set (it is audited).

    The one check of it: the training flow calls it before any work, the promotion task and
    the registry before an alias moves.
    """
    if force and not (reason and reason.strip()):
        raise RegistryError(
            f"forcing {what} past the gates needs a reason (force=True needs a force_reason, "
            "--reason on the command line): it is recorded in the audit log"
        )
    return reason or ""


class ModelRegistry:
    """Versions and aliases of one project's models under `root` (local path or fsspec URL)."""

    def __init__(self, root: str | Path, listeners: Sequence[AliasListener] = ()) -> None:
        self.fs, path = url_to_fs(str(root))
        self.root: str = path.rstrip("/")
        local = isinstance(self.fs, LocalFileSystem)
        self._aliases = AliasStore(self.fs, self.root, self._uri, listeners)
        self._versions = VersionStore(self.fs, self.root, local, self._aliases.lock)

    def _uri(self, path: str) -> str:
        return path if isinstance(self.fs, LocalFileSystem) else self.fs.unstrip_protocol(path)

    @classmethod
    def for_config(cls, cfg: ProjectConfig) -> ModelRegistry:
        """The project's registry, its alias moves mirrored to the dashboard (and MLflow)."""
        from driftline.storage.mirrors import alias_listeners

        return cls(cfg.state_path / "registry" / cfg.project, alias_listeners(cfg))

    def __repr__(self) -> str:
        return f"ModelRegistry({self._versions.uri(self.root)!r})"

    # Versions

    def register(
        self,
        model: Any,
        metadata: ModelMetadata,
        *,
        status: str,
        reference: pd.DataFrame | None = None,
        files: dict[str, Path] | None = None,
        card: str | None = None,
    ) -> ModelVersion:
        """Store a model with its metadata, card, reference sample and files as a new version.

        The library versions and code commit the model is pickled under are stamped into its
        lineage. Everything is checked before a version id is taken, and written into a
        staging folder that only becomes visible, complete, when it is renamed into place.
        """
        stamped = metadata.model_copy(update={"lineage": build_stamp(metadata.lineage)})
        return self._versions.write(
            model, stamped, status, reference, files or {}, lambda mv: card or render_card(mv)
        )

    def versions(self) -> list[ModelVersion]:
        """All complete versions, oldest first."""
        return self._versions.all()

    def get(self, version: str) -> ModelVersion:
        found = self._versions.read(version)
        if found is None:
            known = [v.version for v in self.versions()]
            hint = f"known: {', '.join(known[-10:])}" if known else "no versions registered yet"
            raise RegistryError(f"unknown model version {version!r} in {self!r} ({hint})")
        return found

    def load_model(self, version: str) -> Any:
        """The model object, after checking its bytes against the registered sha256.

        A version registered before the decision threshold moved inside the model (format 1)
        gets its recorded threshold wrapped around it here, so it predicts as it always did.
        """
        mv = self.get(version)
        model = self._versions.load_model(mv)
        if mv.format == 1 and mv.metadata.threshold is not None:
            model = FixedThresholdClassifier(model, threshold=mv.metadata.threshold)
        return model

    def scoring_model(self, version: str, spec: FeatureSpec | None = None) -> ScoringModel:
        """A version loaded, verified and ready to score (`spec`: the columns it must take)."""
        mv = self.get(version)
        return verify(mv.version, mv.sha256, mv.metadata, self.load_model(mv.version), spec)

    def reference_uri(self, version: str) -> str:
        """Where the reference sample of a version is (what monitoring compares against)."""
        mv = self.get(version)
        path = self._versions.file_path(mv.version, REFERENCE_FILE)
        if not self.fs.exists(path):
            raise RegistryError(f"{mv.version} was registered without a reference sample")
        return self._versions.uri(path)

    def card_path(self, version: str) -> str:
        """Where a version's model card is (markdown)."""
        return self._versions.uri(self._versions.file_path(self.get(version).version, CARD_FILE))

    def card(self, version: str) -> str | None:
        """A version's model card, or None when its folder has none."""
        try:
            return self.fs.cat_file(self._versions.file_path(version, CARD_FILE)).decode()
        except FileNotFoundError:
            return None

    # Aliases

    def aliases(self) -> dict[str, str]:
        return dict(self._aliases.state()["aliases"])

    def alias(self, name: str) -> ModelVersion | None:
        version = self.aliases().get(name)
        return self.get(version) if version else None

    def aliases_token(self) -> str:
        """Changes exactly when an alias moves: serving polls this to know when to reload."""
        return self._aliases.token()

    def verified(self, version: str) -> ScoringModel:
        """A version that can serve: its bytes match its sha256, it loads and it scores a probe
        row. What promotion and rollback check before an alias moves (IntegrityError or
        VerificationError otherwise)."""
        return self.scoring_model(version)

    def sweep(self) -> list[str]:
        """Take the registry's lock and remove what crashed writers left (staging folders,
        claims). The training flow calls it before its expensive work, so a registry it could
        not write to fails the run at once, not after the training."""
        with self._aliases.lock("sweep"):
            return self._versions.sweep()

    def promote(
        self,
        version: str,
        *,
        reason: str,
        force: bool = False,
        actor: str = "driftline",
        expected: Any = ANY,
        gated_against: str | None = None,
    ) -> ModelVersion | None:
        """Make `version` the champion; the old champion becomes "previous" and is returned.

        Compare-and-swap: with `expected` (the champion the version was gated against, None
        for none), the alias moves only if the champion is still that one; otherwise
        ChampionMoved names the champion now, to gate against. A version the gates rejected
        is refused unless forced with a reason, which the audit log keeps next to the forced
        flag; a version whose model does not verify is refused before any alias moves.
        """
        target = self.get(version)
        forced_reason(force, reason, target.version)
        if target.status == "rejected" and not force:
            raise RegistryError(
                f"{target.version} was rejected by the gates; promote it only with force "
                "and a reason"
            )
        self.verified(target.version)
        with self._aliases.locked() as state:
            old = state["aliases"].get(CHAMPION)
            if old == target.version:
                raise RegistryError(f"{target.version} is already the champion")
            if expected is not ANY and old != expected:
                raise ChampionMoved(
                    f"{target.version} was gated against {expected or 'no champion'}, but the "
                    f"champion is now {old or 'none'}",
                    current=old,
                )
            changes = {CHAMPION: target.version, **({PREVIOUS: old} if old else {})}
            self._aliases.commit(
                state,
                changes,
                action="promote",
                reason=reason,
                actor=actor,
                forced=force,
                gated_against=gated_against,
            )
        self._refresh_card(target.version)
        return self.get(old) if old else None

    def _refresh_card(self, version: str) -> None:
        """Write the version's card again with the audit log: who made it champion, and why.

        After the alias moved: a crash here leaves the card as it was, never the alias.
        """
        path = self._versions.file_path(version, CARD_FILE)
        write_atomic(path, render_card(self.get(version), self.audit_log()), fs=self.fs)

    def rollback(self, *, reason: str, actor: str = "driftline") -> ModelVersion:
        """Make "previous" the champion again (and the displaced champion "previous"), after
        verifying that "previous" can serve."""
        back = self.aliases().get(PREVIOUS)
        if back is None:
            raise RegistryError("there is no 'previous' version to roll back to")
        self.verified(back)
        with self._aliases.locked() as state:
            current = state["aliases"]
            if current.get(PREVIOUS) != back:
                raise ChampionMoved(
                    f"'previous' moved from {back} to {current.get(PREVIOUS)} meanwhile; "
                    "look again and retry",
                    current=current.get(CHAMPION),
                )
            changes = {CHAMPION: back, PREVIOUS: current.get(CHAMPION)}
            self._aliases.commit(state, changes, action="rollback", reason=reason, actor=actor)
        self._refresh_card(back)
        return self.get(back)

    def set_alias(self, name: str, version: str, *, reason: str, actor: str = "driftline") -> None:
        """Point a free alias (e.g. "challenger") at a version; champion moves only by promote."""
        if not _ALIAS_NAME.match(name):
            raise RegistryError(f"alias {name!r}: use lowercase letters, digits, '-' and '_'")
        if name in (CHAMPION, PREVIOUS):
            raise RegistryError(f"'{name}' moves only by promote or rollback, which check gates")
        target = self.get(version)
        with self._aliases.locked() as state:
            self._aliases.commit(
                state, {name: target.version}, action="set", reason=reason, actor=actor
            )

    def remove_alias(self, name: str, *, reason: str, actor: str = "driftline") -> None:
        with self._aliases.locked() as state:
            if name not in state["aliases"]:
                raise RegistryError(f"no alias {name!r} (aliases: {sorted(state['aliases'])})")
            self._aliases.commit(state, {name: None}, action="remove", reason=reason, actor=actor)

    def audit_log(self) -> list[dict[str, Any]]:
        """Every alias move, oldest first: time, action, alias, from, to, reason, actor, forced."""
        return self._aliases.audit_log()
