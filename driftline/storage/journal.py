"""The prediction log's durable mode: an append-only journal written before the answer.

    <log root>/journal/<writer>/.lock          held (flock) by the writing process while it lives
    <log root>/journal/<writer>/seg-00000001.jsonl   rows not yet in a Parquet part

Each process has its own journal folder (one writer per process). A row is appended and
fsynced to the open segment before the request is answered; when the log writer starts a
flush it seals the segment (later rows go to the next one), and once the flush's Parquet parts
are written, the sealed segments are deleted. Each part is named with the journal and the last
segment it covers, so recovery never writes a row twice: a journal whose owner died (its lock
is free) is replayed into parts for the segments no part covers yet, then removed.

Hand-written: the log is Parquet micro-batches, and no library here offers a write-ahead
journal in front of them. JSON lines, because a torn last line (a kill mid-write) is easy to
tell and skip.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from driftline.storage import locks

log = logging.getLogger("driftline.serving")

FOLDER = "journal"
TIME_COLUMNS = ("ts", "received_at")
_SEGMENT = re.compile(r"^seg-(\d{8})\.jsonl$")
# A part covering journal segments: part-<ns>-<rand>-j<journal id>.<last segment>.parquet
PART_TAG = re.compile(r"-j(?P<journal>[A-Za-z0-9_.-]+)\.(?P<segment>\d{8})\.parquet$")

Columns = dict[str, list[Any]]


def part_tag(journal: str, segment: int) -> str:
    return f"j{journal}.{segment:08d}"


def _encode(kind: str, columns: Columns) -> bytes:
    cols = {
        k: [v.isoformat() if isinstance(v, datetime) else v for v in vs] if k in TIME_COLUMNS
        else vs
        for k, vs in columns.items()
    }  # fmt: skip
    return (json.dumps({"kind": kind, "columns": cols}, default=str) + "\n").encode()


def _decode(line: bytes) -> tuple[str, Columns] | None:
    try:
        item = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):  # torn by a kill mid-write
        return None
    cols = item["columns"]
    for k in TIME_COLUMNS:
        if k in cols:
            cols[k] = [None if v is None else datetime.fromisoformat(v) for v in cols[k]]
    return item["kind"], cols


class Journal:
    """One process's journal under `<root>/journal/`."""

    def __init__(self, root: Path) -> None:
        self.id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.folder = root / FOLDER / self.id
        self.folder.mkdir(parents=True, exist_ok=True)
        held = locks.acquire(None, str(self.folder / ".lock"), purpose="journal", timeout=0)
        assert held is not None  # a folder of our own
        self._held = held
        self.segment = 1
        self._fh = self._open()

    def _open(self) -> Any:
        return (self.folder / f"seg-{self.segment:08d}.jsonl").open("ab")

    def append(self, kind: str, columns: Columns) -> None:
        """Write rows and fsync them (call under the log's lock: one appender at a time)."""
        self._fh.write(_encode(kind, columns))
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def seal(self) -> int:
        """Close the open segment (rows appended later go to the next); its number."""
        sealed = self.segment
        self._fh.close()
        self.segment += 1
        self._fh = self._open()
        return sealed

    def discard(self, upto: int) -> None:
        """Delete the segments up to `upto`: their rows are in Parquet parts now."""
        for path in self.folder.glob("seg-*.jsonl"):
            match = _SEGMENT.match(path.name)
            if match and int(match.group(1)) <= upto:
                path.unlink(missing_ok=True)

    def close(self, written: bool) -> None:
        """Stop journaling; the folder goes only when everything in it was written."""
        self._fh.close()
        if written:
            shutil.rmtree(self.folder, ignore_errors=True)
        self._held.release()


def covered(root: Path, kinds: tuple[str, ...]) -> dict[tuple[str, str], int]:
    """Per (kind, journal id): the last journal segment a Parquet part covers."""
    out: dict[tuple[str, str], int] = {}
    for kind in kinds:
        for part in (root / kind).glob("date=*/part-*.parquet"):
            match = PART_TAG.search(part.name)
            if match:
                key = (kind, match.group("journal"))
                out[key] = max(out.get(key, 0), int(match.group("segment")))
    return out


def recover(root: Path, kinds: tuple[str, ...], write: Any) -> int:
    """Replay the journals of processes that died into Parquet parts; the rows replayed.

    `write(kind, table, tag)` writes one part. A journal still locked by a live process is
    left alone.
    """
    base = root / FOLDER
    if not base.is_dir():
        return 0
    replayed = 0
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        held = locks.acquire(None, str(folder / ".lock"), purpose="recover", timeout=0)
        if held is None:
            continue  # its writer is alive, or another server worker is replaying it
        try:
            # Read under the lock: a worker that replayed this journal first wrote its parts.
            done = covered(root, kinds)
            segments = sorted(
                (int(m.group(1)), p)
                for p in folder.glob("seg-*.jsonl")
                if (m := _SEGMENT.match(p.name))
            )
            rows: dict[str, list[pa.Table]] = {k: [] for k in kinds}
            for number, path in segments:
                for line in path.read_bytes().splitlines():
                    item = _decode(line)
                    if item is None or item[0] not in rows:
                        continue
                    if number > done.get((item[0], folder.name), 0):
                        rows[item[0]].append(pa.table(item[1]))
            last = segments[-1][0] if segments else 0
            for kind, tables in rows.items():
                if tables:
                    table = pa.concat_tables(tables, promote_options="default")
                    write(kind, table, part_tag(folder.name, last))
                    replayed += table.num_rows
                    log.warning(
                        "prediction log: recovered %d %s row(s) from the journal of a process "
                        "that died (%s)", table.num_rows, kind, folder.name,
                    )  # fmt: skip
            shutil.rmtree(folder, ignore_errors=True)  # before the lock goes: replayed once
        finally:
            held.release()
    return replayed
