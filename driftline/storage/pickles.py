"""Pickled models, checked: a model is only unpickled when its bytes match the sha256
recorded when it was written, because unpickling runs code.

The registry's versions and the training step's candidates both go through here; the check
runs on the very bytes that are unpickled, so a file swapped in between cannot slip through.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import joblib

from driftline.errors import IntegrityError


def dumps(model: Any) -> tuple[bytes, str]:
    """A model as joblib bytes, with their sha256."""
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    blob = buffer.getvalue()
    return blob, hashlib.sha256(blob).hexdigest()


def loads(blob: bytes, sha256: str, what: str) -> Any:
    """Unpickle `blob` only if it hashes to `sha256`; `what` names the file in the error."""
    digest = hashlib.sha256(blob).hexdigest()
    if digest != sha256:
        raise IntegrityError(
            f"{what} has sha256 {digest[:16]}..., recorded {sha256[:16]}...; "
            "refusing to unpickle a file that was changed"
        )
    return joblib.load(io.BytesIO(blob))
