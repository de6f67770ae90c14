"""The registry's second room: aliases that pick a version, moved under a lock, all audited.

    <root>/aliases.json     {"aliases": {alias: version}, "moves": [the last change's moves]}
    <root>/audit.jsonl      every alias move, one JSON object a line
    <root>/.lock            the registry's lock (`driftline.storage.locks`), held while
                            aliases change and while a version id is claimed

aliases.json is written aside and renamed over the old one. It also carries the moves it
made, so a crash between that rename and the audit append loses no entry: `audit_log`
reports it and the next alias change appends it. The audit log holds every move, so an
aliases.json that is missing or unreadable while the log is not empty is rebuilt from it
(and written back by the next change) instead of being read as "no aliases".
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

from driftline.core.atomic import write_atomic
from driftline.storage import locks

CHAMPION = "champion"
PREVIOUS = "previous"
CHALLENGER = "challenger"
LOCK_TIMEOUT_S = 30.0
ALIASES_FILE = "aliases.json"
LOCK_FILE = ".lock"

log = logging.getLogger("driftline.registry")

# Told of every committed change: the alias map after it and its moves. Mirrors (the
# dashboard, MLflow) follow the registry this way; a failing one is logged, never undoes it.
AliasListener = Callable[[dict[str, str], list[dict[str, Any]]], None]


class AliasStore:
    """aliases.json, its lock and the audit log of one registry folder."""

    def __init__(
        self, fs: Any, root: str, uri: Any, listeners: Sequence[AliasListener] = ()
    ) -> None:
        self.fs = fs
        self.root = root
        self._uri = uri
        self.listeners = list(listeners)

    def _path(self, name: str) -> str:
        return posixpath.join(self.root, name)

    def state(self) -> dict[str, Any]:
        """The alias map and the moves of the last change (`rebuilt`: replayed from the audit
        log because aliases.json is missing or unreadable)."""
        path = self._path(ALIASES_FILE)
        try:
            state = json.loads(self.fs.cat_file(path))
            if isinstance(state, dict) and isinstance(state.get("aliases"), dict):
                return {"moves": [], **state}
            problem = "does not hold an alias map"
        except FileNotFoundError:
            problem = "is missing"
        except (UnicodeDecodeError, json.JSONDecodeError):
            problem = "is not valid JSON"
        logged = self._read_audit()
        if not logged:
            return {"aliases": {}, "moves": []}
        aliases: dict[str, str] = {}
        for entry in logged:
            if entry.get("to") is None:
                aliases.pop(entry.get("alias"), None)
            else:
                aliases[entry["alias"]] = entry["to"]
        log.warning(
            "%s %s; aliases rebuilt from the %d entries of the audit log: %s",
            self._uri(path), problem, len(logged), aliases,
        )  # fmt: skip
        return {"aliases": aliases, "moves": [], "rebuilt": problem}

    def token(self) -> str:
        """Changes exactly when an alias moves: serving polls this to know when to reload."""
        blob = json.dumps(self.state()["aliases"], sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def audit_log(self) -> list[dict[str, Any]]:
        """Every alias move, oldest first: time, action, alias, from, to, reason, actor, forced."""
        logged = self._read_audit()
        return logged + _unlogged(self.state(), logged)

    @contextmanager
    def lock(self, purpose: str) -> Iterator[None]:
        """The registry's lock (dies with its holder: see `driftline.storage.locks`)."""
        self.fs.makedirs(self.root, exist_ok=True)
        with locks.locked(
            self.fs,
            self._path(LOCK_FILE),
            purpose=purpose,
            timeout=LOCK_TIMEOUT_S,
            what=f"the registry {self._uri(self.root)}",
        ):
            yield

    @contextmanager
    def locked(self) -> Iterator[dict[str, Any]]:
        """Serialise alias changes across processes; yield the alias state read under the lock.

        Taking the lock first appends audit entries a crash left only in aliases.json, and
        writes back aliases rebuilt from the audit log.
        """
        with self.lock("aliases"):
            state = self.state()
            if state.pop("rebuilt", None):
                text = json.dumps({"aliases": state["aliases"], "moves": []}, indent=2)
                write_atomic(self._path(ALIASES_FILE), text, fs=self.fs)
            self.append_audit(_unlogged(state, self._read_audit()))
            yield state

    def commit(
        self,
        state: dict[str, Any],
        changes: dict[str, str | None],
        *,
        action: str,
        reason: str,
        actor: str,
        forced: bool = False,
        gated_against: str | None = None,
    ) -> None:
        """Apply alias changes (None removes): one atomic aliases.json, then the audit lines.

        `gated_against`: the champion the promoted version's gate compared it with.
        """
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
                    "gated_against": gated_against,
                }
            )
            if to is None:
                aliases.pop(name)
            else:
                aliases[name] = to
        if not moves:
            return
        text = json.dumps({"aliases": aliases, "moves": moves}, indent=2)
        write_atomic(self._path(ALIASES_FILE), text, fs=self.fs)
        self.append_audit(moves)
        for listener in self.listeners:
            try:
                listener(aliases, moves)
            except Exception as exc:  # a mirror's failure must not fail the registry's write
                log.warning(
                    "alias mirror %s failed: %s", getattr(listener, "__name__", listener), exc
                )

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
