"""Micro-batching in the server: who waits, what is scored together, and that every request
gets exactly its own answers (under concurrent hot swap, and with one bad record)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.pipeline import Pipeline
from test_serving import expected_proba, fit_model, metadata, records, wait_for

from driftline.apps.serving.app import create_app
from driftline.apps.serving.batching import MicroBatcher
from driftline.core.candidates import build_pipeline
from driftline.core.config import FeatureSelection, Serving
from driftline.storage.prediction_log import read_prediction_log
from driftline.storage.registry import ModelRegistry
from driftline.testing.models import Slowed

POISON = "poison"


@pytest.fixture(scope="module")
def models() -> list[Pipeline]:
    return [fit_model(1), fit_model(2, c=0.01)]


def slowed(model: Pipeline, delay: float = 0.03) -> Slowed:
    return Slowed(model, delay, column="contract", poison=POISON)


def echo_batcher(max_records: int = 100, max_wait_s: float = 0.0) -> tuple[MicroBatcher, list]:
    """A batcher whose 'model' answers each job with itself and records every batch."""
    seen: list[list[Any]] = []
    gate = threading.Event()
    gate.set()

    def score(jobs: list[Any]) -> list[Any]:
        gate.wait(10)
        seen.append(list(jobs))
        return [ValueError(job) if job == "bad" else job for job in jobs]

    batcher: MicroBatcher = MicroBatcher(score, max_records, max_wait_s)
    batcher.gate = gate  # type: ignore[attr-defined]
    return batcher, seen


def test_a_lone_request_never_waits_for_company() -> None:
    batcher, seen = echo_batcher(max_wait_s=5.0)
    batcher.start()

    async def one() -> float:
        start = time.perf_counter()
        assert await batcher.submit("a", 1) == "a"
        return time.perf_counter() - start

    try:
        assert asyncio.run(one()) < 1.0
    finally:
        batcher.stop()
    assert seen == [["a"]]


def test_requests_queued_while_scoring_are_scored_together_in_order() -> None:
    batcher, seen = echo_batcher(max_records=5)
    batcher.start()
    batcher.gate.clear()  # type: ignore[attr-defined]  # the scorer is busy

    async def many() -> list[Any]:
        first = asyncio.ensure_future(batcher.submit("first", 1))
        await asyncio.sleep(0.05)
        rest = [asyncio.ensure_future(batcher.submit(j, n)) for j, n in
                [("a", 1), ("bad", 1), ("b", 2), ("c", 2), ("big", 9)]]  # fmt: skip
        await asyncio.sleep(0.05)
        batcher.gate.set()  # type: ignore[attr-defined]
        return await asyncio.gather(first, *rest, return_exceptions=True)

    try:
        results = asyncio.run(many())
    finally:
        batcher.stop()
    assert results[:2] == ["first", "a"] and isinstance(results[2], ValueError)
    assert results[3:] == ["b", "c", "big"]
    # up to 5 records a batch, a request never split: a 9-record one is scored alone
    assert seen == [["first"], ["a", "bad", "b"], ["c"], ["big"]]


def test_it_waits_only_for_requests_already_arriving() -> None:
    batcher, seen = echo_batcher(max_wait_s=5.0)
    batcher.start()

    async def two() -> list[Any]:
        batcher.arrived()  # a second request is being read
        first = asyncio.ensure_future(batcher.submit("a", 1))
        await asyncio.sleep(0.1)
        second = asyncio.ensure_future(batcher.submit("b", 1, {"driftline.arriving": True}))
        return await asyncio.gather(first, second)

    try:
        assert asyncio.run(two()) == ["a", "b"]
    finally:
        batcher.stop()
    assert seen == [["a", "b"]]


def concurrent_posts(client: TestClient, bodies: list[dict[str, Any]]) -> list[Any]:
    """POST every body at once from its own thread; the responses in the bodies' order."""
    out: list[Any] = [None] * len(bodies)
    start = threading.Barrier(len(bodies))

    def post(i: int) -> None:
        start.wait()
        out[i] = client.post("/predict", json=bodies[i])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


def test_each_request_gets_its_own_answers_and_one_bad_record_fails_only_its_own(
    tmp_path: Path, models: list[Pipeline]
) -> None:
    reg = ModelRegistry(tmp_path / "registry")
    reg.promote(reg.register(slowed(models[0]), metadata(), status="blessed").version, reason="s")
    bodies = [{"records": records(1 + i % 4, seed=i)} for i in range(12)]
    bodies[5]["records"][1]["contract"] = POISON
    app = create_app(reg, Serving(log_flush_seconds=0.1), log_dir=tmp_path / "log")
    with TestClient(app) as client:
        responses = concurrent_posts(client, bodies)
        batcher = app.state.batcher
        assert batcher.batches < batcher.jobs, "nothing was batched"
        batching = client.get("/ready").json()["batching"]
        assert batching["requests"] == len(bodies) and batching["batches"] == batcher.batches
    assert responses[5].status_code == 500
    assert "cannot be scored" in responses[5].json()["detail"]
    answered: list[str] = []
    for i, (body, r) in enumerate(zip(bodies, responses, strict=True)):
        if i == 5:
            continue
        assert r.status_code == 200, r.text
        preds = r.json()["predictions"]
        np.testing.assert_allclose(
            [p["probability"] for p in preds], expected_proba(models[0], body["records"])
        )
        answered += [p["request_id"] for p in preds]
    assert len(set(answered)) == len(answered) == sum(1 + i % 4 for i in range(12)) - 2
    log = read_prediction_log(tmp_path / "log")
    assert sorted(log.request_id) == sorted(answered)  # every answer logged, the failed one not


