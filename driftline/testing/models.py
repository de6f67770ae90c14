"""Models and metadata for tests and benchmarks: what the training flow records for a churn
model, and a model slowed down on purpose."""

from __future__ import annotations

import time
from typing import Any

from driftline.core.contracts import Blessing
from driftline.core.generator import SCHEMA
from driftline.core.metadata import Lineage, ModelMetadata


def churn_metadata(**fields: Any) -> ModelMetadata:
    """Metadata of a model of the generated churn data; `fields` override any field."""
    base: dict[str, Any] = {
        "project": "churn-demo",
        "candidate": "logistic_regression",
        "table_schema": SCHEMA,
        "positive_label": 1,
        "metrics": {"roc_auc": 0.8},
        "blessing": Blessing(
            blessed=True,
            candidate_id="logistic_regression",
            baseline_id=None,
            checks=[],
            reasons=[],
        ),
        "lineage": Lineage(flow_run_id="run-1", config_hash="c" * 16),
    }
    return ModelMetadata(**(base | fields))


class Slowed:
    """A fitted model that takes `delay` seconds more per call and fails on rows whose
    `column` is `poison`: concurrent requests pile up into batches (tests of the server's
    micro-batching), and one of them can carry a record the model cannot score."""

    def __init__(self, model: Any, delay: float, column: str, poison: str) -> None:
        self.model = model
        self.delay = delay
        self.column = column
        self.poison = poison

    @property
    def classes_(self) -> Any:
        return self.model.classes_

    def _check(self, frame: Any) -> None:
        time.sleep(self.delay)
        if (frame[self.column] == self.poison).any():
            raise ValueError(f"column {self.column!r}: {self.poison!r} cannot be scored")

    def predict_proba(self, frame: Any) -> Any:
        self._check(frame)
        return self.model.predict_proba(frame)

    def predict(self, frame: Any) -> Any:
        self._check(frame)
        return self.model.predict(frame)
