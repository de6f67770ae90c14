"""The one atomic writer: write aside, then rename over the target, so a reader (or a crash)
only ever sees the old file or the new one, never half of one.

Local files go through `atomic_path` (a temporary name in the same folder, `os.replace`
on success, removed on failure); fsspec file systems that are not local (a bucket) get the
same write-aside-then-move through `write_atomic(..., fs=...)`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from fsspec.implementations.local import LocalFileSystem


@contextmanager
def atomic_path(target: str | Path, *, fsync: bool = False) -> Iterator[Path]:
    """A temporary path beside `target`; it replaces `target` when the body succeeds.

    With `fsync`, the bytes reach the disk before the rename (a power cut keeps them).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Not mkstemp: its files are private (0600), and a model or dataset is read by others.
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(
    target: str | Path, data: bytes | str, *, fs: Any = None, fsync: bool = False
) -> None:
    """Write `data` to `target` atomically, on the local disk or on an fsspec file system."""
    blob = data.encode() if isinstance(data, str) else data
    if fs is None or isinstance(fs, LocalFileSystem):
        with atomic_path(target, fsync=fsync) as tmp:
            tmp.write_bytes(blob)
        return
    target = str(target)
    tmp = f"{target.rsplit('/', 1)[0]}/.{uuid.uuid4().hex[:8]}.tmp"
    fs.pipe_file(tmp, blob)
    try:
        fs.mv(tmp, target)
    except BaseException:
        with suppress(OSError):
            fs.rm_file(tmp)
        raise