def test_batches_under_concurrent_hot_swap_are_answered_by_one_version(
    tmp_path: Path, models: list[Pipeline]
) -> None:
    reg = ModelRegistry(tmp_path / "registry")
    reg.promote(reg.register(slowed(models[0]), metadata(), status="blessed").version, reason="1")
    v2 = reg.register(slowed(models[1]), metadata(), status="blessed")
    app = create_app(reg, Serving(poll_seconds=0.02), log_dir=tmp_path / "log")
    bodies = [{"records": records(3, seed=i)} for i in range(6)]
    answers: list[tuple[int, list[dict[str, Any]]]] = []
    failures: list[str] = []
    stop = threading.Event()
    with TestClient(app) as client:

        def hammer(i: int) -> None:
            while not stop.is_set():
                r = client.post("/predict", json=bodies[i])
                if r.status_code != 200:
                    failures.append(r.text)
                    continue
                answers.append((i, r.json()["predictions"]))

        threads = [threading.Thread(target=hammer, args=(i,)) for i in range(len(bodies))]
        for t in threads:
            t.start()
        wait_for(lambda: len(answers) >= 12)
        reg.promote(v2.version, reason="better")
        wait_for(lambda: client.get("/ready").json()["model_version"] == v2.version)
        n = len(answers)
        wait_for(lambda: len(answers) >= n + 12)
        stop.set()
        for t in threads:
            t.join(10)
        assert app.state.batcher.batches < app.state.batcher.jobs
    assert not failures
    by_version = {"v0001": models[0], v2.version: models[1]}
    for i, preds in answers:
        versions = {p["model_version"] for p in preds}
        assert len(versions) == 1, "a request was answered by two versions"
        model = by_version[versions.pop()]
        np.testing.assert_allclose(
            [p["probability"] for p in preds], expected_proba(model, bodies[i]["records"])
        )
    assert {p[0]["model_version"] for _, p in answers} == set(by_version)
    log = read_prediction_log(tmp_path / "log").set_index("request_id")
    for _, preds in answers:
        for p in preds:
            assert log.loc[p["request_id"], "model_version"] == p["model_version"]
            assert log.loc[p["request_id"], "probability"] == p["probability"]


def test_a_lone_http_request_does_not_pay_the_batch_wait(
    tmp_path: Path, models: list[Pipeline]
) -> None:
    reg = ModelRegistry(tmp_path / "registry")
    reg.promote(reg.register(models[0], metadata(), status="blessed").version, reason="1")
    app = create_app(reg, Serving(batch_max_wait_ms=3000), log_dir=tmp_path / "log")
    with TestClient(app) as client:
        client.post("/predict", json={"records": records(1)})
        start = time.perf_counter()
        for i in range(3):
            assert client.post("/predict", json={"records": records(1, seed=i)}).status_code == 200
        assert time.perf_counter() - start < 3.0  # it would wait 3 s per request otherwise


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_batched_answers_for_every_task(tmp_path: Path, task: str) -> None:
    from test_serving_lean import table

    from driftline.core.scoring import FeatureSpec, predict, to_frame
    from driftline.testing.models import churn_metadata

    df, target, schema = table(task)
    name = "ridge" if task == "regression" else "logistic_regression"
    fitted = build_pipeline(name, schema, FeatureSelection(), 0).fit(df, target)
    if task == "multiclass":
        schema = schema.model_copy(update={"classes": tuple(str(c) for c in fitted.classes_)})
    meta = churn_metadata(table_schema=schema, task=task, positive_label=None)
    reg = ModelRegistry(tmp_path / "registry")
    model = Slowed(fitted, 0.03, column="band", poison=POISON)
    reg.promote(reg.register(model, meta, status="blessed").version, reason="s")
    spec = FeatureSpec.of(schema)
    rows = df.astype(object).where(df.notna(), None).to_dict(orient="records")
    bodies = [{"records": rows[3 * i : 3 * i + 1 + i % 3]} for i in range(8)]
    app = create_app(reg, Serving(), log_dir=tmp_path / "log")
    with TestClient(app) as client:
        responses = concurrent_posts(client, bodies)
        assert app.state.batcher.batches < app.state.batcher.jobs, "nothing was batched"
    for body, r in zip(bodies, responses, strict=True):
        assert r.status_code == 200, r.text
        preds = r.json()["predictions"]
        columns = {c: [r[c] for r in body["records"]] for c in spec.features}
        want = predict(fitted, to_frame(columns, spec), task)
        if task == "regression":
            np.testing.assert_allclose([p["prediction"] for p in preds], want.values)
        else:
            assert [p["label"] for p in preds] == want.values.tolist()
            got = [[p["probabilities"][c] for c in want.classes] for p in preds]
            np.testing.assert_allclose(got, want.proba)
