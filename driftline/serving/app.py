"""The prediction API: FastAPI app factory serving the registry's champion.

No `from __future__ import annotations` here: the /predict body model is generated at app
creation, and FastAPI must see it as a real annotation, not a string to look up.
"""

import asyncio
import logging
import os
import posixpath
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from driftline.config import ProjectConfig, Serving
from driftline.registry import ModelRegistry
from driftline.serving.holder import CHALLENGER, CHAMPION, LoadedModel, ModelHolder, to_frame
from driftline.serving.predlog import FEEDBACK, PredictionLog, feedback_columns, log_root
from driftline.serving.routing import canary_mask
from driftline.serving.schema import (
    FeatureSpec,
    Feedback,
    FeedbackResponse,
    Prediction,
    PredictResponse,
    predict_request_model,
)

log = logging.getLogger("driftline.serving")
MAX_ERRORS_SHOWN = 20


class ServingError(RuntimeError):
    """The server cannot start: no model and no configured features to build its schema."""


class BodyLimit:
    """Starlette has no request-size limit: buffer the body up to `max_bytes`, else answer 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send, status: int, detail: str) -> None:
        response = JSONResponse({"detail": detail}, status_code=status)
        await response({"type": "http"}, _no_receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        too_large = f"request body larger than {self.max_bytes} bytes"
        if declared is not None:
            if not declared.isdigit():
                await self._refuse(send, 400, "invalid Content-Length header")
                return
            if int(declared) > self.max_bytes:
                await self._refuse(send, 413, too_large)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send, 413, too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 naming each bad field; the offending input is left out (NaN cannot be JSON)."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    detail = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in errors[:MAX_ERRORS_SHOWN]
    ]
    body: dict[str, Any] = {"detail": detail}
    if len(errors) > MAX_ERRORS_SHOWN:
        body["more_errors"] = len(errors) - MAX_ERRORS_SHOWN
    return JSONResponse(body, status_code=422)


def _model_info(model: LoadedModel | None) -> dict[str, Any] | None:
    if model is None:
        return None
    return {**model.version.model_dump(mode="json"), "threshold": model.threshold}


def create_app(
    source: ProjectConfig | ModelRegistry,
    settings: Serving | None = None,
    *,
    log_dir: str | Path | None = None,
    features: FeatureSpec | None = None,
) -> FastAPI:
    """The API over a project's registry (or a bare registry plus a log folder).

    The champion is loaded now, so the request schema is its feature schema; without one, the
    config's (or the given) features are used and /ready answers 503 until a champion appears.
    """
    if isinstance(source, ProjectConfig):
        cfg: ProjectConfig | None = source
        registry = ModelRegistry.for_config(source)
        settings = settings or source.serving
        log_dir = log_dir or log_root(source)
        key = settings.sticky_key or source.id_column
        if features is None and (source.features.numeric or source.features.categorical):
            features = FeatureSpec(
                numeric=tuple(source.features.numeric),
                categorical=tuple(source.features.categorical),
            )
    else:
        cfg, registry = None, source
        settings = settings or Serving()
        key = settings.sticky_key
        if log_dir is None:
            raise ServingError("create_app(registry, ...) needs log_dir")
    holder = ModelHolder(registry, with_challenger=settings.strategy != "none")
    holder.refresh()
    champion = holder.arms.champion
    spec = champion.spec if champion else features
    if spec is None:
        raise ServingError("no champion in the registry and no features configured")
    spec = spec.model_copy(update={"key": key})
    holder.spec = spec
    predlog = PredictionLog(
        log_dir,
        flush_rows=settings.log_flush_rows,
        flush_seconds=settings.log_flush_seconds,
        queue_size=settings.log_queue_size,
    )
    token = os.environ.get(settings.token_env, "")
    bearer = HTTPBearer(auto_error=False, description=f"Token from ${settings.token_env}")
    rng = np.random.default_rng()
    PredictRequest = predict_request_model(spec, settings.max_records)

    def authorized(creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if token and (creds is None or not secrets.compare_digest(creds.credentials, token)):
            raise HTTPException(
                401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
            )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        predlog.start()
        watcher = asyncio.create_task(holder.watch(settings.poll_seconds))
        try:
            yield
        finally:
            watcher.cancel()
            with suppress(asyncio.CancelledError):
                await watcher
            await asyncio.to_thread(predlog.close)
            log.info("prediction log flushed (%d rows written)", predlog.rows_written)

    app = FastAPI(
        title=f"driftline: {cfg.project if cfg else 'model'} predictions",
        version="1",
        lifespan=lifespan,
        exception_handlers={RequestValidationError: _validation_error},
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.state.holder = holder
    app.state.predlog = predlog
    auth = [Depends(authorized)]

    def log_rows(
        columns: dict[str, list[Any]],
        ids: list[str],
        batch: str,
        model: list[str],
        arm: list[str],
        served: bool,
        proba: np.ndarray,
        labels: np.ndarray,
        latency_ms: float,
    ) -> dict[str, list[Any]]:
        n = len(ids)
        return {
            "request_id": ids,
            "batch_id": [batch] * n,
            "ts": [datetime.now(UTC)] * n,
            "model_version": model,
            "arm": arm,
            "served": [served] * n,
            "probability": proba.tolist(),
            "label": labels.tolist(),
            "latency_ms": [latency_ms] * n,
            **columns,
        }

    def shadow(
        challenger: LoadedModel, columns: dict[str, list[Any]], ids: list[str], batch: str
    ) -> None:
        start = time.perf_counter()
        proba = challenger.probabilities(to_frame(columns, spec))
        labels = (proba >= challenger.threshold).astype("int64")
        latency = (time.perf_counter() - start) * 1000
        n = len(ids)
        rows = log_rows(
            columns,
            ids,
            batch,
            [challenger.name] * n,
            [CHALLENGER] * n,
            False,
            proba,
            labels,
            latency,
        )
        if not predlog.append(rows):
            log.warning("prediction log full: %d shadow row(s) not logged", n)

    @app.post("/predict", response_model=PredictResponse, dependencies=auth)
    def predict(body: PredictRequest, background: BackgroundTasks) -> PredictResponse:  # type: ignore[valid-type]
        """Score records with the champion (or, under a canary, partly the challenger)."""
        start = time.perf_counter()
        arms = holder.arms  # one read: the whole request is answered by these versions
        if arms.champion is None:
            raise HTTPException(503, "no verified model is loaded")
        records = body.records  # type: ignore[attr-defined]
        n = len(records)
        names = spec.features + ([spec.key] if spec.key and spec.key not in spec.features else [])
        columns = {c: [getattr(r, c) for r in records] for c in names}
        if spec.key and spec.key not in spec.features:  # ids may come as numbers: log text
            columns[spec.key] = [None if v is None else str(v) for v in columns[spec.key]]
        frame = to_frame(columns, spec)
        batch = uuid.uuid4().hex
        ids = [f"{batch}-{i}" for i in range(n)]
        mask = np.zeros(n, dtype=bool)
        if settings.strategy == "canary" and arms.challenger is not None:
            keys = columns[spec.key] if spec.key else [None] * n
            mask = canary_mask(keys, settings.canary_share, rng)
        proba = np.empty(n)
        labels = np.empty(n, dtype="int64")
        model = np.empty(n, dtype=object)
        arm = np.empty(n, dtype=object)
        for loaded, name, sel in (
            (arms.champion, CHAMPION, ~mask),
            (arms.challenger, CHALLENGER, mask),
        ):
            if loaded is None or not sel.any():
                continue
            p = loaded.probabilities(frame if sel.all() else frame[sel])
            proba[sel] = p
            labels[sel] = p >= loaded.threshold
            model[sel] = loaded.name
            arm[sel] = name
        latency = (time.perf_counter() - start) * 1000
        rows = log_rows(
            columns, ids, batch, model.tolist(), arm.tolist(), True, proba, labels, latency
        )
        if not predlog.append(rows):
            raise HTTPException(503, "prediction log is backed up; retry shortly")
        if settings.strategy == "shadow" and arms.challenger is not None:
            background.add_task(shadow, arms.challenger, columns, ids, batch)
        return PredictResponse(
            predictions=[
                Prediction(request_id=i, label=lb, probability=p, model_version=v)
                for i, lb, p, v in zip(
                    ids, labels.tolist(), proba.tolist(), model.tolist(), strict=True
                )
            ]
        )

    @app.post("/feedback", response_model=FeedbackResponse, status_code=202, dependencies=auth)
    def feedback(item: Feedback) -> FeedbackResponse:
        """Record the true label of a prediction, by its request id."""
        arms = holder.arms
        positive = (
            arms.champion.version.metadata.get("positive_label", 1)
            if arms.champion
            else (cfg.target.positive_label if cfg else 1)
        )
        if not predlog.append(
            feedback_columns([item.request_id], [item.label], positive), FEEDBACK
        ):
            raise HTTPException(503, "prediction log is backed up; retry shortly")
        return FeedbackResponse(accepted=1)

    @app.get("/health")
    def health() -> dict[str, str]:
        """The process is alive (no auth)."""
        return {"status": "alive"}

    def status() -> dict[str, Any]:
        arms = holder.arms
        return {
            "ready": arms.champion is not None,
            "model_version": arms.champion.name if arms.champion else None,
            "challenger_version": arms.challenger.name if arms.challenger else None,
            "strategy": settings.strategy,
            "refused": {k: vars(v) for k, v in dict(holder.refused).items()},
            "log_backlog": predlog.backlog,
            "log_error": predlog.last_error,
        }

    @app.get("/ready", dependencies=auth)
    def ready() -> JSONResponse:
        """200 when a verified champion is loaded, else 503; shows refused versions."""
        body = status()
        return JSONResponse(body, status_code=200 if body["ready"] else 503)

    @app.get("/model", dependencies=auth)
    def model_info() -> dict[str, Any]:
        """What is serving: version, metadata, card, features; refused versions and why."""
        arms = holder.arms
        card = None
        if arms.champion is not None:
            card = registry_card(registry, arms.champion.name)
        return {
            **status(),
            "champion": _model_info(arms.champion),
            "challenger": _model_info(arms.challenger),
            "card": card,
            "features": spec.model_dump(),
        }

    return app


def registry_card(registry: ModelRegistry, version: str) -> str | None:
    """The model card the registry keeps with a version (markdown), if any."""
    try:
        return registry.fs.cat_file(
            posixpath.join(registry.root, "versions", version, "card.md")
        ).decode()
    except FileNotFoundError:
        return None
