"""Case 11: the OpenAPI document tells the truth, and a fuzzer finds nothing it hides.

Security is declared only when a token is configured; every status a route returns (400,
401, 413, 422, 503) is documented with its body; a body with too many records gets the
record-limit message. Then a bounded schemathesis run against the app: no server error, no
status or body the document does not declare.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from faultkit import FEATURES, fit, registry_with_champion
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from driftline.apps.serving.app import create_app
from driftline.core.config import Serving
from driftline.core.generator import generate

pytestmark = pytest.mark.faults


def _app(tmp_path: Path, **kw: Any) -> Any:
    registry = registry_with_champion(tmp_path / "registry", fit())
    return create_app(registry, Serving(poll_seconds=0.2, **kw), log_dir=tmp_path / "log")


def test_security_is_declared_only_when_a_token_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(_app(tmp_path / "open")) as client:
        doc = client.get("/openapi.json").json()
    assert "securitySchemes" not in doc.get("components", {})
    for path in doc["paths"].values():
        for op in path.values():
            assert "security" not in op and "401" not in op["responses"]
    predict = doc["paths"]["/predict"]["post"]["responses"]
    assert {"200", "400", "413", "422", "503"} <= set(predict)
    assert {"202", "400", "413", "422", "503"} <= set(
        doc["paths"]["/feedback"]["post"]["responses"]
    )
    assert {"200", "503"} <= set(doc["paths"]["/ready"]["get"]["responses"])

    monkeypatch.setenv("DRIFTLINE_API_TOKEN", "s3cret")
    with TestClient(_app(tmp_path / "closed")) as client:
        doc = client.get("/openapi.json").json()
    assert "HTTPBearer" in doc["components"]["securitySchemes"]
    assert "401" in doc["paths"]["/predict"]["post"]["responses"]
    assert doc["paths"]["/predict"]["post"]["security"] == [{"HTTPBearer": []}]


def test_too_many_records_get_the_record_limit_message(tmp_path: Path) -> None:
    df = generate(10_000, seed=1)[FEATURES]
    recs = df.astype(object).where(df.notna(), None).to_dict(orient="records")
    body = json.dumps({"records": recs}).encode()
    with TestClient(_app(tmp_path)) as client:
        r = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text[:300]
    assert r.json()["detail"][0]["loc"] == ["body", "records"]
    assert "at most 1000" in r.json()["detail"][0]["msg"]


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_fuzzing_finds_no_server_error_and_no_undocumented_response(tmp_path: Path) -> None:
    """Every operation, 30 valid generated requests each (and 30 invalid ones for those with
    a body), seeded."""
    app = _app(tmp_path, max_records=20)
    with TestClient(app):  # runs the lifespan: log writer and hot-swap watcher
        api = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in api.get_all_operations()]
        assert {op.path for op in operations} >= {"/predict", "/feedback", "/ready", "/model"}
        for operation, mode in itertools.product(operations, GenerationMode):
            if mode is GenerationMode.NEGATIVE and operation.method.upper() == "GET":
                continue  # nothing to break: these take no input

            @given(case=operation.as_strategy(mode))
            @settings(
                max_examples=30,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def fuzz(case: Any) -> None:
                case.call_and_validate(checks=CHECKS)

            fuzz()
