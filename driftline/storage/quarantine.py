"""Quarantine: a rejected batch is moved out of the datasets folder (never deleted), so no
later stage can train on it, and kept with its validation report for whoever fixes the data.

    <state>/quarantine/<fingerprint>/  data.parquet, validation.json, sources.json[, RELEASED]
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from driftline.core.atomic import write_atomic
from driftline.core.config import ProjectConfig
from driftline.core.contracts import DatasetRef


class Quarantine:
    """The quarantine folder of one state folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def for_config(cls, cfg: ProjectConfig) -> Quarantine:
        return cls(cfg.state_path / "quarantine")

    def held(self, fingerprint: str) -> Path:
        return self.folder / fingerprint

    def locate(self, dataset: DatasetRef) -> Path:
        """The Parquet file, or its quarantined copy when an earlier run rejected the same batch.

        Ingestion is cached on the source bytes, so re-running on rejected data hands back a
        path that quarantine has emptied; validating the held copy again lets a corrected
        suite release it.
        """
        path = Path(dataset.path)
        held = self.held(dataset.fingerprint) / "data.parquet"
        return held if not path.exists() and held.exists() else path

    def hold(self, dataset: DatasetRef, data: Path, result_path: Path) -> Path:
        """Move the batch and a record of its sources in, with its validation report."""
        dest = self.held(dataset.fingerprint)
        dest.mkdir(parents=True, exist_ok=True)
        if data != dest / "data.parquet":
            shutil.move(data, dest / "data.parquet")
        shutil.copy2(result_path, dest / "validation.json")
        record = {
            "fingerprint": dataset.fingerprint,
            "rows": dataset.rows,
            "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "dataset_path": dataset.path,
            "sources": [
                {"path": p, "bytes": Path(p).stat().st_size if Path(p).exists() else None}
                for p in dataset.sources
            ],
        }
        write_atomic(dest / "sources.json", json.dumps(record, indent=2) + "\n")
        return dest

    def release(self, held: Path, dataset: DatasetRef) -> None:
        """Put a once-rejected batch that now passes back where downstream stages expect it."""
        target = Path(dataset.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(held, target)
        note = f"released {datetime.now(UTC).isoformat(timespec='seconds')} to {target}\n"
        (held.parent / "RELEASED").write_text(note)
