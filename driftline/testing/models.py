"""Model metadata for tests and benchmarks: what the training flow records for a churn model."""

from __future__ import annotations

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
