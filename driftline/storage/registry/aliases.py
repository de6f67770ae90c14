"""The registry's second room: aliases that pick a version, moved under a lock, all audited.

    <root>/aliases.json     {"aliases": {alias: version}, "moves": [the last change's moves]}
    <root>/audit.jsonl      every alias move, one JSON object a line
    <root>/.lock            held while aliases change

aliases.json is written aside and renamed over the old one. It also carries the moves it
made, so a crash between that rename and the audit append loses no entry: `audit_log`
reports it and the next alias change appends it.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

from driftline.core.atomic import write_atomic
from driftline.errors import RegistryError

CHAMPION = "champion"
PREVIOUS = "previous"
CHALLENGER = "challenger"
LOCK_TIMEOUT_S = 30.0


class AliasStore:
    """aliases.json, its lock and the audit log of one registry folder."""

    def __init__(self, fs: Any, root: str, uri: Any) -> None:
        self.fs = fs
        self.root = root
        self._uri = uri

    def _path(self, name: str) -> str:
        return posixpath.join(self.root, name)

    def state(self) -> dict[str, Any]:
        """The alias map and the moves of the last change."""
        try:
            return json.loads(self.fs.cat_file(self._path("aliases.json")))
        except FileNotFoundError:
            return {"aliases": {}, "moves": []}

    def token(self) -> str:
        """Changes exactly when an alias moves: serving polls this to know when to reload."""
        blob = json.dumps(self.state()["aliases"], sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def audit_log(self) -> list[dict[str, Any]]:
        """Every alias move, oldest first: time, action, alias, from, to, reason, actor, forced."""
        logged = self._read_audit()
        return logged + _unlogged(self.state(), logged)

    @contextmanager
    def locked(self) -> Iterator[dict[str, Any]]:
        """Serialise alias changes across processes; yield the alias state read under the lock.

        Taking the lock first appends audit entries a crash left only in aliases.json.
        """
        self.fs.makedirs(self.root, exist_ok=True)
        path = self._path(".lock")
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                with self.fs.open(path, "xb") as fh:
                    fh.write(f"pid {os.getpid()} since {datetime.now(UTC).isoformat()}".encode())
                break
            except FileExistsError:
                if time.monotonic() > deadline:
                    raise RegistryError(
                        f"the registry is locked by another process ({self._uri(path)}); "
                        "if none is running, delete that file"
                    ) from None
                time.sleep(0.05)
        try:
            state = self.state()
            self.append_audit(_unlogged(state, self._read_audit()))
            yield state
        finally:
            self.fs.rm_file(path)

    def commit(
        self,
        state: dict[str, Any],
        changes: dict[str, str | None],
        *,
        action: str,
        reason: str,
        actor: str,
        forced: bool = False,
    ) -> None:
        """Apply alias changes (None removes): one atomic aliases.json, then the audit lines."""
        aliases = dict(state["aliases"])
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        moves = []
        for name, to in changes.items():
            if aliases.get(name) == to:
                continue
            moves.append(
                {
                    "id": uuid.uuid4().hex,
                    "time": now,
                    "action": action,
                    "alias": name,
                    "from": aliases.get(name),
                    "to": to,
                    "reason": reason,
                    "actor": actor,
                    "forced": forced,
                }
            )
            if to is None:
                aliases.pop(name)
            else:
                aliases[name] = to
        if not moves:
            return
        text = json.dumps({"aliases": aliases, "moves": moves}, indent=2)
        write_atomic(self._path("aliases.json"), text, fs=self.fs)
        self.append_audit(moves)

    def append_audit(self, entries: list[dict[str, Any]]) -> None:
        if entries:
            with self.fs.open(self._path("audit.jsonl"), "ab") as fh:
                fh.write("".join(json.dumps(e) + "\n" for e in entries).encode())

    def _read_audit(self) -> list[dict[str, Any]]:
        try:
            text = self.fs.cat_file(self._path("audit.jsonl")).decode()
        except FileNotFoundError:
            return []
        entries = []
        for line in text.splitlines():
            with suppress(json.JSONDecodeError):  # a line torn by a crash is re-appended
                entries.append(json.loads(line))
        return entries


def _unlogged(state: dict[str, Any], logged: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Moves committed in aliases.json that a crash kept out of audit.jsonl."""
    ids = {entry.get("id") for entry in logged}
    return [move for move in state["moves"] if move["id"] not in ids]
