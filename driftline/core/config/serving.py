"""Config section of the prediction server."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from driftline.core.config.section import Section

BYTES_PER_RECORD = 4096


class ChallengerPolicy(Section):
    """How labelled shadow or canary traffic judges the challenger (`serving.challenger`)."""

    metric: str | None = Field(None, description="Metric compared (default: the primary).")
    level: float = Field(0.95, gt=0.5, lt=1, description="Confidence level of the test.")
    min_labels: int = Field(100, ge=10, description="Labelled rows per arm before comparing.")
    auto_promote: bool = Field(
        False, description="Promote a significantly better challenger (audited, with numbers)."
    )
    auto_rollback: bool = Field(
        False, description="Withdraw a significantly worse challenger (remove its alias)."
    )


class Serving(Section):
    """The prediction API: request limits, auth, hot-swap polling, log batching, traffic split."""

    max_records: int = Field(1000, ge=1, description="Records per /predict request.")
    max_body_bytes: int | None = Field(
        None,
        ge=1024,
        description=f"Request body size limit (default: {BYTES_PER_RECORD} bytes per record "
        "of max_records, at least 1 MB, so a body with too many records gets the record limit).",
    )
    token_env: str = Field(
        "DRIFTLINE_API_TOKEN",
        description="Environment variable holding the bearer token; unset or empty = no auth.",
    )
    poll_seconds: float = Field(2.0, gt=0, description="How often the champion alias is checked.")
    log_flush_rows: int = Field(5000, ge=1, description="Rows per prediction-log micro-batch.")
    log_flush_seconds: float = Field(2.0, gt=0, description="Longest wait before a flush.")
    log_buffer_rows: int = Field(
        100_000,
        ge=1,
        description="Rows the prediction log holds in memory while they wait to be written "
        "(or while writing fails, e.g. a full disk); at the bound see log_when_full.",
    )
    log_when_full: Literal["refuse", "drop"] = Field(
        "refuse",
        description="refuse: /predict answers 503 while the log buffer is full; drop: keep "
        "answering, count every row not logged (shown by /ready and /model).",
    )
    log_durability: Literal["buffered", "journal"] = Field(
        "buffered",
        description="buffered: a kill -9 loses up to log_flush_seconds of answered rows; "
        "journal: every row is fsynced to a journal before the answer (nothing answered is "
        "lost, at a latency cost per request).",
    )
    batch_max_records: int = Field(
        256,
        ge=1,
        description="Records scored together at most: concurrent /predict requests are "
        "gathered into one model call up to this many records (a request is never split; "
        "1 turns micro-batching off).",
    )
    batch_max_wait_ms: float = Field(
        2.0,
        ge=0,
        description="Longest a batch waits for requests already arriving (being read or "
        "validated) before it is scored; a request that arrives alone never waits.",
    )
    strategy: Literal["none", "shadow", "canary"] = "none"
    canary_share: float = Field(0.1, ge=0, le=1, description="Share answered by the challenger.")
    sticky_key: str | None = Field(
        None, description="Record field pinning an entity to one arm; default: id_column."
    )
    challenger: ChallengerPolicy = Field(default_factory=ChallengerPolicy)

    @model_validator(mode="after")
    def _fits(self) -> Serving:
        if self.log_buffer_rows < self.max_records:
            raise ValueError("log_buffer_rows must hold at least one request (max_records)")
        return self

    @property
    def body_limit(self) -> int:
        """The request body limit in bytes (max_body_bytes, or its default)."""
        return self.max_body_bytes or max(1_000_000, BYTES_PER_RECORD * self.max_records)
