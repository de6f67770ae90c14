"""The prediction API: contract, bad payloads, auth, hot swap, prediction log, shadow, canary."""

from __future__ import annotations

import json
import math
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.pipeline import Pipeline

from driftline.apps.serving.app import create_app
from driftline.apps.serving.routing import key_fraction
from driftline.core.candidates import build_pipeline
from driftline.core.config import FeatureSelection, Serving
from driftline.core.contracts import Schema
from driftline.core.generator import CATEGORICAL, ID, NUMERIC, SCHEMA, generate
from driftline.core.metadata import ModelMetadata
from driftline.storage.prediction_log import (
    import_feedback,
    read_labelled_log,
    read_prediction_log,
)
from driftline.storage.registry import ModelRegistry
from driftline.testing.models import churn_metadata
from driftline.testing.serving import wait_ready

FEATURES = [*NUMERIC, *CATEGORICAL]


def fit_model(seed: int, c: float = 1.0) -> Pipeline:
    """The project's own logistic-regression pipeline on generated data."""
    df = generate(2000, seed=seed)
    pipeline = build_pipeline("logistic_regression", SCHEMA, FeatureSelection(), seed)
    return pipeline.set_params(model__C=c).fit(df[FEATURES], df.churned)


def metadata(threshold: float = 0.5, **fields: Any) -> ModelMetadata:
    return churn_metadata(threshold=threshold, metrics={"roc_auc": 0.8}, **fields)


@pytest.fixture(scope="module")
def models() -> list[Pipeline]:
    return [fit_model(1), fit_model(2, c=0.01)]


@pytest.fixture
def registry(tmp_path: Path, models: list[Pipeline]) -> ModelRegistry:
    reg = ModelRegistry(tmp_path / "registry")
    v1 = reg.register(models[0], metadata(), status="blessed", card="# churn v1")
    reg.promote(v1.version, reason="first")
    return reg


def records(n: int, seed: int = 7, with_id: bool = False) -> list[dict[str, Any]]:
    df = generate(n, seed=seed)
    cols = [*FEATURES, ID] if with_id else FEATURES
    out = df[cols].astype(object).where(df[cols].notna(), None).to_dict(orient="records")
    return out


def app_for(registry: ModelRegistry, tmp_path: Path, **settings: Any) -> Any:
    base = {"poll_seconds": 0.05, "log_flush_seconds": 0.2}
    return create_app(registry, Serving(**(base | settings)), log_dir=tmp_path / "log")


def expected_proba(model: Pipeline, recs: list[dict[str, Any]]) -> np.ndarray:
    df = pd.DataFrame(recs)[FEATURES]
    df[NUMERIC] = df[NUMERIC].astype("float64")
    df[CATEGORICAL] = df[CATEGORICAL].astype(object)
    return model.predict_proba(df)[:, 1]


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_contract(registry: ModelRegistry, tmp_path: Path, models: list[Pipeline]) -> None:
    recs = records(25)
    with TestClient(app_for(registry, tmp_path)) as client:
        assert client.get("/health").json() == {"status": "alive"}
        ready = client.get("/ready")
        assert ready.status_code == 200 and ready.json()["model_version"] == "v0001"
        info = client.get("/model").json()
        assert info["champion"]["version"] == "v0001" and info["champion"]["threshold"] == 0.5
        assert info["features"]["numeric"] == NUMERIC
        assert info["card"] == registry.card("v0001")  # rewritten with the audit log on promotion

        r = client.post("/predict", json={"records": recs})
        assert r.status_code == 200
        preds = r.json()["predictions"]
        assert len(preds) == 25 and len({p["request_id"] for p in preds}) == 25
        proba = np.array([p["probability"] for p in preds])
        np.testing.assert_allclose(proba, expected_proba(models[0], recs), rtol=1e-9)
        assert [p["label"] for p in preds] == (proba >= 0.5).astype(int).tolist()
        assert {p["model_version"] for p in preds} == {"v0001"}

        schema = client.get("/openapi.json").json()["components"]["schemas"]["Record"]
        assert set(schema["required"]) == set(FEATURES)
        assert schema["additionalProperties"] is False


def test_missing_values_are_null(registry: ModelRegistry, tmp_path: Path) -> None:
    rec = dict.fromkeys(FEATURES)
    with TestClient(app_for(registry, tmp_path)) as client:
        r = client.post("/predict", json={"records": [rec]})
    assert r.status_code == 200 and 0 <= r.json()["predictions"][0]["probability"] <= 1


