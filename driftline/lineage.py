"""What a registered model records about where it came from (ZenML-style lineage).

Pure functions: the training flow gathers the step results, these turn them into the
registry's metadata and the reference sample monitoring compares live traffic against.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from driftline.config import ProjectConfig
from driftline.datasets import DatasetRef, Schema
from driftline.evaluation import EvaluationRecord
from driftline.gates import Blessing

PREDICTION_COLUMN = "probability"


def model_metadata(
    cfg: ProjectConfig,
    data: DatasetRef,
    train: DatasetRef,
    holdout: DatasetRef,
    schema: Schema,
    record: EvaluationRecord,
    params: dict[str, Any],
    blessing: Blessing,
    trigger: str,
    flow_run_id: str | None,
) -> dict[str, Any]:
    """The registry metadata of a trained candidate: data, config, metrics, gate, schema."""
    return {
        "project": cfg.project,
        "candidate": record.name,
        "target": cfg.target.column,
        "positive_label": cfg.target.positive_label,
        "threshold": record.threshold,
        "features": {"numeric": list(schema.numeric), "categorical": list(schema.categorical)},
        "schema": schema.model_dump(mode="json"),
        "metrics": record.metrics,
        "slice_gaps": record.slice_gaps,
        "permutation_importance": [i.model_dump() for i in record.permutation_importance],
        "params": params,
        "blessing": {
            "passed": blessing.blessed,
            "baseline": blessing.baseline_id,
            "reasons": blessing.reasons,
            "checks": [c.model_dump(mode="json") for c in blessing.checks],
        },
        "data": data.model_dump(),
        "data_fingerprint": data.fingerprint,
        "train": train.model_dump(),
        "holdout": holdout.model_dump(),
        "holdout_fingerprint": holdout.fingerprint,
        "config_hash": cfg.fingerprint(),
        "trigger": trigger,
        "flow_run_id": flow_run_id,
    }


def reference_sample(
    model: Any, holdout: pd.DataFrame, schema: Schema, rows: int, seed: int
) -> pd.DataFrame:
    """Holdout rows with the model's probability: what monitoring compares traffic against.

    The holdout, not the training rows: its probabilities are what the model gives data it
    has not seen, so prediction drift compares like with like.
    """
    sample = holdout.sample(n=min(rows, len(holdout)), random_state=seed)
    out = sample[[*schema.features, schema.target]].reset_index(drop=True)
    out[PREDICTION_COLUMN] = model.predict_proba(out[schema.features])[:, 1]
    return out
