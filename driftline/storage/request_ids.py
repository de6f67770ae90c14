"""Request ids the prediction server can recognise at the door, without a lookup.

A request's records get ids `<batch>-<i>`, with batch `<random>-<n>-<tag>`: `tag` is an HMAC
(sha256) of the random part and the record count `n`, keyed by a secret kept in the project's
prediction log folder (`.request-key`, created once, readable by its owner only), so every
server process of the project, before and after a restart, recognises the ids any of them
issued, and /feedback refuses an id none of them issued (a typo, an id from elsewhere) in O(1).
Ids issued before this scheme (`<32 hex>-<i>`) are looked up in the log itself, once.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
from pathlib import Path

import pyarrow.parquet as pq

KEY_FILE = ".request-key"
_SIGNED = re.compile(r"^([0-9a-f]{16})-([1-9][0-9]{0,6})-([0-9a-f]{16})-(0|[1-9][0-9]{0,6})$")
_LEGACY = re.compile(r"^[0-9a-f]{32}-(0|[1-9][0-9]*)$")


def _key(root: Path) -> bytes:
    """The project's secret, created once: written aside, then linked into place (a link
    fails if the name exists), so every process reads the same complete key."""
    path = root / KEY_FILE
    root.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = root / f".{KEY_FILE}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            tmp.unlink(missing_ok=True)
    key = path.read_bytes()
    if len(key) != 32:
        raise OSError(f"{path}: not a request-id key (32 bytes); delete it to make a new one")
    return key


class RequestIds:
    """Mints and recognises the request ids of one project's prediction log at `root`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._key = _key(self.root)
        self._legacy: set[str] | None = None
        self._lock = threading.Lock()

    def _tag(self, nonce: str, n: int) -> str:
        return hmac.new(self._key, f"{nonce}-{n}".encode(), hashlib.sha256).hexdigest()[:16]

    def batch(self, n: int) -> tuple[str, list[str]]:
        """A new batch id and the ids of its `n` records."""
        nonce = secrets.token_hex(8)
        batch = f"{nonce}-{n}-{self._tag(nonce, n)}"
        return batch, [f"{batch}-{i}" for i in range(n)]

    def known(self, request_id: str) -> bool:
        """Whether a server of this project issued `request_id`."""
        match = _SIGNED.match(request_id)
        if match:
            nonce, n, tag, i = match.groups()
            return hmac.compare_digest(tag, self._tag(nonce, int(n))) and int(i) < int(n)
        return bool(_LEGACY.match(request_id)) and request_id in self._legacy_ids()

    def _legacy_ids(self) -> set[str]:
        """The ids of the log written before signed ids (read once; that set never grows)."""
        with self._lock:
            if self._legacy is None:
                ids: set[str] = set()
                for part in sorted((self.root / "log").glob("date=*/part-*.parquet")):
                    column = pq.read_table(part, columns=["request_id"]).column(0)
                    ids.update(r for r in column.to_pylist() if r and _LEGACY.match(r))
                self._legacy = ids
            return self._legacy
