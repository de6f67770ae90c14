"""Content hashes: of a JSON-able value, of a table, of source files.

One place for every hash driftline keys on: lineage (the config hash), Prefect cache keys
(each cached task hashes exactly what shapes its result) and content-addressed datasets.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported where a table is hashed: the CLI starts without it
    import pandas as pd


def digest(payload: Any, length: int = 20) -> str:
    """sha256 of a JSON-able value (keys sorted), cut to `length` hex digits."""
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def sources_fingerprint(paths: list[Path]) -> str:
    """sha256 over the names and bytes of the source files, in order: unchanged data, same key."""
    hasher = hashlib.sha256()
    for p in paths:
        hasher.update(p.name.encode())
        with p.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                hasher.update(chunk)
    return hasher.hexdigest()[:20]


def frame_fingerprint(df: pd.DataFrame) -> str:
    """Content hash of a table (values, column names and order), independent of file format."""
    import pandas as pd

    row_hashes = pd.util.hash_pandas_object(df, index=False).to_numpy()
    hasher = hashlib.sha256(row_hashes.tobytes())
    hasher.update("\x1f".join(f"{c}:{df[c].dtype}" for c in df.columns).encode())
    return hasher.hexdigest()[:20]
