"""The prediction log's writer: a bounded buffer in front of Parquet parts, one per process.

Requests add column batches to the buffer without waiting; one thread writes them as parts
(`prediction_log.write_part`: temporary name, fsync, rename). The buffer is bounded in rows,
counting the rows being written: when writes fail (a full disk), rows stay buffered and are
retried with a growing pause, `healthy` turns false (/ready answers 503), and once the bound
is reached `append` refuses ("refused": /predict answers 503) or, by policy
(`serving.log_when_full: drop`), the rows are dropped and counted. When writes succeed again,
everything still buffered is written.

What a kill -9 loses: in the default buffered mode, the rows answered since the last flush
(at most `flush_seconds` of traffic, or `flush_rows` rows, plus whatever a failing disk kept
buffered); with `journal=True` nothing answered: every row is fsynced to an append-only
journal before the answer (`driftline.storage.journal`) and replayed at the next start.

Hand-written because no library here offers a bounded, non-blocking, micro-batching Parquet
appender.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from driftline.storage.journal import Journal, part_tag, recover
from driftline.storage.prediction_log import FEEDBACK, PREDICTIONS, Columns, write_part

log = logging.getLogger("driftline.serving")

Accepted = Literal["logged", "dropped", "refused"]
RETRY_MAX_S = 30.0


def _rows(columns: Columns) -> int:
    return len(next(iter(columns.values()), []))


def _select(columns: Columns, sizes: list[int], accepted: list[Accepted]) -> Columns:
    """The rows of the groups that were logged."""
    keep: list[int] = []
    start = 0
    for n, a in zip(sizes, accepted, strict=True):
        if a == "logged":
            keep += range(start, start + n)
        start += n
    return {k: [v[i] for i in keep] for k, v in columns.items()}


class PredictionLog:
    """Bounded buffer + one background writer thread flushing micro-batches to Parquet."""

    def __init__(
        self,
        root: str | Path,
        *,
        flush_rows: int = 5000,
        flush_seconds: float = 2.0,
        buffer_rows: int = 100_000,
        when_full: Literal["refuse", "drop"] = "refuse",
        journal: bool = False,
        retry_seconds: float = 1.0,
    ) -> None:
        self.root = Path(root)
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.buffer_rows = buffer_rows
        self.when_full = when_full
        self.retry_seconds = retry_seconds
        self.durable = journal
        self._journal: Journal | None = None
        self._items: list[tuple[str, Columns]] = []
        self._buffered = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._since = 0.0
        self._thread: threading.Thread | None = None
        self.rows_written = 0
        self.rows_dropped = 0
        self.rows_recovered = 0
        self.last_error: str | None = None

    def start(self) -> None:
        """Replay journals left by processes that died, then start the writer thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        if self.durable:
            self.rows_recovered = recover(self.root, (PREDICTIONS, FEEDBACK), self._write)
            self._journal = Journal(self.root)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def append(self, columns: Columns, kind: str = PREDICTIONS, droppable: bool = True) -> Accepted:
        """Buffer rows without waiting on the disk (in journal mode: after fsyncing them).

        "refused" when the buffer is full (or the journal cannot be written): the caller
        answers 503; "dropped" when full and the policy drops `droppable` rows (counted).
        """
        return self.append_groups(columns, [_rows(columns)], kind, droppable)[0]

    def append_groups(
        self,
        columns: Columns,
        sizes: list[int],
        kind: str = PREDICTIONS,
        droppable: bool = True,
    ) -> list[Accepted]:
        """`append` for consecutive groups of rows (one per request of a scored batch), each
        accepted or not as a whole, in order; the accepted rows are buffered as one item,
        with one journal write (one fsync) for all of them."""
        out: list[Accepted] = []
        with self._cond:
            room = self.buffer_rows - self._buffered
            for n in sizes:
                if n <= room:
                    out.append("logged")
                    room -= n
                elif droppable and self.when_full == "drop":
                    out.append("dropped")
                    self.rows_dropped += n
                else:
                    out.append("refused")
            kept = columns if all(a == "logged" for a in out) else _select(columns, sizes, out)
            n = _rows(kept)
            if n == 0:
                return out
            if self._journal is not None:
                try:
                    self._journal.append(kind, kept)
                except OSError as exc:  # not durable, so not answered
                    self.last_error = f"journal: {type(exc).__name__}: {exc}"
                    log.error("prediction log: the journal cannot be written: %s", exc)
                    return ["refused" if a == "logged" else a for a in out]
            if not self._items:
                self._since = time.monotonic()  # the flush deadline runs from the first row
                self._cond.notify()
            self._items.append((kind, kept))
            self._buffered += n
            if self._buffered >= self.flush_rows:
                self._cond.notify()
        return out

    @property
    def backlog(self) -> int:
        """Rows buffered, not yet in a Parquet part."""
        return self._buffered

    @property
    def healthy(self) -> bool:
        """False while the last write failed or the buffer is full."""
        return self.last_error is None and self._buffered < self.buffer_rows

    def status(self) -> dict[str, Any]:
        return {
            "durability": "journal" if self.durable else "buffered",
            "healthy": self.healthy,
            "buffered_rows": self._buffered,
            "buffer_rows": self.buffer_rows,
            "rows_written": self.rows_written,
            "rows_dropped": self.rows_dropped,
            "rows_recovered": self.rows_recovered,
            "error": self.last_error,
        }

    def close(self, timeout: float | None = 60.0) -> None:
        """Flush everything buffered (one last try when writes are failing), stop the writer."""
        if self._thread is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout)
        self._thread = None
        if self._journal is not None:
            self._journal.close(written=self._buffered == 0)
            self._journal = None
        if self._buffered:
            where = "kept in the journal for the next start" if self.durable else "lost"
            log.error(
                "prediction log: %d answered row(s) could not be written (%s): %s",
                self._buffered, where, self.last_error,
            )  # fmt: skip

    def _run(self) -> None:
        pause = self.retry_seconds
        while True:
            with self._cond:
                while not self._stopping and self._buffered < self.flush_rows:
                    if not self._items:
                        self._cond.wait()
                        continue
                    left = self._since + self.flush_seconds - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                stopping = self._stopping
                batch = list(self._items)
                sealed = self._journal.seal() if self._journal is not None and batch else 0
            if batch:
                written = self._flush(batch, sealed)
                with self._cond:
                    kept = [item for item in batch if item[0] not in written]
                    self._items[: len(batch)] = kept
                    self._buffered -= sum(_rows(c) for k, c in batch if k in written)
                if not kept:
                    if self._journal is not None:
                        self._journal.discard(sealed)
                    pause = self.retry_seconds
                elif not stopping:
                    with self._cond:
                        self._cond.wait(pause)  # a stop request ends the wait early
                    pause = min(pause * 2, RETRY_MAX_S)
                    continue
            if stopping:
                return

    def _write(self, kind: str, table: pa.Table, tag: str | None = None) -> None:
        write_part(self.root, kind, table, tag)
        if kind == PREDICTIONS:
            self.rows_written += table.num_rows

    def _flush(self, batch: list[tuple[str, Columns]], sealed: int) -> set[str]:
        """Write the batch, one part per kind; the kinds written (the rest is kept for a
        retry, so a kind already written is never written twice)."""
        tag = part_tag(self._journal.id, sealed) if self._journal is not None else None
        kinds = {kind for kind, _ in batch}
        written: set[str] = set()
        try:
            for kind in (PREDICTIONS, FEEDBACK):
                tables = [pa.table(cols) for k, cols in batch if k == kind]
                if tables:
                    self._write(kind, pa.concat_tables(tables, promote_options="default"), tag)
                    written.add(kind)
        except Exception as exc:  # disk full, permissions: keep the rows, retry later
            if self.last_error is None:
                log.exception("prediction log: writing %d row batch(es) failed", len(batch))
            self.last_error = f"{type(exc).__name__}: {exc}"
            return written
        if self.last_error is not None:
            log.info("prediction log: writing works again; %d batch(es) written", len(batch))
        self.last_error = None
        return written | kinds
