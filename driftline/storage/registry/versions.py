"""The registry's first room: immutable model versions, each a folder that appears complete.

    <root>/versions/v0001/  model.joblib, metadata.json, card.md, reference.parquet, files
    <root>/.claims/v0001    a version id being written: a lock its writer holds until done
    <root>/.staging/        versions being written, invisible until moved into versions/

A version is written into .staging and then renamed into versions/ (locally one os.rename;
elsewhere file by file with metadata.json last, and only a folder holding metadata.json
counts as a version), so a crash never shows half a version. An id is claimed under the
registry's lock: the next one after every version and live claim; its claim is a lock held
while the version is written (`driftline.storage.locks`: it dies with its writer). Before
each claim the claims of writers that died, and staging folders no live writer owns, are
removed. A model's bytes are checked against the sha256 recorded at registration before they
are unpickled.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import re
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticSerializationError

from driftline.core.metadata import ModelMetadata, upgrade
from driftline.errors import IntegrityError, RegistryError
from driftline.storage import locks, pickles

log = logging.getLogger("driftline.registry")

# Layout version of metadata.json; registries written before it hold a flat dict (format 1).
FORMAT = 2
MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
CARD_FILE = "card.md"
REFERENCE_FILE = "reference.parquet"
_CORE_FILES = {MODEL_FILE, METADATA_FILE, CARD_FILE, REFERENCE_FILE}
VERSION_ID = re.compile(r"^v\d{4,}$")
# The registry's own fields of metadata.json; the metadata's fields sit beside them.
_HEAD = ("format", "version", "created_at", "status", "sha256", "files")


class ModelVersion(BaseModel):
    """One registered model: its id, gate outcome, checksum, folder, files and metadata."""

    model_config = ConfigDict(frozen=True)

    version: str
    created_at: str
    status: Literal["blessed", "rejected"]
    sha256: str
    uri: str
    files: list[str] = []
    metadata: ModelMetadata
    format: int = FORMAT


class VersionStore:
    """Writes and reads the versions of one registry folder on an fsspec file system."""

    def __init__(
        self,
        fs: Any,
        root: str,
        local: bool,
        lock: Callable[[str], AbstractContextManager[None]],
    ) -> None:
        self.fs = fs
        self.root = root
        self.local = local
        self._lock = lock

    def path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def uri(self, path: str) -> str:
        return path if self.local else self.fs.unstrip_protocol(path)

    def write(
        self,
        model: Any,
        metadata: ModelMetadata,
        status: str,
        reference: pd.DataFrame | None,
        files: dict[str, Path],
        card: Any,
    ) -> ModelVersion:
        """Check everything, take an id, write into staging, then publish the folder.

        `card(version) -> str` renders the model card once the version record exists.
        """
        if status not in ("blessed", "rejected"):
            raise RegistryError(f"status must be 'blessed' or 'rejected', not {status!r}")
        extra = {_file_name(name): Path(src) for name, src in files.items()}
        missing = [str(src) for src in extra.values() if not src.is_file()]
        if missing:
            raise RegistryError(f"files to register do not exist: {missing}")
        try:
            meta_json = metadata.model_dump(mode="json")
        except PydanticSerializationError as exc:
            raise RegistryError(f"metadata is not JSON-serialisable: {exc}") from None
        blob, sha256 = pickles.dumps(model)
        version, claim = self._claim()
        try:
            return self._write(
                version, blob, sha256, metadata, meta_json, status, reference, extra, card
            )
        finally:
            with suppress(OSError):
                self.fs.rm_file(self.path(".claims", version))
            claim.release()

    def _write(
        self,
        version: str,
        blob: bytes,
        sha256: str,
        metadata: ModelMetadata,
        meta_json: dict[str, Any],
        status: str,
        reference: pd.DataFrame | None,
        extra: dict[str, Path],
        card: Any,
    ) -> ModelVersion:
        head = {
            "format": FORMAT,
            "version": version,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "status": status,
            "sha256": sha256,
            "files": sorted(extra),
        }
        final = self.path("versions", version)
        mv = ModelVersion(**head, uri=self.uri(final), metadata=metadata)
        staging = self.path(".staging", f"{version}-{uuid.uuid4().hex[:8]}")
        try:
            self.fs.makedirs(staging, exist_ok=True)
            self.fs.pipe_file(f"{staging}/{MODEL_FILE}", blob)
            if reference is not None:
                with self.fs.open(f"{staging}/{REFERENCE_FILE}", "wb") as fh:
                    reference.to_parquet(fh, index=False)
            for name, src in extra.items():
                self.fs.makedirs(posixpath.dirname(f"{staging}/{name}"), exist_ok=True)
                self.fs.put_file(str(src), f"{staging}/{name}")
            self.fs.pipe_file(f"{staging}/{CARD_FILE}", card(mv).encode())
            text = json.dumps({**head, **meta_json}, indent=2)
            self.fs.pipe_file(f"{staging}/{METADATA_FILE}", text.encode())
            self._publish(staging, final)
        except BaseException:
            with suppress(OSError):
                self.fs.rm(staging, recursive=True)
            raise
        return mv

    def all(self) -> list[ModelVersion]:
        """All complete versions, oldest first."""
        folder = self.path("versions")
        if not self.fs.isdir(folder):
            return []
        found = (self.read(posixpath.basename(p.rstrip("/"))) for p in self.fs.ls(folder, False))
        return sorted((v for v in found if v is not None), key=lambda v: int(v.version[1:]))

    def read(self, version: str) -> ModelVersion | None:
        """A version by id; None when there is no complete version of that id."""
        if not VERSION_ID.match(version):
            return None
        folder = self.path("versions", version)
        try:
            raw = json.loads(self.fs.cat_file(f"{folder}/{METADATA_FILE}"))
        except FileNotFoundError:
            return None
        return _to_version(raw, self.uri(folder))

    def load_model(self, mv: ModelVersion) -> Any:
        """The model of a version, unpickled only after its bytes matched the registered sha256."""
        try:
            blob = self.fs.cat_file(self.path("versions", mv.version, MODEL_FILE))
        except FileNotFoundError:
            raise IntegrityError(f"{mv.version}: {MODEL_FILE} is missing from {mv.uri}") from None
        return pickles.loads(blob, mv.sha256, f"{mv.version}: {MODEL_FILE}")

    def file_path(self, version: str, name: str) -> str:
        """Where a file of a version is (the one place that knows the folder layout)."""
        return self.path("versions", version, name)

    def _names(self, folder: str) -> list[str]:
        path = self.path(folder)
        if not self.fs.isdir(path):
            return []
        return [posixpath.basename(p.rstrip("/")) for p in self.fs.ls(path, False)]

    def _claim(self) -> tuple[str, locks.Held]:
        """The next id after every version and live claim, held by its claim until written."""
        with self._lock("claim a version id"):
            self.sweep()
            taken = self._names("versions") + self._names(".claims")
            number = max((int(t[1:]) for t in taken if VERSION_ID.match(t)), default=0) + 1
            version = f"v{number:04d}"
            self.fs.makedirs(self.path(".claims"), exist_ok=True)
            held = locks.acquire(
                self.fs, self.path(".claims", version), purpose=f"write {version}", timeout=5
            )
            if held is None:  # cannot happen under the registry lock: a claim nobody swept
                raise RegistryError(f"version id {version} is held by another writer")
            return version, held

    def sweep(self) -> list[str]:
        """Remove the claims of writers that died and the staging folders no live writer owns
        (call under the registry lock); returns what was removed."""
        live: set[str] = set()
        dead: list[tuple[str, locks.Held]] = []
        for name in self._names(".claims"):
            held = locks.acquire(self.fs, self.path(".claims", name), purpose="sweep", timeout=0)
            if held is None:
                live.add(name)
            else:
                dead.append((name, held))
        removed = []
        for name in self._names(".staging"):
            if name.split("-", 1)[0] not in live:
                with suppress(OSError):
                    self.fs.rm(self.path(".staging", name), recursive=True)
                    removed.append(f".staging/{name}")
        for name, held in dead:
            with suppress(OSError):
                self.fs.rm_file(self.path(".claims", name))
            held.release()
            removed.append(f".claims/{name}")
        if removed:
            log.info("registry %s: removed what crashed writers left: %s", self.root, removed)
        return removed

    def _publish(self, staging: str, final: str) -> None:
        """Move a fully written version into place; metadata.json last, as the commit mark."""
        if self.local:
            os.makedirs(posixpath.dirname(final), exist_ok=True)
            os.rename(staging, final)
            return
        files = sorted(self.fs.find(staging), key=lambda p: p.endswith(f"/{METADATA_FILE}"))
        for src in files:
            self.fs.mv(src, final + src[len(staging) :])
        with suppress(FileNotFoundError):
            self.fs.rm(staging, recursive=True)


def _to_version(raw: dict[str, Any], uri: str) -> ModelVersion:
    """A stored record as a ModelVersion: the registry's fields, then the metadata's.

    A record without `format` was written before `ModelMetadata` (format 1): `upgrade` reads it.
    """
    head = {key: raw.pop(key) for key in _HEAD if key in raw}
    if head.get("format") == FORMAT:
        return ModelVersion(**head, uri=uri, metadata=ModelMetadata.model_validate(raw))
    metadata = upgrade({**raw, "status": head["status"]})
    return ModelVersion(**head, uri=uri, metadata=metadata, format=1)


def _file_name(name: str) -> str:
    """A relative path inside the version folder that cannot clobber the registry's files."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or name in _CORE_FILES:
        raise RegistryError(f"file name {name!r}: give a relative path not in {_CORE_FILES}")
    return str(path)
