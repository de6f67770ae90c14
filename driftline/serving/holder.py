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
import math
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from driftline.registry import ModelRegistry, ModelVersion
from driftline.serving.schema import FeatureSpec

log = logging.getLogger("driftline.serving")

CHAMPION = "champion"
CHALLENGER = "challenger"


class VerificationError(Exception):
    """A loaded model that must not serve: wrong schema, no probabilities, bad output."""


def to_frame(columns: dict[str, list[Any]], spec: FeatureSpec) -> pd.DataFrame:
    """The model input as training saw it: float64 and text columns, a missing value is NaN.

    Not None: sklearn's imputers (missing_values=np.nan) leave None alone, so a None would
    bypass the imputation the model was trained with.
    """
    data: dict[str, Any] = {c: np.asarray(columns[c], dtype="float64") for c in spec.numeric}
    data |= {
        c: pd.Series([np.nan if v is None else v for v in columns[c]], dtype=object)
        for c in spec.categorical
    }
    return pd.DataFrame(data, columns=spec.features)


@dataclass(frozen=True)
class LoadedModel:
    """A verified model with what scoring needs from its metadata."""

    version: ModelVersion
    model: Any
    threshold: float
    spec: FeatureSpec

    @property
    def name(self) -> str:
        return self.version.version

    def probabilities(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict_proba(frame)[:, 1], dtype="float64")


@dataclass(frozen=True)
class Arms:
    champion: LoadedModel | None = None
    challenger: LoadedModel | None = None


@dataclass
class Refusal:
    """The last version of an alias that was refused, and why."""

    version: str
    error: str
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


def verify(mv: ModelVersion, model: Any, spec: FeatureSpec | None) -> LoadedModel:
    """Check a loaded model can serve: metadata complete, same features, sane probabilities."""
    meta = mv.metadata
    try:
        threshold = float(meta["threshold"])
        own = FeatureSpec.from_metadata(meta, key=spec.key if spec else None)
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationError(f"metadata lacks a usable threshold/features: {exc}") from None
    if spec is not None and own.features != spec.features:
        raise VerificationError(
            f"its features {own.features} differ from the serving schema {spec.features}; "
            "restart the server to serve it"
        )
    if not callable(getattr(model, "predict_proba", None)):
        raise VerificationError("the model has no predict_proba")
    probe = to_frame(
        {c: [0.0, None] for c in own.numeric} | {c: ["", None] for c in own.categorical}, own
    )
    try:
        proba = np.asarray(model.predict_proba(probe))
    except Exception as exc:  # any failure of the model on a probe row means: do not serve it
        raise VerificationError(f"predict_proba fails on a probe row: {exc}") from None
    if proba.shape != (2, 2) or not all(0.0 <= p <= 1.0 and math.isfinite(p) for p in proba[:, 1]):
        raise VerificationError(f"predict_proba returned {proba!r} for a probe row")
    return LoadedModel(version=mv, model=model, threshold=threshold, spec=own)


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

    def _resolve(self, alias: str, current: LoadedModel | None) -> LoadedModel | None:
        mv = self.registry.alias(alias)
        if mv is None:
            if alias == CHAMPION and current is not None:
                log.error("alias 'champion' was removed; still serving %s", current.name)
                self.refused[alias] = Refusal(current.name, "the champion alias was removed")
                return current
            self.refused.pop(alias, None)
            return None
        if (
            current is not None
            and current.name == mv.version
            and current.version.sha256 == mv.sha256
        ):
            return current
        try:
            loaded = verify(mv, self.registry.load_model(mv.version), self.spec)
        except Exception as exc:  # IntegrityError, unpickling errors, VerificationError
            error = f"{type(exc).__name__}: {exc}"
            kept = current.name if current else "nothing"
            log.error("refused %s %s (%s); still serving %s", alias, mv.version, error, kept)
            self.refused[alias] = Refusal(mv.version, error)
            return current
        self.refused.pop(alias, None)
        log.info("%s is now %s (was %s)", alias, mv.version, current.name if current else None)
        return loaded

    async def watch(self, poll_seconds: float) -> None:
        """Poll the aliases forever (cancelled at shutdown); loading runs in a worker thread."""
        while True:
            await asyncio.sleep(poll_seconds)
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:  # a registry hiccup must not kill the watcher
                log.exception("checking the registry's aliases failed")
