"""prefect.yaml: generated from the deployment definitions (the committed file is current, its
triggers and schedules are the definitions' own), names apart from `serve`'s, UI parameter
forms complete, and the README's production commands all run by the end-to-end test."""

from __future__ import annotations

import re
import typing
from typing import Any

import pytest
import yaml
from conftest import ROOT
from prefect.cli.deploy._schedules import _schedule_config_to_deployment_schedule
from prefect.cli.deploy._triggers import DeploymentTriggerAdapter
from prefect.utilities.callables import parameter_schema
from test_production_e2e import DOC_COMMANDS

from deployments.definitions import deployment_specs, load_flow
from deployments.prefect_yaml import NAME_SUFFIX, WORK_POOL, prefect_yaml
from driftline.core.config import load_config

PREFECT_YAML = ROOT / "prefect.yaml"
DOC = ROOT / "README.md"


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    return yaml.safe_load(PREFECT_YAML.read_text())


@pytest.fixture(scope="module")
def specs() -> dict[str, dict[str, Any]]:
    return deployment_specs(load_config(ROOT / "driftline.yaml"), ROOT / "driftline.yaml")


def _by_entrypoint(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["entrypoint"]: d for d in document["deployments"]}


def test_committed_prefect_yaml_is_the_generated_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert PREFECT_YAML.read_text() == prefect_yaml("driftline.yaml"), (
        "prefect.yaml is stale: python -m deployments.prefect_yaml > prefect.yaml"
    )


def test_every_definition_is_deployed_on_the_pool_under_its_own_name(
    committed: dict[str, Any], specs: dict[str, dict[str, Any]]
) -> None:
    deployed = _by_entrypoint(committed)
    assert set(deployed) == set(specs)
    served = {spec["name"] for spec in specs.values()}
    for entrypoint, spec in specs.items():
        entry = deployed[entrypoint]
        assert entry["name"] == spec["name"] + NAME_SUFFIX
        assert entry["name"] not in served
        assert entry["work_pool"] == {"name": WORK_POOL}
        assert entry["parameters"]["config_path"] == "driftline.yaml"
    (pull,) = committed["pull"]
    assert "prefect.deployments.steps.set_working_directory" in pull


def test_triggers_and_schedules_are_the_definitions(
    committed: dict[str, Any], specs: dict[str, dict[str, Any]]
) -> None:
    """Parsed the way `prefect deploy` parses them, they equal the definitions' objects."""
    deployed = _by_entrypoint(committed)
    for entrypoint, spec in specs.items():
        entry = deployed[entrypoint]
        triggers = [DeploymentTriggerAdapter.validate_python(t) for t in entry.get("triggers", [])]
        assert triggers == spec.get("triggers", []), entrypoint
        schedules = [_schedule_config_to_deployment_schedule(s) for s in entry.get("schedules", [])]
        expected = spec.get("schedules", [])
        assert len(schedules) == len(expected), entrypoint
        for got, want in zip(schedules, expected, strict=True):
            assert got["schedule"].cron == want.cron
            assert (got.get("slug"), got.get("parameters", {})) == (want.slug, want.parameters)
        limit = spec.get("concurrency_limit")
        want_limit = limit.model_dump(mode="json", exclude_unset=True) if limit else None
        assert entry.get("concurrency_limit") == want_limit, entrypoint


DEPLOYED = sorted(_by_entrypoint(yaml.safe_load(PREFECT_YAML.read_text())))


def _literal_params(fn: Any) -> set[str]:
    """Parameters whose annotation has a Literal anywhere (they should be a drop-down)."""

    def has_literal(tp: Any) -> bool:
        return typing.get_origin(tp) is typing.Literal or any(
            has_literal(a) for a in typing.get_args(tp)
        )

    hints = typing.get_type_hints(fn, include_extras=True)
    return {name for name, tp in hints.items() if name != "return" and has_literal(tp)}


def _has_enum(schema: Any) -> bool:
    if isinstance(schema, dict):
        return "enum" in schema or any(_has_enum(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_has_enum(v) for v in schema)
    return False


def _form(entrypoint: str) -> tuple[Any, dict[str, Any]]:
    flow = load_flow(entrypoint)
    return flow, parameter_schema(flow).model_dump()


@pytest.mark.parametrize("entrypoint", DEPLOYED)
def test_ui_form_has_titles_defaults_and_choices(entrypoint: str) -> None:
    """What `prefect deploy` sends as parameter_openapi_schema: every field titled, optional
    ones with a default, Literal-typed ones with an enum (a drop-down in the UI)."""
    flow, schema = _form(entrypoint)
    properties = schema["properties"]
    assert properties, entrypoint
    required = set(schema.get("required", []))
    for name, prop in properties.items():
        assert prop.get("title"), (entrypoint, name)
        assert "default" in prop or name in required, (entrypoint, name)
    for name in _literal_params(flow.fn):
        assert _has_enum(properties[name]), (entrypoint, name)
    assert flow.description, entrypoint


@pytest.mark.parametrize("entrypoint", DEPLOYED)
def test_ui_form_has_descriptions(entrypoint: str) -> None:
    _, schema = _form(entrypoint)
    missing = [name for name, prop in schema["properties"].items() if not prop.get("description")]
    assert not missing, f"{entrypoint}: no description in the UI form for {missing}"


def _doc_commands() -> tuple[list[str], list[str]]:
    """The commands and the `export`ed settings of the README's "Run it like production"."""
    section = DOC.read_text().split("## Run it like production", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", section, flags=re.S)
    lines = [ln.strip() for block in blocks for ln in block.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    exports = [ln for ln in lines if ln.startswith("export ")]
    return [ln for ln in lines if not ln.startswith("export ")], exports


def test_every_documented_command_is_run_by_the_end_to_end_test() -> None:
    commands, exports = _doc_commands()
    as_doc = {re.sub(r"\{(\w+)\}", r"<\1>", c) for c in DOC_COMMANDS}
    assert set(commands) == as_doc
    assert {e.split("=")[0].removeprefix("export ") for e in exports} <= {
        "PREFECT_HOME",
        "PREFECT_API_URL",
        "PREFECT_API_DATABASE_CONNECTION_URL",
        "PREFECT_SERVER_ANALYTICS_ENABLED",
    }


def test_generator_refuses_what_it_cannot_write() -> None:
    from deployments.prefect_yaml import deployment_entry

    with pytest.raises(ValueError, match="paused"):
        deployment_entry("flows/x.py:x", {"name": "x", "paused": True}, "driftline.yaml")
