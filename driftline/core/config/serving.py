"""Config section of the prediction server."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from driftline.core.config.section import Section


class Serving(Section):
    """The prediction API: request limits, auth, hot-swap polling, log batching, traffic split."""

    max_records: int = Field(1000, ge=1, description="Records per /predict request.")
    max_body_bytes: int = Field(2_000_000, ge=1024, description="Request body size limit.")
    token_env: str = Field(
        "DRIFTLINE_API_TOKEN",
        description="Environment variable holding the bearer token; unset or empty = no auth.",
    )
    poll_seconds: float = Field(2.0, gt=0, description="How often the champion alias is checked.")
    log_flush_rows: int = Field(5000, ge=1, description="Rows per prediction-log micro-batch.")
    log_flush_seconds: float = Field(2.0, gt=0, description="Longest wait before a flush.")
    log_queue_size: int = Field(10_000, ge=1, description="Requests waiting for the log writer.")
    strategy: Literal["none", "shadow", "canary"] = "none"
    canary_share: float = Field(0.1, ge=0, le=1, description="Share answered by the challenger.")
    sticky_key: str | None = Field(
        None, description="Record field pinning an entity to one arm; default: id_column."
    )
