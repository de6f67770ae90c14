"""What /ready and /model say: what is served, what the registry names, the log's health.

They tell the truth about what answers: `model_version` is the version actually serving,
`registry_champion` the version the champion alias names; when a promoted version was refused
(a corrupt file, another schema) the two differ, `in_sync` is false and `refused` says why.
Ready means a verified model is serving and the prediction log can persist what it answers.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from driftline.apps.serving.batching import MicroBatcher
from driftline.apps.serving.holder import ModelHolder
from driftline.core.config import Serving
from driftline.storage.log_writer import PredictionLog


class RefusedVersion(BaseModel):
    version: str
    error: str
    at: str


class LogStatus(BaseModel):
    """The prediction log: its durability mode, health, and every row it could not keep."""

    durability: str = Field(description="buffered or journal (see serving.log_durability).")
    healthy: bool = Field(description="False while writing fails or the buffer is full.")
    buffered_rows: int = Field(description="Rows answered and not yet written.")
    buffer_rows: int = Field(description="The bound of the buffer (serving.log_buffer_rows).")
    rows_written: int
    rows_dropped: int = Field(description="Answered rows not logged (log_when_full: drop).")
    rows_recovered: int = Field(description="Rows replayed from a dead process's journal.")
    error: str | None


class BatchingStatus(BaseModel):
    """Micro-batching of /predict: its limits and how many requests shared a model call."""

    max_records: int = Field(description="serving.batch_max_records")
    max_wait_ms: float = Field(description="serving.batch_max_wait_ms")
    batches: int = Field(description="Model calls made for /predict since the start.")
    requests: int = Field(description="Requests they answered (requests / batches: mean size).")


class Status(BaseModel):
    ready: bool = Field(description="A verified model is serving and the log can persist.")
    reason: str | None = Field(description="Why not ready.")
    model_version: str | None = Field(description="The version answering as champion.")
    registry_champion: str | None = Field(description="The version the champion alias names.")
    in_sync: bool = Field(description="Whether the served champion is the registry's.")
    challenger_version: str | None
    strategy: str
    refused: dict[str, RefusedVersion] = Field(description="Versions refused, by alias.")
    log: LogStatus
    batching: BatchingStatus


class ModelInfo(Status):
    champion: dict[str, Any] | None = Field(description="The served champion's record.")
    challenger: dict[str, Any] | None
    card: str | None = Field(description="The served champion's model card (markdown).")
    features: dict[str, Any]


def status(
    holder: ModelHolder, predlog: PredictionLog, batcher: MicroBatcher[Any], settings: Serving
) -> Status:
    arms = holder.arms
    served = arms.champion.name if arms.champion else None
    named = holder.targets.get("champion")
    reason = None
    if served is None:
        reason = "no verified champion is loaded"
    elif not predlog.healthy:
        reason = f"the prediction log cannot persist: {predlog.last_error or 'buffer full'}"
    return Status(
        ready=reason is None,
        reason=reason,
        model_version=served,
        registry_champion=named,
        in_sync=served == named,
        challenger_version=arms.challenger.name if arms.challenger else None,
        strategy=settings.strategy,
        refused={k: RefusedVersion(**vars(v)) for k, v in dict(holder.refused).items()},
        log=LogStatus(**predlog.status()),
        batching=BatchingStatus(
            max_records=batcher.max_records,
            max_wait_ms=batcher.max_wait_s * 1000,
            batches=batcher.batches,
            requests=batcher.jobs,
        ),
    )
