"""Every deployment of a project, defined once: schedules, event triggers, concurrency.

`deployment_specs` is the single source: entrypoint -> keyword arguments of
`flow.to_deployment`, as plain data plus Prefect's own trigger, schedule and concurrency
objects (so prefect.yaml can be generated from it). `runner_deployments` turns the specs
into `RunnerDeployment`s for `prefect.serve` (`driftline serve-flows`).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.events import DeploymentEventTrigger
from prefect.schedules import Cron
from prefect.types.entrypoint import EntrypointType

from driftline.core.config import ProjectConfig
from driftline.orchestration.events import DRIFT_DETECTED, PERFORMANCE_DEGRADED

# Short name (the deployment is `<project>-<short name>`) -> flow entrypoint.
ENTRYPOINTS: dict[str, str] = {
    "training": "flows/training.py:training",
    "monitoring": "flows/monitoring.py:monitoring",
    "retraining": "flows/retraining.py:retraining",
    "scoring": "flows/scoring.py:batch_scoring",
}

SCHEDULE_REASON = "schedule"


def jinja(template: str) -> dict[str, str]:
    """Prefect JSON-encodes a bare "{{ expr }}" parameter; a UUID or datetime then breaks the
    action (InvalidJinja). The explicit jinja form renders it as a plain string instead."""
    return {"__prefect_kind": "jinja", "template": template}


def retraining_trigger(cfg: ProjectConfig) -> DeploymentEventTrigger:
    """Start retraining on each drift or performance alert about this project's model.

    The run's `reason` is the event's name and `event_id` its id; the other parameters are
    the deployment's defaults.
    """
    return DeploymentEventTrigger(
        name=f"retrain {cfg.project} on drift or degraded performance",
        match={"prefect.resource.id": f"driftline.model.{cfg.project}"},
        expect={DRIFT_DETECTED, PERFORMANCE_DEGRADED},
        parameters={
            "reason": jinja("{{ event.event }}"),
            "event_id": jinja("{{ event.id }}"),
        },
    )


def deployment_specs(
    cfg: ProjectConfig,
    config_path: str | Path,
    parameters: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Flow entrypoint -> keyword arguments of `flow.to_deployment`.

    `parameters` adds default parameters per short name (e.g. `{"retraining": {"recent":
    "feedback/"}}`). Retraining runs one at a time: later alerts wait for the slot, then find
    the cooldown and record a skip. Monitoring runs on `monitoring.cron` (a check still
    running when the next is due makes that one cancelled: the next window covers it);
    scheduled retraining on `monitoring.retraining.cron` with reason "schedule".
    """
    extra = dict(parameters or {})
    unknown = sorted(set(extra) - set(ENTRYPOINTS))
    if unknown:
        raise ValueError(f"no deployment named {unknown}; known: {sorted(ENTRYPOINTS)}")
    base = {"config_path": str(Path(config_path).resolve())}
    specs: dict[str, dict[str, Any]] = {
        "training": {
            "description": "Train, evaluate, gate and promote (start it from the UI).",
        },
        "monitoring": {
            "schedules": [Cron(cfg.monitoring.cron, slug="monitoring")],
            "concurrency_limit": ConcurrencyLimitConfig(
                limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
            ),
            "description": "Compare live traffic with the champion's reference; alert on drift.",
        },
        "retraining": {
            "schedules": [
                Cron(
                    cfg.monitoring.retraining.cron,
                    slug="scheduled-retraining",
                    parameters={"reason": SCHEDULE_REASON},
                )
            ],
            "triggers": [retraining_trigger(cfg)],
            "concurrency_limit": ConcurrencyLimitConfig(
                limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE
            ),
            "description": "Retrain on drift/performance events or on schedule; gate; promote.",
        },
        "scoring": {
            "description": "Score a file or glob in batch with the champion.",
        },
    }
    return {
        ENTRYPOINTS[short]: {
            "name": f"{cfg.project}-{short}",
            "parameters": {**base, **extra.get(short, {})},
            "tags": [cfg.project],
            **spec,
        }
        for short, spec in specs.items()
    }


def load_flow(entrypoint: str) -> Any:
    """The flow object of a `path/to/module.py:function` entrypoint, imported as a module
    (the project is installed), so it does not depend on the working directory."""
    path, _, name = entrypoint.partition(":")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    return getattr(module, name)


def runner_deployments(
    cfg: ProjectConfig,
    config_path: str | Path,
    parameters: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[RunnerDeployment]:
    """The specs as `RunnerDeployment`s (`flow.to_deployment(**spec)`) for `prefect.serve`;
    served runs load their flow by module path, whatever the server's working directory."""
    return [
        load_flow(entrypoint).to_deployment(**spec, entrypoint_type=EntrypointType.MODULE_PATH)
        for entrypoint, spec in deployment_specs(cfg, config_path, parameters).items()
    ]
