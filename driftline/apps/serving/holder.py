"""The models being served and their hot swap.

`ModelHolder.arms` is one immutable `Arms` value, replaced by a single assignment: a request
reads it once and is answered entirely by the versions it holds, while a background watcher
polls the registry's `aliases_token()`, loads and verifies a moved alias's version off the
event loop and swaps it in. A version that fails to load or verify is refused; the old one
keeps serving and the failure is kept for /ready and /model.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pandas as pd

from driftline.apps.serving.lean import equivalent, lean, probe_rows
from driftline.core.scoring import FeatureSpec, ScoringModel
from driftline.storage.registry import CHALLENGER, CHAMPION, ModelRegistry

log = logging.getLogger("driftline.serving")


@dataclass(frozen=True)
class Arms:
    champion: ScoringModel | None = None
    challenger: ScoringModel | None = None


@dataclass
class Refusal:
    """The last version of an alias that was refused, and why."""

    version: str
    error: str
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


class ModelHolder:
    """Champion (and challenger) resolved from the registry's aliases, swapped atomically."""

    def __init__(
        self,
        registry: ModelRegistry,
        spec: FeatureSpec | None = None,
        *,
        with_challenger: bool = False,
    ) -> None:
        self.registry = registry
        self.spec = spec
        self.with_challenger = with_challenger
        self.arms = Arms()
        self.refused: dict[str, Refusal] = {}
        self.targets: dict[str, str | None] = {}  # what each alias names in the registry
        self._token: str | None = None
        self._lock = threading.Lock()

    def refresh(self) -> bool:
        """Load what the aliases name if they moved; True when the arms changed."""
        token = self.registry.aliases_token()
        if token == self._token:
            return False
        with self._lock:
            old = self.arms
            champion = self._resolve(CHAMPION, old.champion)
            if self.spec is None and champion is not None:
                self.spec = champion.spec
            challenger = self._resolve(CHALLENGER, old.challenger) if self.with_challenger else None
            self.arms = Arms(champion=champion, challenger=challenger)
            self._token = token
        return self.arms != old

    def _resolve(self, alias: str, current: ScoringModel | None) -> ScoringModel | None:
        mv = self.registry.alias(alias)
        self.targets[alias] = mv.version if mv else None
        if mv is None:
            if alias == CHAMPION and current is not None:
                log.error("alias 'champion' was removed; still serving %s", current.name)
                self.refused[alias] = Refusal(current.name, "the champion alias was removed")
                return current
            self.refused.pop(alias, None)
            return None
        if current is not None and current.name == mv.version and current.sha256 == mv.sha256:
            return current
        try:
            loaded = self.registry.scoring_model(mv.version, self.spec)
        except Exception as exc:  # IntegrityError, unpickling errors, VerificationError
            error = f"{type(exc).__name__}: {exc}"
            kept = current.name if current else "nothing"
            log.error("refused %s %s (%s); still serving %s", alias, mv.version, error, kept)
            self.refused[alias] = Refusal(mv.version, error)
            return current
        self.refused.pop(alias, None)
        log.info("%s is now %s (was %s)", alias, mv.version, current.name if current else None)
        return self._lean(loaded)

    def _lean(self, loaded: ScoringModel) -> ScoringModel:
        """The model's lean copy when it answers exactly like the model (see `lean`)."""
        copied = lean(loaded.model)
        if copied is None:
            return loaded
        try:
            reference = pd.read_parquet(self.registry.reference_uri(loaded.name))
        except Exception:  # no (readable) reference sample: probe with the schema's rows only
            reference = None
        probe = probe_rows(loaded.spec, reference)
        if not equivalent(loaded.model, copied, probe, loaded.metadata.task):
            log.warning("%s: its lean copy answers differently; scikit-learn's path serves it",
                        loaded.name)  # fmt: skip
            return loaded
        return replace(loaded, model=copied)

    async def watch(self, poll_seconds: float) -> None:
        """Poll the aliases forever (cancelled at shutdown); loading runs in a worker thread."""
        while True:
            await asyncio.sleep(poll_seconds)
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:  # a registry hiccup must not kill the watcher
                log.exception("checking the registry's aliases failed")
