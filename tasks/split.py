"""Split: the ingested dataset → a training set and a holdout, both content-addressed Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task

from driftline.core.config import ProjectConfig
from driftline.core.contracts import DatasetRef, Ingested, Split
from driftline.core.datasets import write_dataset
from driftline.core.splitting import split_frame, target_summary
from tasks.policies import cached_on, retry_on_io


def _shapes(parameters: dict[str, Any]) -> dict[str, Any]:
    """The data, the champion's rows, the split settings and the state folder shape a split."""
    cfg: ProjectConfig = parameters["cfg"]
    ingested: Ingested = parameters["ingested"]
    seen: DatasetRef | None = parameters.get("seen")
    return {
        "data": ingested.dataset.fingerprint,
        "seen": seen.fingerprint if seen else None,
        "target": cfg.target.model_dump(mode="json"),
        "timestamp_column": cfg.timestamp_column,
        "split": cfg.training.model_dump(mode="json", include={"holdout_fraction", "seed"}),
        "strategy": cfg.split.model_dump(mode="json"),
        "batches": [ingested.dataset.sources, ingested.dataset.batch_rows],
        "arrival_order": ingested.arrival_order,
        "state": str(cfg.state_path),
    }


@task(
    name="split",
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=retry_on_io,
    cache_policy=cached_on(_shapes),
    persist_result=True,
    result_serializer="json",  # read back without unpickling (as a model file is)
)
def split(cfg: ProjectConfig, ingested: Ingested, seen: DatasetRef | None = None) -> Split:
    """Hold out the rows every model of the run is scored on (`driftline.core.splitting`);
    `seen` is the champion's training set, whose rows stay out of the holdout."""
    schema = ingested.table_schema
    columns = [*schema.features, schema.target]
    parts = split_frame(
        ingested.dataset.load(),
        cfg,
        columns,
        seen.load(columns=columns) if seen else None,
        schema.task,
        ingested.dataset,
        ingested.arrival_order,
    )
    folder = cfg.state_path / "datasets"
    parent = [Path(ingested.dataset.path)]
    return Split(
        train=write_dataset(parts.train.reset_index(drop=True), folder, parent),
        holdout=write_dataset(parts.holdout.reset_index(drop=True), folder, parent),
        strategy=parts.strategy,
        time_cutoff=parts.time_cutoff,
        holdout_start=parts.holdout_start,
        holdout_end=parts.holdout_end,
        holdout_files=parts.holdout_files,
        target_balance={
            "train": target_summary(parts.train[schema.target], schema.task),
            "holdout": target_summary(parts.holdout[schema.target], schema.task),
        },
    )
