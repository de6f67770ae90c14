"""Which arm answers each record: the champion, or the challenger under a canary split.

Sticky routing hashes the entity key (blake2b, not Python's salted `hash`) so one customer
lands on the same arm in every request and every server process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


def key_fraction(key: object) -> float:
    """A stable number in [0, 1) for an entity key."""
    digest = hashlib.blake2b(str(key).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def canary_mask(
    keys: Sequence[object | None], share: float, rng: np.random.Generator
) -> np.ndarray:
    """True where the challenger answers: sticky by key when there is one, else at random."""
    draws = rng.random(len(keys))
    fractions = [
        draw if key is None else key_fraction(key) for key, draw in zip(keys, draws, strict=True)
    ]
    return np.asarray(fractions, dtype=float) < share
