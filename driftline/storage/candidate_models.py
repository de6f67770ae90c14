"""Fitted candidates between training and registration (`<state>/models-wip/`).

A candidate file is only unpickled when its bytes match the sha256 recorded when it was
written (as the registry does for versions): a file swapped in between the training step and
evaluation or registration is refused, never run.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from driftline.core.atomic import write_atomic
from driftline.core.contracts import TrainedCandidate
from driftline.errors import IntegrityError
from driftline.storage import pickles


def save_candidate(model: Any, path: Path) -> str:
    """Write a fitted model atomically; returns the sha256 of its bytes."""
    blob, sha256 = pickles.dumps(model)
    write_atomic(path, blob)
    return sha256


def load_candidate(trained: TrainedCandidate) -> Any:
    """The fitted model of a trained candidate, after checking its bytes."""
    try:
        blob = Path(trained.model_path).read_bytes()
    except FileNotFoundError:
        raise IntegrityError(
            f"candidate {trained.name}: {trained.model_path} is missing; train it again"
        ) from None
    return pickles.loads(blob, trained.sha256, f"candidate {trained.name}: {trained.model_path}")


def candidate_intact(trained: TrainedCandidate) -> bool:
    """Whether a candidate's file still holds the bytes it was written with (without
    unpickling it): a cached training result whose file changed is trained again."""
    try:
        return hashlib.sha256(Path(trained.model_path).read_bytes()).hexdigest() == trained.sha256
    except OSError:
        return False
