"""Adaptive micro-batching: concurrent /predict requests scored in one model call.

Requests wait in a queue; one loop takes everything queued (up to `max_records` records, never
splitting a request) as soon as the scorer is free and scores it in one call on a thread of its
own, so the event loop keeps reading and validating requests meanwhile. It waits (at most
`max_wait_s`) only while more requests are known to be arriving, i.e. have entered the server
(`Arrivals`) but are still being read or validated; a request that arrives alone is scored at
once. Under load, the batch grows by itself to what arrived while the last one was scored.
Stopping scores what is queued first, so a graceful shutdown answers every queued request.

Hand-written: BentoML's, MLServer's and Triton's batchers are parts of their own servers; no
library here batches calls inside a FastAPI app.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("driftline.serving")

J = TypeVar("J")
_ARRIVING = "driftline.arriving"  # set in a request's scope until it is queued or answered


@dataclass
class _Waiting(Generic[J]):
    job: J
    size: int
    future: asyncio.Future[Any] = field(repr=False)
    loop: asyncio.AbstractEventLoop = field(repr=False)

    def settle(self, result: object) -> None:
        self.loop.call_soon_threadsafe(_settle, self.future, result)


def _settle(future: asyncio.Future[Any], result: object) -> None:
    if future.done():  # the client went away
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


class MicroBatcher(Generic[J]):
    """Queues jobs and scores them in batches with `score(jobs) -> [result or exception]`.

    The queue and the scoring loop live on a thread, not on an event loop, so requests
    from any event loop (uvicorn's, a test client's) can be batched together.
    """

    def __init__(
        self,
        score: Callable[[list[J]], Sequence[object]],
        max_records: int,
        max_wait_s: float,
    ) -> None:
        self.score = score
        self.max_records = max_records
        self.max_wait_s = max_wait_s
        self.batches = 0
        self.jobs = 0
        self._arriving = 0  # requests inside the server, not yet queued
        self._queue: deque[_Waiting[J]] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the scoring thread."""
        if self._thread is not None:
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="driftline-scoring", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Score what is queued, then stop the thread."""
        if self._thread is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join()
        self._thread = None

    def arrived(self) -> None:
        with self._cond:
            self._arriving += 1

    def left(self) -> None:
        """A request counted by `arrived` will not be queued (refused at the door)."""
        with self._cond:
            self._arriving -= 1
            self._cond.notify()

    async def submit(self, job: J, size: int, scope: Scope | None = None) -> Any:
        """Queue `job` (`size` records) and wait for its result (an exception is raised)."""
        if self._thread is None:
            raise RuntimeError("the batcher is not running (the app's lifespan did not start)")
        loop = asyncio.get_running_loop()
        waiting = _Waiting(job, size, loop.create_future(), loop)
        with self._cond:
            if scope is not None and scope.pop(_ARRIVING, False):
                self._arriving -= 1
            self._queue.append(waiting)
            self._cond.notify()
        return await waiting.future

    def _gather(self) -> list[_Waiting[J]]:
        """The next batch (empty once stopping with nothing queued); call under the lock."""
        while not self._queue:
            if self._stopping:
                return []
            self._cond.wait()
        batch = [self._queue.popleft()]
        records = batch[0].size
        deadline = time.monotonic() + self.max_wait_s
        while True:
            while self._queue and records + self._queue[0].size <= self.max_records:
                batch.append(self._queue.popleft())
                records += batch[-1].size
            left = deadline - time.monotonic()
            if self._queue or records >= self.max_records or self._arriving <= 0 or left <= 0:
                return batch  # full, or nobody else is coming, or waited long enough
            if self._stopping:
                return batch
            self._cond.wait(left)

    def _run(self) -> None:
        while True:
            with self._cond:
                batch = self._gather()
            if not batch:
                return
            try:
                results: Sequence[object] = self.score([w.job for w in batch])
            except Exception as exc:  # a bug in scoring: every job of the batch fails with it
                log.exception("scoring a batch of %d request(s) failed", len(batch))
                results = [exc] * len(batch)
            self.batches += 1
            self.jobs += len(batch)
            for waiting, result in zip(batch, results, strict=True):
                waiting.settle(result)


class Arrivals:
    """Counts the requests to `path` that entered the server and are not yet queued, so the
    batcher knows whether waiting can gather more."""

    def __init__(self, app: ASGIApp, batcher: MicroBatcher[Any], path: str) -> None:
        self.app = app
        self.batcher = batcher
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        self.batcher.arrived()
        scope[_ARRIVING] = True
        try:
            await self.app(scope, receive, send)
        finally:
            if scope.pop(_ARRIVING, False):  # refused before it was queued (422, 413, 401)
                self.batcher.left()
