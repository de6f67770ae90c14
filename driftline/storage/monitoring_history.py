"""The monitoring history: one row per check, `<state>/monitoring/<project>/history.parquet`.

Each row is a `CheckRecord`: drift next to quality (measured on labelled rows) and the
label-free estimate of quality with its band. The next check's window starts where the last
check with a verdict ended (a window too small to judge is looked at again, with the rows
that arrive after it).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, Field

from driftline.core.atomic import atomic_path
from driftline.core.config import ProjectConfig, Window
from driftline.core.contracts import DriftResult, EstimatedMetric

# Columns of the table that hold JSON (lists and mappings), parsed back by `records`.
_JSON_COLUMNS = ("drifted_columns", "quality", "estimated", "alerts")


class CheckRecord(BaseModel):
    """One check as the history keeps it (what dashboards and reports read)."""

    checked_at: datetime
    model_version: str
    window_start: datetime | None = None
    window_end: datetime | None = None
    verdict: bool
    rows_reference: int
    rows_current: int
    rows_reference_sampled: int
    rows_current_sampled: int
    rows_labelled: int = 0
    drift_share: float
    dataset_drift: bool
    drifted_columns: list[str] = Field(default_factory=list)
    quality: dict[str, float] = Field(default_factory=dict, description="On labelled rows.")
    quality_note: str = ""
    estimated: list[EstimatedMetric] = Field(
        default_factory=list, description="Label-free estimates (CBPE) with their band."
    )
    estimate_note: str = ""
    alerts: list[str] = Field(default_factory=list)
    report_path: str = ""
    source: str = Field("", description="The batch files checked; empty: the prediction log.")


class MonitoringHistory:
    """The checks of one project, oldest first."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "history.parquet"

    @classmethod
    def for_config(cls, cfg: ProjectConfig) -> MonitoringHistory:
        return cls(cfg.state_path / "monitoring" / cfg.project)

    def read(self) -> pd.DataFrame:
        return pd.read_parquet(self.path) if self.path.exists() else pd.DataFrame()

    def records(self) -> list[CheckRecord]:
        """Every check, oldest first, typed (rows written before a column existed get its
        default)."""
        out = []
        for row in self.read().to_dict(orient="records"):
            values = {k: v for k, v in row.items() if not (v is None or v is pd.NaT)}
            for key in _JSON_COLUMNS:
                if isinstance(values.get(key), str):
                    values[key] = json.loads(values[key])
            for key in ("window_start", "window_end", "checked_at"):
                if key in values and pd.isna(values[key]):
                    del values[key]
            out.append(CheckRecord.model_validate(values))
        return out

    def window_start(self, window: Window, now: datetime | None = None) -> datetime | None:
        """Where the next window starts under `window` (None: from the beginning)."""
        now = now or datetime.now(UTC)
        if window.mode == "last_hours":
            return now - timedelta(hours=window.hours)
        history = self.read()
        if history.empty:
            return None
        ends = history.loc[history["verdict"], "window_end"].dropna()
        return None if ends.empty else ends.max().to_pydatetime()

    def append(self, result: DriftResult, model_version: str, source: str = "") -> None:
        """Add one check's row (rewritten atomically: a reader sees the old or the new table)."""
        row = {
            "checked_at": pd.Timestamp.now(tz=UTC),
            "model_version": model_version,
            "window_start": pd.Timestamp(result.window_start) if result.window_start else pd.NaT,
            "window_end": pd.Timestamp(result.window_end) if result.window_end else pd.NaT,
            "verdict": result.verdict,
            "rows_reference": result.rows.reference,
            "rows_current": result.rows.current,
            "rows_reference_sampled": result.rows.reference_sampled,
            "rows_current_sampled": result.rows.current_sampled,
            "rows_labelled": result.rows.labelled,
            "drift_share": result.drift_share,
            "dataset_drift": result.dataset_drift,
            "drifted_columns": json.dumps(result.drifted_columns),
            "quality": json.dumps(result.quality),
            "quality_note": result.quality_note,
            "estimated": json.dumps([e.model_dump() for e in result.estimated]),
            "estimate_note": result.estimate_note,
            "alerts": json.dumps([a.rule for a in result.alerts]),
            "report_path": result.report_path or "",
            "source": source,
        }
        new = pd.DataFrame([row])
        for col in ("window_start", "window_end"):
            new[col] = pd.to_datetime(new[col], utc=True)
        history = self.read()
        table = pd.concat([history, new], ignore_index=True) if len(history) else new
        with atomic_path(self.path) as tmp:
            table.to_parquet(tmp, index=False)
