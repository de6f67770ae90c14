"""Scoring a batch of /predict requests: one frame, one model call per arm, one log append.

`BatchScorer.__call__` runs on the batcher's scoring thread. It reads the served arms once (a
batch is answered by one champion version, and one challenger under a canary), builds one
model input of all the batch's records in the schema's column order, scores it, logs every
request's rows with one append and returns each request's answer as JSON bytes, in its order.
If the batch fails in the model, each request is scored alone, so a record the model cannot
score fails its own request only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from fastapi import HTTPException
from pydantic import BaseModel

from driftline.apps.serving.holder import Arms, ModelHolder
from driftline.apps.serving.routing import canary_mask
from driftline.apps.serving.schema import answers
from driftline.core.config import Serving
from driftline.core.scoring import FeatureSpec, ScoringModel, output_columns, to_frame
from driftline.storage.log_writer import PredictionLog
from driftline.storage.prediction_log import Columns
from driftline.storage.registry import CHALLENGER, CHAMPION
from driftline.storage.request_ids import RequestIds

log = logging.getLogger("driftline.serving")

LOG_FULL = "the prediction log cannot keep up or cannot write (see /ready); retry shortly"


@dataclass(frozen=True)
class Job:
    """One /predict request: its validated records and when it was queued."""

    records: Sequence[BaseModel]
    queued: float = field(default_factory=time.perf_counter)


@dataclass
class Scored:
    """A batch scored by the served arms: per row, the task's output columns
    (`scoring.output_columns`) and which version and arm answered."""

    outputs: dict[str, np.ndarray]
    model: np.ndarray
    arm: np.ndarray

    def rows(self, start: int, end: int) -> Scored:
        """Rows `start:end` (one request of the batch)."""
        outputs = {k: v[start:end] for k, v in self.outputs.items()}
        return Scored(outputs, self.model[start:end], self.arm[start:end])


def fast_sklearn() -> Any:
    """Skip what pydantic already checked: numbers are finite floats or null (NaN, which
    the imputers handle), and the fitted parameters were validated when fitted."""
    return sklearn.config_context(assume_finite=True, skip_parameter_validation=True)


class BatchScorer:
    """Scores batches of requests for the server (see the module docstring)."""

    def __init__(
        self,
        holder: ModelHolder,
        spec: FeatureSpec,
        settings: Serving,
        predlog: PredictionLog,
        request_ids: RequestIds,
        response_model: type[BaseModel],
    ) -> None:
        self.holder = holder
        self.response_model = response_model
        self.spec = spec
        self.settings = settings
        self.predlog = predlog
        self.request_ids = request_ids
        self.rng = np.random.default_rng()
        extra = [spec.key] if spec.key and spec.key not in spec.features else []
        self.names = spec.features + extra
        self._shadow = ThreadPoolExecutor(1, thread_name_prefix="driftline-shadow")

    def close(self) -> None:
        """Wait for shadow scoring still running (its rows go to the log)."""
        self._shadow.shutdown(wait=True)

    def __call__(self, jobs: list[Job]) -> list[bytes | Exception]:
        arms = self.holder.arms  # one read: the whole batch is answered by these versions
        if arms.champion is None:
            return [HTTPException(503, "no verified model is loaded")] * len(jobs)
        return self.batch(jobs, arms)

    def batch(self, jobs: list[Job], arms: Arms) -> list[bytes | Exception]:
        """Score, log and answer `jobs` with `arms`."""
        columns = self.columns(jobs)
        try:
            with fast_sklearn():
                frame = to_frame(columns, self.spec)
                scored = self.score(arms, frame, columns)
        except Exception as exc:
            if len(jobs) > 1:  # find the request(s) the model cannot score
                return [answer for job in jobs for answer in self.batch([job], arms)]
            log.exception("the model failed on a request of %d record(s)", len(jobs[0].records))
            return [HTTPException(500, f"the model cannot score these records: {exc}")]
        return self.answer(jobs, arms, frame, columns, scored)

    def columns(self, jobs: list[Job]) -> Columns:
        """The batch's records as columns, in the schema's order (entity key as text)."""
        records = [r for job in jobs for r in job.records]
        columns = {c: [getattr(r, c) for r in records] for c in self.names}
        key = self.spec.key
        if key and key not in self.spec.features:  # ids may come as numbers: log text
            columns[key] = [None if v is None else str(v) for v in columns[key]]
        return columns

    def score(self, arms: Arms, frame: pd.DataFrame, columns: Columns) -> Scored:
        """Each row scored by its arm: the champion, or the challenger under a canary; one
        call of the task's `predict` per arm on all its rows."""
        n = len(frame)
        mask = np.zeros(n, dtype=bool)
        if self.settings.strategy == "canary" and arms.challenger is not None:
            keys = columns[self.spec.key] if self.spec.key else [None] * n
            mask = canary_mask(keys, self.settings.canary_share, self.rng)
        outputs: dict[str, np.ndarray] = {}
        model = np.empty(n, dtype=object)
        arm = np.empty(n, dtype=object)
        for loaded, name, sel in (
            (arms.champion, CHAMPION, ~mask),
            (arms.challenger, CHALLENGER, mask),
        ):
            if loaded is None or not sel.any():
                continue
            said = loaded.predict(frame if sel.all() else frame[sel])
            for column, values in output_columns(said, self.spec.task).items():
                outputs.setdefault(column, np.empty(n, dtype=values.dtype))[sel] = values
            model[sel] = loaded.name
            arm[sel] = name
        return Scored(outputs, model, arm)

    def answer(
        self, jobs: list[Job], arms: Arms, frame: pd.DataFrame, columns: Columns, scored: Scored
    ) -> list[bytes | Exception]:
        """Log every request's rows (one append), then each request's answer."""
        done = time.perf_counter()
        sizes = [len(job.records) for job in jobs]
        minted = [self.request_ids.batch(n) for n in sizes]
        ids = [i for _, request in minted for i in request]
        batches = [b for (b, _), n in zip(minted, sizes, strict=True) for _ in range(n)]
        latency = [
            (done - job.queued) * 1000 for job, n in zip(jobs, sizes, strict=True) for _ in range(n)
        ]
        rows = log_rows(columns, ids, batches, scored, served=True, latency_ms=latency)
        accepted = self.predlog.append_groups(rows, sizes)
        challenger = arms.challenger
        if self.settings.strategy == "shadow" and challenger is not None:
            answered = np.repeat([a != "refused" for a in accepted], sizes)
            if answered.any():  # no shadow rows for a request answered 503
                self._shadow.submit(
                    self.shadow, challenger, *_rows_where(answered, frame, columns, ids, batches)
                )
        out: list[bytes | Exception] = []
        start = 0
        for n, logged in zip(sizes, accepted, strict=True):
            end = start + n
            if logged == "refused":
                out.append(HTTPException(503, LOG_FULL))
            else:
                out.append(self.response(ids[start:end], scored.rows(start, end)))
            start = end
        return out

    def response(self, ids: list[str], scored: Scored) -> bytes:
        """One request's answer (its rows of the batch) as the JSON of the task's response."""
        said = answers(self.spec, ids, scored.outputs, scored.model.tolist())
        return self.response_model(predictions=said).model_dump_json().encode()

    def shadow(
        self,
        challenger: ScoringModel,
        frame: pd.DataFrame,
        columns: Columns,
        ids: list[str],
        batches: list[str],
    ) -> None:
        """Score the batch with the challenger too and log it as not served."""
        start = time.perf_counter()
        try:
            with fast_sklearn():
                outputs = output_columns(challenger.predict(frame), self.spec.task)
        except Exception:
            log.exception("the shadow challenger %s failed on a batch", challenger.name)
            return
        n = len(ids)
        scored = Scored(
            outputs,
            np.full(n, challenger.name, dtype=object),
            np.full(n, CHALLENGER, dtype=object),
        )
        latency = [(time.perf_counter() - start) * 1000] * n
        rows = log_rows(columns, ids, batches, scored, served=False, latency_ms=latency)
        if self.predlog.append(rows) == "refused":
            log.warning("prediction log full: %d shadow row(s) not logged", n)


def _rows_where(
    keep: np.ndarray, frame: pd.DataFrame, columns: Columns, ids: list[str], batches: list[str]
) -> tuple[pd.DataFrame, Columns, list[str], list[str]]:
    """The rows of a batch where `keep` is true (all of it, untouched, when it is)."""
    if keep.all():
        return frame, columns, ids, batches
    rows = np.flatnonzero(keep).tolist()
    return (
        frame[keep],
        {k: [v[i] for i in rows] for k, v in columns.items()},
        [ids[i] for i in rows],
        [batches[i] for i in rows],
    )


def log_rows(
    columns: Columns,
    ids: list[str],
    batches: list[str],
    scored: Scored,
    *,
    served: bool,
    latency_ms: list[float],
) -> Columns:
    """The prediction log's rows of a scored batch (`LOG_COLUMNS`, then the inputs)."""
    n = len(ids)
    return {
        "request_id": ids,
        "batch_id": batches,
        "ts": [datetime.now(UTC)] * n,
        "model_version": scored.model.tolist(),
        "arm": scored.arm.tolist(),
        "served": [served] * n,
        **{name: values.tolist() for name, values in scored.outputs.items()},
        "latency_ms": latency_ms,
        **columns,
    }