def _with(change: dict[str, Any], drop: str | None = None) -> bytes:
    rec = records(1)[0] | change
    if drop:
        del rec[drop]
    return json.dumps({"records": [rec]}).encode()


BAD_PAYLOADS = {
    "missing field": (_with({}, drop="age"), 422, "age"),
    "wrong numeric type": (_with({"age": "forty"}), 422, "age"),
    "numeric as text": (_with({"age": "40"}), 422, "age"),
    "wrong categorical type": (_with({"contract": 2}), 422, "contract"),
    "extra field": (_with({"shoe_size": 44}), 422, "shoe_size"),
    "NaN": (_with({"age": math.nan}), 422, "age"),
    "Infinity": (_with({"tenure_months": math.inf}), 422, "tenure_months"),
    "non-JSON": (b"records=1", 422, None),
    "broken JSON": (b'{"records": [', 422, None),
    "no records": (b'{"records": []}', 422, "records"),
    "records not a list": (b'{"records": {"age": 1}}', 422, "records"),
    "top-level list": (b"[1, 2]", 422, None),
    "empty body": (b"", 422, None),
}


@pytest.mark.parametrize("name", list(BAD_PAYLOADS))
def test_bad_payloads_get_clear_4xx(registry: ModelRegistry, tmp_path: Path, name: str) -> None:
    body, status, field = BAD_PAYLOADS[name]
    with TestClient(app_for(registry, tmp_path)) as client:
        r = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    if field:
        assert any(field in d["loc"] for d in r.json()["detail"]), r.text


