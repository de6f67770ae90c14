"""The deployment definitions: valid specs, explicit jinja trigger parameters, crons from the
config, distinct names, events the trigger matches, and `serve-flows --param` parsing."""

from __future__ import annotations

import inspect
import uuid
from pathlib import Path
from typing import Any

import pytest
import typer
from conftest import write_project

from deployments.definitions import (
    ENTRYPOINTS,
    SCHEDULE_REASON,
    deployment_specs,
    load_flow,
    retraining_trigger,
    runner_deployments,
)
from driftline.apps.cli.flows import parse_params
from driftline.core.config import ProjectConfig, load_config
from driftline.orchestration.events import (
    DRIFT_DETECTED,
    MODEL_PROMOTED,
    PERFORMANCE_DEGRADED,
    emit,
)


@pytest.fixture
def crons(tmp_path: Path) -> tuple[ProjectConfig, Path]:
    path = write_project(
        tmp_path,
        n_rows=200,
        monitoring={"cron": "*/7 * * * *", "retraining": {"cron": "15 4 * * 1"}},
    )
    return load_config(path), path


def test_specs_name_real_flows_and_their_parameters(crons: tuple[ProjectConfig, Path]) -> None:
    cfg, path = crons
    specs = deployment_specs(cfg, path)
    assert set(specs) == set(ENTRYPOINTS.values())
    for entrypoint, spec in specs.items():
        flow = load_flow(entrypoint)
        accepted = set(inspect.signature(flow.fn).parameters)
        assert set(spec["parameters"]) <= accepted, entrypoint
        assert spec["parameters"]["config_path"] == str(path.resolve())
        for schedule in spec.get("schedules", []):
            assert set(schedule.parameters) <= accepted, entrypoint
        for trigger in spec.get("triggers", []):
            assert set(trigger.parameters) <= accepted, entrypoint


def test_deployment_names_are_distinct_and_carry_the_project(
    crons: tuple[ProjectConfig, Path],
) -> None:
    cfg, path = crons
    names = [spec["name"] for spec in deployment_specs(cfg, path).values()]
    assert len(set(names)) == len(names) == len(ENTRYPOINTS)
    assert all(name.startswith(f"{cfg.project}-") for name in names)


def test_crons_come_from_the_config(crons: tuple[ProjectConfig, Path]) -> None:
    cfg, path = crons
    specs = deployment_specs(cfg, path)
    (monitoring,) = specs[ENTRYPOINTS["monitoring"]]["schedules"]
    (retraining,) = specs[ENTRYPOINTS["retraining"]]["schedules"]
    assert monitoring.cron == "*/7 * * * *"
    assert retraining.cron == "15 4 * * 1"
    assert retraining.parameters == {"reason": SCHEDULE_REASON}
    assert "schedules" not in specs[ENTRYPOINTS["training"]]


def _templates(value: Any) -> list[Any]:
    """Every parameter value that holds a jinja expression, at any depth."""
    if isinstance(value, dict):
        if value.get("__prefect_kind") == "jinja":
            return [value]
        return [t for v in value.values() for t in _templates(v)]
    return [value] if isinstance(value, str) and "{{" in value else []


def test_trigger_parameters_use_the_explicit_jinja_form(project: ProjectConfig) -> None:
    trigger = retraining_trigger(project)
    templates = _templates(trigger.parameters)
    assert templates, "the trigger templates its parameters from the event"
    # A bare "{{ event.id }}" is JSON-encoded by Prefect and fails the action (InvalidJinja).
    assert all(isinstance(t, dict) for t in templates), templates
    assert trigger.parameters["event_id"]["template"] == "{{ event.id }}"
    assert trigger.parameters["reason"]["template"] == "{{ event.event }}"


def test_trigger_matches_this_projects_alerts_only(project: ProjectConfig) -> None:
    from prefect.server.events.schemas.automations import EventTrigger
    from prefect.server.events.schemas.events import Event

    trigger = retraining_trigger(project)
    server_trigger = EventTrigger.model_validate(
        trigger.model_dump(include=set(EventTrigger.model_fields))
    )

    def covers(event: str, resource_id: str) -> bool:
        received = Event(
            id=uuid.uuid4(),
            occurred="2026-01-01T00:00:00Z",
            event=event,
            resource={"prefect.resource.id": resource_id},
        ).receive()
        return server_trigger.covers(received)

    model = f"driftline.model.{project.project}"
    assert covers(DRIFT_DETECTED, model)
    assert covers(PERFORMANCE_DEGRADED, model)
    assert not covers(MODEL_PROMOTED, model)
    assert not covers(DRIFT_DETECTED, "driftline.model.another-project")


def test_emitted_alert_has_the_resource_and_payload_the_trigger_expects(
    project: ProjectConfig,
) -> None:
    from prefect.events.clients import AssertingEventsClient
    from prefect.events.worker import EventsWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # An API URL nobody listens on: events go to the asserting client, no server starts.
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        EventsWorker.set_client_override(AssertingEventsClient)
        try:
            worker = EventsWorker.instance()
            emit(DRIFT_DETECTED, project.project, {"drift_share": 0.5, "version": "v0001"})
            worker.drain()
        finally:
            EventsWorker.set_client_override(None)
    (event,) = AssertingEventsClient.last.events
    assert event.event == DRIFT_DETECTED
    assert event.resource.id == f"driftline.model.{project.project}"
    assert event.payload == {"drift_share": 0.5, "version": "v0001"}


def test_extra_parameters_reach_one_deployment(crons: tuple[ProjectConfig, Path]) -> None:
    cfg, path = crons
    specs = deployment_specs(cfg, path, {"retraining": {"recent": "/data/labelled"}})
    assert specs[ENTRYPOINTS["retraining"]]["parameters"]["recent"] == "/data/labelled"
    assert "recent" not in specs[ENTRYPOINTS["monitoring"]]["parameters"]
    with pytest.raises(ValueError, match="no deployment named"):
        deployment_specs(cfg, path, {"retrain": {"recent": "x"}})


def test_runner_deployments_are_served_by_module_path(crons: tuple[ProjectConfig, Path]) -> None:
    cfg, path = crons
    deployments = {d.name: d for d in runner_deployments(cfg, path)}
    retraining = deployments[f"{cfg.project}-retraining"]
    assert retraining.entrypoint == "flows.retraining.retraining"
    assert retraining.concurrency_limit == 1
    assert [s.schedule.cron for s in retraining.schedules] == ["15 4 * * 1"]
    assert len(retraining.triggers) == 1
    monitoring = deployments[f"{cfg.project}-monitoring"]
    assert [s.schedule.cron for s in monitoring.schedules] == ["*/7 * * * *"]
    assert deployments[f"{cfg.project}-scoring"].entrypoint == "flows.scoring.batch_scoring"


def test_serve_flows_param_parsing() -> None:
    assert parse_params(["retraining.recent=a=b.csv", "training.search_budget=2"]) == {
        "retraining": {"recent": "a=b.csv"},
        "training": {"search_budget": 2},
    }
    for bad in ["recent=x", "retraining.recent", ".recent=x"]:
        with pytest.raises(typer.BadParameter):
            parse_params([bad])
