"""The model registry: immutable model versions with lineage, and aliases that pick one.

MLflow-style aliases ("champion", "previous", "challenger") point at versions; each version
carries ZenML-style lineage (data fingerprints, config hash, flow run, code and library
versions) in its metadata. One folder per project, a local path or any fsspec URL, so a
bucket can replace the folder without touching callers:

    <root>/versions/v0001/  model.joblib, metadata.json, card.md, reference.parquet, files
    <root>/aliases.json     {"aliases": {alias: version}, "moves": [the last change's moves]}
    <root>/audit.jsonl      every alias move, one JSON object a line
    <root>/.claims/v0001    version ids taken, each created exclusively
    <root>/.staging/        versions being written, invisible until moved into versions/
    <root>/.lock            held while aliases change

Crash safety. A version is written into .staging and then renamed into versions/ (locally
one os.rename; elsewhere file by file with metadata.json last, and only a folder holding
metadata.json counts as a version), so a crash never shows half a version. aliases.json
is written aside and renamed over the old one. It also carries the moves it made, so a
crash between that rename and the audit append loses no entry: `audit_log` reports it and
the next alias change appends it.

Metadata keys read here (for the model card and `driftline models list`); anything else
is stored as given: project, candidate, target, positive_label, data_fingerprint,
holdout_fingerprint, config_hash, params, metrics (metric -> holdout value), blessing
({"passed", "reasons", ...}), threshold, features ({"numeric", "categorical"}), flow_run_id.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import posixpath
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import joblib
import pandas as pd
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem
from pydantic import BaseModel, ConfigDict

from driftline.config import ProjectConfig

CHAMPION = "champion"
PREVIOUS = "previous"
# The metrics `driftline models list` and the promotion event show side by side.
KEY_METRICS = ("roc_auc", "pr_auc", "f1", "log_loss")
LOCK_TIMEOUT_S = 30.0

_FIELDS = ("version", "created_at", "status", "sha256")
# Keys the registry writes itself; metadata may not set them (a silent overwrite would lie).
_RESERVED = {*_FIELDS, "environment", "git", "files"}
_CORE_FILES = {"model.joblib", "metadata.json", "card.md", "reference.parquet"}
_VERSION_ID = re.compile(r"^v\d{4,}$")
_ALIAS_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_LIBRARIES = {
    "sklearn": "scikit-learn",
    "pandas": "pandas",
    "numpy": "numpy",
    "joblib": "joblib",
    "prefect": "prefect",
    "driftline": "driftline",
}


class RegistryError(Exception):
    """A request the registry refuses: unknown version or alias, or a refused promotion."""


class IntegrityError(RegistryError):
    """A model file that is missing or not the one registered; it is never unpickled."""


class ModelVersion(BaseModel):
    """One registered model: its id, gate outcome, checksum, folder and lineage."""

    model_config = ConfigDict(frozen=True)

    version: str
    created_at: str
    status: Literal["blessed", "rejected"]
    sha256: str
    uri: str
    metadata: dict[str, Any]


def key_metrics(version: ModelVersion) -> dict[str, float | None]:
    """The KEY_METRICS of a version (None where not recorded), for tables and events."""
    flat = _flatten(version.metadata.get("metrics") or {})
    return {name: flat.get(name, flat.get(f"holdout.{name}")) for name in KEY_METRICS}


class ModelRegistry:
    """Versions and aliases of one project's models under `root` (local path or fsspec URL)."""

    def __init__(self, root: str | Path) -> None:
        self.fs, path = url_to_fs(str(root))
        self.root: str = path.rstrip("/")
        self._local = isinstance(self.fs, LocalFileSystem)

    @classmethod
    def for_config(cls, cfg: ProjectConfig) -> ModelRegistry:
        return cls(cfg.state_path / "registry" / cfg.project)

    def __repr__(self) -> str:
        return f"ModelRegistry({self._uri(self.root)!r})"

    # Versions

    def register(
        self,
        model: Any,
        metadata: dict[str, Any],
        *,
        status: str,
        reference: pd.DataFrame | None = None,
        files: dict[str, Path] | None = None,
        card: str | None = None,
    ) -> ModelVersion:
        """Store a model with its metadata, card, reference sample and files as a new version.

        Everything is checked before a version id is taken, and written into a staging folder
        that only becomes visible, complete, when it is renamed into place.
        """
        if status not in ("blessed", "rejected"):
            raise RegistryError(f"status must be 'blessed' or 'rejected', not {status!r}")
        clash = sorted(_RESERVED & metadata.keys())
        if clash:
            raise RegistryError(f"metadata keys {clash} are written by the registry itself")
        extra = {_file_name(name): Path(src) for name, src in (files or {}).items()}
        missing = [str(src) for src in extra.values() if not src.is_file()]
        if missing:
            raise RegistryError(f"files to register do not exist: {missing}")
        buffer = io.BytesIO()
        joblib.dump(model, buffer)
        blob = buffer.getvalue()

        version = self._claim_version()
        record: dict[str, Any] = {
            "version": version,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "status": status,
            "sha256": hashlib.sha256(blob).hexdigest(),
            **metadata,
            "environment": _environment(),
            "files": sorted(extra),
        }
        git = _git()
        if git:
            record["git"] = git
        try:
            text = json.dumps(record, indent=2, default=_json_default)
        except (TypeError, ValueError) as exc:
            raise RegistryError(f"metadata is not JSON-serialisable: {exc}") from None
        final = self._p("versions", version)
        mv = _to_version(json.loads(text), self._uri(final))

        staging = self._p(".staging", f"{version}-{uuid.uuid4().hex[:8]}")
        try:
            self.fs.makedirs(staging, exist_ok=True)
            self.fs.pipe_file(f"{staging}/model.joblib", blob)
            if reference is not None:
                with self.fs.open(f"{staging}/reference.parquet", "wb") as fh:
                    reference.to_parquet(fh, index=False)
            for name, src in extra.items():
                self.fs.makedirs(posixpath.dirname(f"{staging}/{name}"), exist_ok=True)
                self.fs.put_file(str(src), f"{staging}/{name}")
            self.fs.pipe_file(f"{staging}/card.md", (card or default_card(mv)).encode())
            self.fs.pipe_file(f"{staging}/metadata.json", text.encode())
            self._publish(staging, final)
        except BaseException:
            with suppress(OSError):
                self.fs.rm(staging, recursive=True)
            raise
        return mv

    def versions(self) -> list[ModelVersion]:
        """All complete versions, oldest first."""
        folder = self._p("versions")
        if not self.fs.isdir(folder):
            return []
        found = (self._read(posixpath.basename(p.rstrip("/"))) for p in self.fs.ls(folder, False))
        return sorted((v for v in found if v is not None), key=lambda v: int(v.version[1:]))

    def get(self, version: str) -> ModelVersion:
        found = self._read(version) if _VERSION_ID.match(version) else None
        if found is None:
            known = [v.version for v in self.versions()]
            hint = f"known: {', '.join(known[-10:])}" if known else "no versions registered yet"
            raise RegistryError(f"unknown model version {version!r} in {self!r} ({hint})")
        return found

    def load_model(self, version: str) -> Any:
        """The model object, after checking its bytes against the registered sha256.

        The check runs on the very bytes that are unpickled, so a file swapped between
        check and load cannot slip through: unpickling runs code, so it must be ours.
        """
        mv = self.get(version)
        try:
            blob = self.fs.cat_file(self._p("versions", mv.version, "model.joblib"))
        except FileNotFoundError:
            raise IntegrityError(f"{mv.version}: model.joblib is missing from {mv.uri}") from None
        digest = hashlib.sha256(blob).hexdigest()
        if digest != mv.sha256:
            raise IntegrityError(
                f"{mv.version}: model.joblib has sha256 {digest[:16]}..., registered "
                f"{mv.sha256[:16]}...; refusing to unpickle a file that was changed"
            )
        return joblib.load(io.BytesIO(blob))

    def reference_uri(self, version: str) -> str:
        """Where the reference sample of a version is (what monitoring compares against)."""
        mv = self.get(version)
        path = self._p("versions", mv.version, "reference.parquet")
        if not self.fs.exists(path):
            raise RegistryError(f"{mv.version} was registered without a reference sample")
        return self._uri(path)

    # Aliases

    def aliases(self) -> dict[str, str]:
        return dict(self._state()["aliases"])

    def alias(self, name: str) -> ModelVersion | None:
        version = self.aliases().get(name)
        return self.get(version) if version else None

    def aliases_token(self) -> str:
        """Changes exactly when an alias moves: serving polls this to know when to reload."""
        blob = json.dumps(self.aliases(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def promote(
        self, version: str, *, reason: str, force: bool = False, actor: str = "driftline"
    ) -> ModelVersion | None:
        """Make `version` the champion; the old champion becomes "previous" and is returned.

        A version the gates rejected is refused unless forced with a reason, which the
        audit log keeps next to the forced flag.
        """
        target = self.get(version)
        if force and not reason.strip():
            raise RegistryError(
                f"forcing {target.version} needs a reason: it is recorded in the audit log"
            )
        if target.status == "rejected" and not force:
            raise RegistryError(
                f"{target.version} was rejected by the gates; promote it only with force "
                "and a reason"
            )
        with self._lock() as state:
            old = state["aliases"].get(CHAMPION)
            if old == target.version:
                raise RegistryError(f"{target.version} is already the champion")
            changes = {CHAMPION: target.version, **({PREVIOUS: old} if old else {})}
            self._commit(state, changes, action="promote", reason=reason, actor=actor, forced=force)
        return self.get(old) if old else None

    def rollback(self, *, reason: str, actor: str = "driftline") -> ModelVersion:
        """Make "previous" the champion again (and the displaced champion "previous")."""
        with self._lock() as state:
            current = state["aliases"]
            back = current.get(PREVIOUS)
            if back is None:
                raise RegistryError("there is no 'previous' version to roll back to")
            changes = {CHAMPION: back, PREVIOUS: current.get(CHAMPION)}
            self._commit(state, changes, action="rollback", reason=reason, actor=actor)
        return self.get(back)

    def set_alias(self, name: str, version: str, *, reason: str, actor: str = "driftline") -> None:
        """Point a free alias (e.g. "challenger") at a version; champion moves only by promote."""
        if not _ALIAS_NAME.match(name):
            raise RegistryError(f"alias {name!r}: use lowercase letters, digits, '-' and '_'")
        if name in (CHAMPION, PREVIOUS):
            raise RegistryError(f"'{name}' moves only by promote or rollback, which check gates")
        target = self.get(version)
        with self._lock() as state:
            self._commit(state, {name: target.version}, action="set", reason=reason, actor=actor)

    def remove_alias(self, name: str, *, reason: str, actor: str = "driftline") -> None:
        with self._lock() as state:
            if name not in state["aliases"]:
                raise RegistryError(f"no alias {name!r} (aliases: {sorted(state['aliases'])})")
            self._commit(state, {name: None}, action="remove", reason=reason, actor=actor)

    def audit_log(self) -> list[dict[str, Any]]:
        """Every alias move, oldest first: time, action, alias, from, to, reason, actor, forced."""
        logged = self._read_audit()
        return logged + _unlogged(self._state(), logged)

    # Storage

    def _p(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def _uri(self, path: str) -> str:
        return path if self._local else self.fs.unstrip_protocol(path)

    def _read(self, version: str) -> ModelVersion | None:
        folder = self._p("versions", version)
        try:
            raw = json.loads(self.fs.cat_file(f"{folder}/metadata.json"))
        except FileNotFoundError:
            return None
        return _to_version(raw, self._uri(folder))

    def _claim_version(self) -> str:
        """The next free id, taken by creating its claim file exclusively (safe under races)."""
        claims = self._p(".claims")
        self.fs.makedirs(claims, exist_ok=True)
        taken = [posixpath.basename(p) for p in self.fs.ls(claims, False)]
        number = max((int(t[1:]) for t in taken if _VERSION_ID.match(t)), default=0) + 1
        while True:
            version = f"v{number:04d}"
            try:
                with self.fs.open(posixpath.join(claims, version), "xb") as fh:
                    fh.write(str(os.getpid()).encode())
                return version
            except FileExistsError:
                number += 1

    def _publish(self, staging: str, final: str) -> None:
        """Move a fully written version into place; metadata.json last, as the commit mark."""
        if self._local:
            os.makedirs(posixpath.dirname(final), exist_ok=True)
            os.rename(staging, final)
            return
        files = sorted(self.fs.find(staging), key=lambda p: p.endswith("/metadata.json"))
        for src in files:
            self.fs.mv(src, final + src[len(staging) :])
        with suppress(FileNotFoundError):
            self.fs.rm(staging, recursive=True)

    def _state(self) -> dict[str, Any]:
        try:
            return json.loads(self.fs.cat_file(self._p("aliases.json")))
        except FileNotFoundError:
            return {"aliases": {}, "moves": []}

    def _read_audit(self) -> list[dict[str, Any]]:
        try:
            text = self.fs.cat_file(self._p("audit.jsonl")).decode()
        except FileNotFoundError:
            return []
        entries = []
        for line in text.splitlines():
            with suppress(json.JSONDecodeError):  # a line torn by a crash is re-appended
                entries.append(json.loads(line))
        return entries

    def _append_audit(self, entries: list[dict[str, Any]]) -> None:
        if entries:
            with self.fs.open(self._p("audit.jsonl"), "ab") as fh:
                fh.write("".join(json.dumps(e) + "\n" for e in entries).encode())

    @contextmanager
    def _lock(self) -> Iterator[dict[str, Any]]:
        """Serialise alias changes across processes; yield the alias state read under the lock.

        Taking the lock first appends audit entries a crash left only in aliases.json.
        """
        self.fs.makedirs(self.root, exist_ok=True)
        path = self._p(".lock")
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
            state = self._state()
            self._append_audit(_unlogged(state, self._read_audit()))
            yield state
        finally:
            self.fs.rm_file(path)

    def _commit(
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
        self._replace("aliases.json", json.dumps({"aliases": aliases, "moves": moves}, indent=2))
        self._append_audit(moves)

    def _replace(self, name: str, text: str) -> None:
        """Write a file aside, then rename it over the old one: readers see old or new."""
        target = self._p(name)
        tmp = self._p(f".{name}.{uuid.uuid4().hex[:8]}.tmp")
        self.fs.pipe_file(tmp, text.encode())
        try:
            if self._local:
                os.replace(tmp, target)
            else:
                self.fs.mv(tmp, target)
        except BaseException:
            with suppress(OSError):
                self.fs.rm_file(tmp)
            raise


def default_card(mv: ModelVersion) -> str:
    """A model card in markdown from the metadata alone, so every version has one."""
    m = mv.metadata
    features = m.get("features") or {}
    env = m.get("environment") or {}
    git = m.get("git")
    blessing = m.get("blessing")
    reasons = blessing.get("reasons", []) if isinstance(blessing, dict) else []
    lines = [
        f"# Model card: {m.get('project', 'model')} {mv.version}",
        "",
        f"- Registered: {mv.created_at}",
        f"- Gate outcome: **{mv.status}**",
        f"- Candidate: {m.get('candidate', 'not recorded')}",
        f"- sha256 of model.joblib: `{mv.sha256}`",
        "",
        "## Purpose",
        "",
        f"Scores the probability that `{m.get('target', 'the target')}` is "
        f"`{m.get('positive_label', 'the positive label')}` for one row of tabular data; "
        "the decision threshold below turns the score into a label.",
        "",
        "## Data",
        "",
        f"- Training data fingerprint: `{m.get('data_fingerprint', 'not recorded')}`",
        f"- Holdout fingerprint: `{m.get('holdout_fingerprint', 'not recorded')}`",
        "",
        "## Metrics (holdout)",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {k} | {_fmt(v)} |" for k, v in _flatten(m.get("metrics") or {}).items()),
        "",
        "## Blessing",
        "",
        f"The gates {'passed' if mv.status == 'blessed' else 'rejected'} this version.",
        *(f"- {reason}" for reason in reasons),
        "",
        "## Threshold",
        "",
        _fmt(m.get("threshold", "not recorded")),
        "",
        "## Features",
        "",
        f"- Numeric: {', '.join(features.get('numeric', [])) or 'none'}",
        f"- Categorical: {', '.join(features.get('categorical', [])) or 'none'}",
        "",
        "## Lineage",
        "",
        f"- Config hash: `{m.get('config_hash', 'not recorded')}`",
        f"- Prefect flow run: `{m.get('flow_run_id', 'not recorded')}`",
        f"- Git commit: `{git['commit']}`{' (uncommitted changes)' if git['dirty'] else ''}"
        if git
        else "- Git commit: not recorded",
        f"- Libraries: {', '.join(f'{k} {v}' for k, v in env.items())}",
        f"- Parameters: `{json.dumps(m.get('params', {}), sort_keys=True, default=str)}`",
        "",
    ]
    return "\n".join(lines)


def _to_version(raw: dict[str, Any], uri: str) -> ModelVersion:
    fields = {key: raw.pop(key) for key in _FIELDS}
    return ModelVersion(**fields, uri=uri, metadata=raw)


def _unlogged(state: dict[str, Any], logged: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Moves committed in aliases.json that a crash kept out of audit.jsonl."""
    ids = {entry.get("id") for entry in logged}
    return [move for move in state["moves"] if move["id"] not in ids]


def _file_name(name: str) -> str:
    """A relative path inside the version folder that cannot clobber the registry's files."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or name in _CORE_FILES:
        raise RegistryError(f"file name {name!r}: give a relative path not in {_CORE_FILES}")
    return str(path)


def _flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays, paths and dates, which metrics and params often hold."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON-serialisable")


def _environment() -> dict[str, str | None]:
    """Library versions the model was built with: unpickling under others may fail or differ."""
    env: dict[str, str | None] = {"python": platform.python_version()}
    for key, dist in _LIBRARIES.items():
        try:
            env[key] = dist_version(dist)
        except PackageNotFoundError:
            env[key] = None
    return env


def _git() -> dict[str, Any] | None:
    """The commit of the code that built the model, when it runs from a git checkout.

    --no-optional-locks: reading must never take the index lock a concurrent commit needs.
    """
    here = str(Path(__file__).resolve().parent)

    def git(*args: str) -> str:
        cmd = ["git", "--no-optional-locks", "-C", here, *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=True).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        dirty = bool(git("status", "--porcelain", "--untracked-files=no").strip())
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}
