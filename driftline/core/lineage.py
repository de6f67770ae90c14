"""What a registered model records about where it came from (ZenML-style lineage).

The training flow gathers the step results, `model_metadata` turns them into the version's
typed metadata, and `build_stamp` adds what the registry records when it pickles a model:
the library versions and the code commit. `reference_sample` is what monitoring compares
live traffic against.
"""

from __future__ import annotations

import platform
import subprocess
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import pandas as pd

from driftline.core.config import ProjectConfig
from driftline.core.contracts import (
    Blessing,
    DatasetRef,
    EvaluationRecord,
    Schema,
    SearchSummary,
    Split,
)
from driftline.core.metadata import CodeVersion, Lineage, ModelMetadata
from driftline.core.scoring import output_columns, predict, prediction_column

PREDICTION_COLUMN = prediction_column("binary")

_LIBRARIES = {
    "sklearn": "scikit-learn",
    "pandas": "pandas",
    "numpy": "numpy",
    "joblib": "joblib",
    "prefect": "prefect",
    "driftline": "driftline",
}


def model_metadata(
    cfg: ProjectConfig,
    data: DatasetRef,
    split: Split,
    schema: Schema,
    record: EvaluationRecord,
    params: dict[str, Any],
    blessing: Blessing,
    trigger: str,
    flow_run_id: str | None,
    warnings: list[str] | None = None,
    fit_seconds: float | None = None,
    search: SearchSummary | None = None,
) -> ModelMetadata:
    """The metadata of a trained candidate: data, config, metrics, gate, schema, and the
    run's warnings (possible leaks), and how its search used its budget."""
    return ModelMetadata(
        project=cfg.project,
        candidate=record.name,
        task=schema.task,
        table_schema=schema,
        positive_label=cfg.target.positive_label if schema.task == "binary" else None,
        threshold=record.threshold,
        metrics=record.metrics,
        slice_gaps=record.slice_gaps,
        permutation_importance=record.permutation_importance,
        params=params,
        search=search,
        blessing=blessing,
        data=data,
        train=split.train,
        holdout=split.holdout,
        split_strategy=split.strategy,
        time_cutoff=split.time_cutoff,
        holdout_start=split.holdout_start,
        holdout_end=split.holdout_end,
        holdout_files=split.holdout_files,
        target_balance=split.target_balance,
        fit_seconds=fit_seconds,
        lineage=Lineage(flow_run_id=flow_run_id, trigger=trigger, config_hash=cfg.fingerprint()),
        warnings=warnings or [],
        calibration=record.calibration,
        per_class=record.per_class,
    )


def same_build(
    metadata: ModelMetadata, data: str, config_hash: str, code: CodeVersion | None
) -> bool:
    """Whether a version was built from this data fingerprint, config hash and code version
    (the commit and whether the tree was dirty: edits at one commit are not told apart)."""
    return (
        metadata.data is not None
        and metadata.data.fingerprint == data
        and metadata.lineage.config_hash == config_hash
        and metadata.lineage.code == code
    )


def build_stamp(lineage: Lineage) -> Lineage:
    """`lineage` with the library versions and code commit of this process filled in."""
    return lineage.model_copy(
        update={"libraries": lineage.libraries or libraries(), "code": lineage.code or git_commit()}
    )


def libraries() -> dict[str, str | None]:
    """Library versions a model is built with: unpickling under others may fail or differ."""
    env: dict[str, str | None] = {"python": platform.python_version()}
    for key, dist in _LIBRARIES.items():
        try:
            env[key] = dist_version(dist)
        except PackageNotFoundError:
            env[key] = None
    return env


def git_commit() -> CodeVersion | None:
    """The commit of the code that built the model, when it runs from a git checkout.

    --no-optional-locks: reading must never take the index lock a concurrent commit needs.
    """
    here = str(Path(__file__).resolve().parent)

    def git(*args: str) -> str:
        cmd = ["git", "--no-optional-locks", "-C", here, *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=True).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        dirty = bool(git("status", "--porcelain", "--untracked-files=no").strip())
    except (OSError, subprocess.SubprocessError):
        return None
    return CodeVersion(commit=commit, dirty=dirty)


def reference_sample(
    model: Any, holdout: pd.DataFrame, schema: Schema, rows: int, seed: int
) -> pd.DataFrame:
    """Holdout rows with the model's prediction (`prediction_column`): what monitoring
    compares traffic against.

    The holdout, not the training rows: its predictions are what the model gives data it
    has not seen, so prediction drift compares like with like.
    """
    sample = holdout.sample(n=min(rows, len(holdout)), random_state=seed)
    out = sample[[*schema.features, schema.target]].reset_index(drop=True)
    p = predict(model, out[schema.features], schema.task)
    out[prediction_column(schema.task)] = output_columns(p, schema.task)[
        prediction_column(schema.task)
    ]
    return out