def test_limits(registry: ModelRegistry, tmp_path: Path) -> None:
    app = app_for(registry, tmp_path, max_records=10, max_body_bytes=20_000)
    with TestClient(app) as client:
        r = client.post("/predict", json={"records": records(11)})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "records"]
        big = b'{"records": [' + b" " * 30_000 + b"]}"
        r = client.post("/predict", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413 and "20000 bytes" in r.json()["detail"]

        def chunks() -> Any:  # no Content-Length: the limit applies while streaming
            yield b'{"records": ['
            for _ in range(10):
                yield b" " * 3000
            yield b"]}"

        r = client.post("/predict", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert client.post("/predict", json={"records": records(10)}).status_code == 200


def test_bearer_token(
    registry: ModelRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTLINE_TEST_TOKEN", "s3cret")
    app = app_for(registry, tmp_path, token_env="DRIFTLINE_TEST_TOKEN")
    body = {"records": records(1)}
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        for path in ("/ready", "/model"):
            assert client.get(path).status_code == 401
        assert client.post("/predict", json=body).status_code == 401
        bad = {"Authorization": "Bearer wrong"}
        assert client.post("/predict", json=body, headers=bad).status_code == 401
        good = {"Authorization": "Bearer s3cret"}
        assert client.post("/predict", json=body, headers=good).status_code == 200
        assert client.get("/ready", headers=good).status_code == 200


def test_hot_swap_under_concurrent_requests(
    registry: ModelRegistry, tmp_path: Path, models: list[Pipeline]
) -> None:
    v2 = registry.register(models[1], metadata(), status="blessed")
    recs = records(20)
    seen: list[set[str]] = []
    failures: list[str] = []
    stop = threading.Event()
    with TestClient(app_for(registry, tmp_path)) as client:

        def hammer() -> None:
            while not stop.is_set():
                r = client.post("/predict", json={"records": recs})
                if r.status_code != 200:
                    failures.append(r.text)
                    continue
                seen.append({p["model_version"] for p in r.json()["predictions"]})

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for t in threads:
            t.start()
        wait_for(lambda: len(seen) >= 5)
        registry.promote(v2.version, reason="better")
        wait_for(lambda: client.get("/ready").json()["model_version"] == v2.version)
        n_before = len(seen)
        wait_for(lambda: len(seen) >= n_before + 5)
        stop.set()
        for t in threads:
            t.join(10)
    assert not failures
    assert all(len(s) == 1 for s in seen), "a request was answered by two versions"
    versions = [next(iter(s)) for s in seen]
    assert set(versions) == {"v0001", v2.version}
    assert versions[-1] == v2.version


def test_corrupt_version_is_refused_and_old_keeps_serving(
    registry: ModelRegistry, tmp_path: Path, models: list[Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    v2 = registry.register(models[1], metadata(), status="blessed")
    with TestClient(app_for(registry, tmp_path)) as client:
        (Path(registry.get(v2.version).uri) / "model.joblib").write_bytes(b"not a model")
        # Promotion verifies its target; here the file rots after that check.
        monkeypatch.setattr(registry, "verified", lambda version: None)
        registry.promote(v2.version, reason="corrupt on purpose")
        wait_for(lambda: "champion" in client.get("/ready").json()["refused"])
        ready = client.get("/ready")
        assert ready.status_code == 200 and ready.json()["model_version"] == "v0001"
        assert ready.json()["registry_champion"] == v2.version
        assert ready.json()["in_sync"] is False
        refused = ready.json()["refused"]["champion"]
        assert refused["version"] == v2.version and refused["error"]
        assert client.get("/model").json()["refused"]["champion"]["version"] == v2.version
        r = client.post("/predict", json={"records": records(3)})
        assert {p["model_version"] for p in r.json()["predictions"]} == {"v0001"}


def test_wrong_feature_schema_is_refused(
    registry: ModelRegistry, tmp_path: Path, models: list[Pipeline]
) -> None:
    schema = Schema(numeric=tuple(NUMERIC[:3]), categorical=(), target="churned")
    df = generate(500, seed=3)
    narrow = build_pipeline("logistic_regression", schema, FeatureSelection(), 0)
    narrow.fit(df[list(schema.numeric)], df.churned)
    v2 = registry.register(narrow, metadata(table_schema=schema), status="blessed")
    with TestClient(app_for(registry, tmp_path)) as client:
        registry.promote(v2.version, reason="other schema")
        wait_for(lambda: "champion" in client.get("/ready").json()["refused"])
        assert "serving schema" in client.get("/model").json()["refused"]["champion"]["error"]
        assert client.get("/ready").json()["model_version"] == "v0001"


def test_rollback_reaches_the_server(
    registry: ModelRegistry, tmp_path: Path, models: list[Pipeline]
) -> None:
    v2 = registry.register(models[1], metadata(), status="blessed")
    with TestClient(app_for(registry, tmp_path)) as client:
        registry.promote(v2.version, reason="better")
        wait_for(lambda: client.get("/ready").json()["model_version"] == v2.version)
        registry.rollback(reason="worse live")
        wait_for(lambda: client.get("/ready").json()["model_version"] == "v0001")


def test_not_ready_without_champion(tmp_path: Path) -> None:
    from driftline.core.scoring import FeatureSpec

    reg = ModelRegistry(tmp_path / "empty")
    spec = FeatureSpec(numeric=tuple(NUMERIC), categorical=tuple(CATEGORICAL))
    app = create_app(reg, Serving(), log_dir=tmp_path / "log", features=spec)
    with TestClient(app) as client:
        assert client.get("/ready").status_code == 503
        assert client.post("/predict", json={"records": records(1)}).status_code == 503


def test_log_is_flushed_on_shutdown_and_joins_feedback(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    app = app_for(registry, tmp_path, log_flush_rows=100_000, log_flush_seconds=3600, sticky_key=ID)
    ids: list[str] = []
    with TestClient(app) as client:
        for i in range(20):
            r = client.post("/predict", json={"records": records(5, seed=i, with_id=True)})
            ids += [p["request_id"] for p in r.json()["predictions"]]
        for rid in ids[:10]:
            assert client.post("/feedback", json={"request_id": rid, "label": 1}).status_code == 202
        assert read_prediction_log(tmp_path / "log").empty  # nothing flushed yet
    log = read_prediction_log(tmp_path / "log")
    assert sorted(log.request_id) == sorted(ids)
    assert set(log.model_version) == {"v0001"} and log.served.all()
    assert set(log.arm) == {"champion"}
    assert {"latency_ms", "ts", "batch_id", ID, *FEATURES} <= set(log.columns)
    assert log[ID].str.startswith("C").all()
    labelled = read_labelled_log(tmp_path / "log")
    assert sorted(labelled.request_id) == sorted(ids[:10]) and (labelled.y_true == 1).all()

    labels = tmp_path / "labels.csv"
    pd.DataFrame({"request_id": ids[10:15], "label": ["0"] * 5}).to_csv(labels, index=False)
    assert import_feedback(tmp_path / "log", labels, positive_label=1) == 5
    labelled = read_labelled_log(tmp_path / "log")
    assert len(labelled) == 15 and labelled.y_true.sum() == 10


def test_log_reader_since(registry: ModelRegistry, tmp_path: Path) -> None:
    with TestClient(app_for(registry, tmp_path)) as client:
        client.post("/predict", json={"records": records(3)})
        wait_for(lambda: len(read_prediction_log(tmp_path / "log")) == 3)
        cut = pd.Timestamp.now(tz="UTC").to_pydatetime()
        client.post("/predict", json={"records": records(4)})
    assert len(read_prediction_log(tmp_path / "log")) == 7
    assert len(read_prediction_log(tmp_path / "log", since=cut)) == 4


def test_shadow_never_changes_answers(
    registry: ModelRegistry, tmp_path: Path, models: list[Pipeline]
) -> None:
    v2 = registry.register(models[1], metadata(threshold=0.2), status="blessed")
    registry.set_alias("challenger", v2.version, reason="shadow it")
    recs = records(50)
    with TestClient(app_for(registry, tmp_path / "plain")) as client:
        plain = client.post("/predict", json={"records": recs}).json()["predictions"]
    with TestClient(app_for(registry, tmp_path, strategy="shadow")) as client:
        assert client.get("/ready").json()["challenger_version"] == v2.version
        shadowed = client.post("/predict", json={"records": recs}).json()["predictions"]
    strip = [{k: v for k, v in p.items() if k != "request_id"} for p in plain]
    assert strip == [{k: v for k, v in p.items() if k != "request_id"} for p in shadowed]
    log = read_prediction_log(tmp_path / "log")
    served, shadow = log[log.served], log[~log.served]
    assert len(served) == len(shadow) == 50
    assert set(shadow.model_version) == {v2.version} and set(shadow.arm) == {"challenger"}
    assert set(shadow.request_id) == set(served.request_id)
    np.testing.assert_allclose(
        shadow.set_index("request_id").probability.sort_index(),
        expected_proba(models[1], recs)[np.argsort([p["request_id"] for p in shadowed])],
    )


def test_canary_share_and_stickiness(
    registry: ModelRegistry, tmp_path: Path, models: list[Pipeline]
) -> None:
    v2 = registry.register(models[1], metadata(), status="blessed")
    registry.set_alias("challenger", v2.version, reason="canary")
    app = app_for(registry, tmp_path, strategy="canary", canary_share=0.3, sticky_key=ID)
    recs = records(1000, with_id=True)
    with TestClient(app) as client:
        first = client.post("/predict", json={"records": recs}).json()["predictions"]
        again = client.post("/predict", json={"records": recs[:200]}).json()["predictions"]
        anonymous = [{k: v for k, v in r.items() if k != ID} for r in recs]
        random_arm = client.post("/predict", json={"records": anonymous}).json()["predictions"]
    arms = [p["model_version"] == v2.version for p in first]
    assert abs(np.mean(arms) - 0.3) < 0.05
    assert arms == [key_fraction(r[ID]) < 0.3 for r in recs]
    assert [p["model_version"] for p in again] == [p["model_version"] for p in first[:200]]
    assert abs(np.mean([p["model_version"] == v2.version for p in random_arm]) - 0.3) < 0.06
    log = read_prediction_log(tmp_path / "log")
    assert log.served.all() and set(log.arm) == {"champion", "challenger"}
    assert (log.arm == "challenger").equals(log.model_version == v2.version)


def test_sigterm_flushes_the_log(tmp_path: Path, models: list[Pipeline]) -> None:
    """`driftline serve` in its own process: everything answered before SIGTERM is logged."""
    from conftest import write_project

    from driftline.core.config import load_config
    from driftline.storage.prediction_log import log_root

    config = write_project(
        tmp_path, n_rows=200, serving={"log_flush_rows": 100_000, "log_flush_seconds": 3600}
    )
    cfg = load_config(config)
    reg = ModelRegistry.for_config(cfg)
    reg.promote(reg.register(models[0], metadata(), status="blessed").version, reason="serve")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cli = Path(sys.executable).with_name("driftline")
    proc = subprocess.Popen(
        [str(cli), "serve", "--config", str(config), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    ids: list[str] = []
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, proc)
        with httpx.Client(base_url=url, timeout=10) as client:
            for i in range(10):
                r = client.post("/predict", json={"records": records(3, seed=i, with_id=True)})
                ids += [p["request_id"] for p in r.json()["predictions"]]
        proc.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal once it has shut down gracefully
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = read_prediction_log(log_root(cfg))
    assert sorted(log.request_id) == sorted(ids) and len(ids) == 30
    assert b"prediction log flushed (30 rows written, 0 dropped, 0 not written)" in (
        proc.stdout.read()
    )
