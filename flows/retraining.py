"""Retraining: started by a drift/performance event, a schedule, or a person.

It assembles a training set by the configured strategy, validates it with the project's
suite, then runs the training flow's own steps (`fit_gate_promote`): gated against the
champion, promoted only when blessed. One retraining per model at a time, and a cooldown:
a burst of alerts yields one retraining, and each duplicate is recorded as skipped.
"""

from __future__ import annotations

from datetime import timedelta

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from driftline.core.config import DEFAULT_CONFIG_PATH, load_config
from driftline.core.contracts import RetrainingOutcome
from driftline.orchestration.events import emit_run_failed
from driftline.orchestration.flow_runs import flow_run_state
from driftline.orchestration.run_folders import run_dir
from driftline.orchestration.task_runners import task_runner
from driftline.storage.ledger import RetrainingLedger
from flows.training import fit_gate_promote
from tasks.retrain import Strategy, assemble_training_set
from tasks.validate import validate


def _skip(
    ledger: RetrainingLedger, project: str, reason: str, event_id: str | None, detail: str
) -> RetrainingOutcome:
    get_run_logger().info("retraining skipped: %s", detail)
    ledger.record(
        status="skipped",
        reason=reason,
        event_id=event_id,
        detail=detail,
        flow_run_id=str(flow_run.id),
    )
    create_markdown_artifact(
        key=f"{project}-retraining",
        markdown=f"# Retraining skipped\n\n- trigger: `{reason}`\n- event: `{event_id}`\n"
        f"- why: {detail}\n",
        description="Retraining skipped",
    )
    return RetrainingOutcome(status="skipped", reason=reason, detail=detail)


@flow(name="retraining", on_failure=[emit_run_failed], log_prints=True)
def retraining(
    config_path: str = str(DEFAULT_CONFIG_PATH),
    reason: str = "manual",
    event_id: str | None = None,
    recent: str | None = None,
    strategy: Strategy | None = None,
    ignore_cooldown: bool = False,
) -> RetrainingOutcome:
    """Retrain the project's model on reference + recent data, gate it, promote if blessed.

    Args:
        config_path: Project config file (YAML).
        reason: What started it: an alert event's name, schedule, or manual.
        event_id: The id of the alert event that started it.
        recent: Labelled batch file/glob (default: the labelled prediction log).
        strategy: combined, recent or sliding (default: the config's).
        ignore_cooldown: Retrain even within the cooldown after the last retraining.
    """
    cfg = load_config(config_path)
    policy = cfg.monitoring.retraining
    ledger = RetrainingLedger.for_config(cfg)
    with ledger.exclusive() as held:
        if not held:
            return _skip(
                ledger, cfg.project, reason, event_id, "another retraining of this model is running"
            )
        for closed in ledger.resolve_unfinished(flow_run_state, current=str(flow_run.id)):
            get_run_logger().warning(
                "retraining %s never recorded its end: %s (%s)",
                closed["flow_run_id"],
                closed["status"],
                closed["detail"],
            )
        left = ledger.cooldown_left(timedelta(minutes=policy.cooldown_minutes))
        if left and not ignore_cooldown:
            last = ledger.last_retraining()
            return _skip(
                ledger,
                cfg.project,
                reason,
                event_id,
                f"cooldown: last retraining {last['status']} at {last['time']} "
                f"({left.total_seconds():.0f} s left)",
            )
        ledger.record(
            status="started", reason=reason, event_id=event_id, flow_run_id=str(flow_run.id)
        )
        try:
            ingested = assemble_training_set(cfg, strategy or policy.strategy, recent)
            validate(cfg, ingested, str(run_dir(cfg.state_path) / "validation"))
            outcome = fit_gate_promote.with_options(task_runner=task_runner(cfg))(
                cfg, ingested, trigger=reason
            )
        except Exception as exc:  # recorded so a failed retraining does not start a cooldown
            ledger.record(
                status="failed",
                reason=reason,
                event_id=event_id,
                error=str(exc),
                flow_run_id=str(flow_run.id),
            )
            raise
        ledger.record(
            status="completed",
            reason=reason,
            event_id=event_id,
            version=outcome.version,
            outcome=outcome.outcome,
            flow_run_id=str(flow_run.id),
        )
    return RetrainingOutcome(
        status="completed", reason=reason, detail=outcome.outcome, training=outcome
    )
