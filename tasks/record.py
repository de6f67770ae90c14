"""What a person looks at after a training run: its report in the index, its reference on the
dashboard, and its copy in MLflow when `tracking.mlflow_uri` is set.

None of these is the source of truth (the registry is), so a failing mirror is a warning in
the run's log, never a failed training.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from driftline.core.atomic import write_atomic
from driftline.core.config import ProjectConfig
from driftline.core.contracts import Blessing, EvaluationRecord, TrainedCandidate
from driftline.core.training_report import training_report
from driftline.storage.dashboard import Dashboard, promotion_lines
from driftline.storage.registry import ModelRegistry, ModelVersion
from driftline.storage.report_index import ReportIndex


@task(name="record-training", cache_policy=NO_CACHE)
def record_training(
    cfg: ProjectConfig,
    version: ModelVersion,
    trained: dict[str, TrainedCandidate],
    records: list[EvaluationRecord],
    best: str,
    blessing: Blessing,
    reference_path: str,
    out_dir: str,
) -> str:
    """Write the run's report and index it, add its reference to the dashboard, mirror it to
    MLflow; returns the report's path."""
    logger = get_run_logger()
    folder = Path(out_dir)
    page = folder / "training-report.html"
    write_atomic(
        page, training_report(cfg.project, version.version, records, best, blessing, folder)
    )
    outcome = "blessed" if blessing.blessed else "rejected by the gates"
    ReportIndex.for_config(cfg).add("training", outcome, f"{version.version} ({best})", page)
    audit = ModelRegistry.for_config(cfg).audit_log()
    try:
        Dashboard.for_config(cfg, version.metadata.table_schema.task).add_reference(
            version.version, pd.read_parquet(reference_path), promotion_lines(audit)
        )
    except (OSError, ValueError) as exc:
        logger.warning("dashboard not updated with %s: %s", version.version, exc)
    if cfg.mlflow_uri is not None:
        mirror_to_mlflow(cfg, version, trained, records, best, blessing)
    return str(page)


def mirror_to_mlflow(
    cfg: ProjectConfig,
    version: ModelVersion,
    trained: dict[str, TrainedCandidate],
    records: list[EvaluationRecord],
    best: str,
    blessing: Blessing,
) -> None:
    from mlflow.exceptions import MlflowException

    from driftline.storage.mlflow_mirror import MlflowMirror, run_tags

    logger = get_run_logger()
    try:
        mirror = MlflowMirror.for_config(cfg)
        assert mirror is not None
        tags = run_tags(cfg, str(flow_run.id) if flow_run.id else None, {})
        run_id = mirror.log_training(version.version, trained, records, best, blessing, tags)
        number = mirror.register_version(
            version.version, version.uri, run_id, {"status": version.status}
        )
        logger.info("mirrored %s to MLflow (%s) as version %s", version.version, mirror.uri, number)
    except (MlflowException, OSError) as exc:
        logger.warning("MLflow mirror of %s failed (%s): %s", version.version, cfg.mlflow_uri, exc)
