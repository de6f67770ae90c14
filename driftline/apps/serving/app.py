"""The prediction API: FastAPI app factory serving the registry's champion.

No `from __future__ import annotations` here: the /predict body model is generated at app
creation, and FastAPI must see it as a real annotation, not a string to look up.
"""

import asyncio
import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from driftline.apps.serving.batching import Arrivals, MicroBatcher
from driftline.apps.serving.holder import ModelHolder
from driftline.apps.serving.limits import BodyLimit, validation_error
from driftline.apps.serving.openapi import errors
from driftline.apps.serving.schema import (
    Feedback,
    FeedbackResponse,
    predict_request_model,
    predict_response_model,
)
from driftline.apps.serving.scorer import LOG_FULL, BatchScorer, Job
from driftline.apps.serving.status import ModelInfo, Status, status
from driftline.core.config import ProjectConfig, Serving
from driftline.core.labels import label_problem
from driftline.core.scoring import FeatureSpec, ScoringModel
from driftline.errors import ServingError
from driftline.storage.log_writer import PredictionLog
from driftline.storage.prediction_log import FEEDBACK, feedback_columns, log_root
from driftline.storage.registry import ModelRegistry
from driftline.storage.request_ids import RequestIds

log = logging.getLogger("driftline.serving")


def _model_info(registry: ModelRegistry, model: ScoringModel | None) -> dict[str, Any] | None:
    if model is None:
        return None
    return {**registry.get(model.name).model_dump(mode="json"), "threshold": model.threshold}


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
                task=source.target.task or "binary",
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
        buffer_rows=settings.log_buffer_rows,
        when_full=settings.log_when_full,
        journal=settings.log_durability == "journal",
    )
    request_ids = RequestIds(log_dir)
    token = os.environ.get(settings.token_env, "")
    bearer = HTTPBearer(auto_error=False, description=f"Token from ${settings.token_env}")
    PredictRequest = predict_request_model(spec, settings.max_records)
    PredictResponse = predict_response_model(spec)
    scorer = BatchScorer(holder, spec, settings, predlog, request_ids, PredictResponse)
    batcher: MicroBatcher[Job] = MicroBatcher(
        scorer, settings.batch_max_records, settings.batch_max_wait_ms / 1000
    )

    def authorized(creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if token and (creds is None or not secrets.compare_digest(creds.credentials, token)):
            raise HTTPException(
                401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
            )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        predlog.start()
        batcher.start()
        watcher = asyncio.create_task(holder.watch(settings.poll_seconds))
        try:
            yield
        finally:
            watcher.cancel()
            with suppress(asyncio.CancelledError):
                await watcher
            await asyncio.to_thread(batcher.stop)
            await asyncio.to_thread(scorer.close)
            await asyncio.to_thread(predlog.close)
            log.info(
                "prediction log flushed (%d rows written, %d dropped, %d not written)",
                predlog.rows_written,
                predlog.rows_dropped,
                predlog.backlog,
            )

    app = FastAPI(
        title=f"driftline: {cfg.project if cfg else 'model'} predictions",
        version="1",
        lifespan=lifespan,
        exception_handlers={RequestValidationError: validation_error},
    )
    hint = f"; send at most {settings.max_records} records per request (serving.max_records)"
    app.add_middleware(BodyLimit, max_bytes=settings.body_limit, hint=hint)
    app.add_middleware(Arrivals, batcher=batcher, path="/predict")  # outermost: counts from entry
    app.state.holder = holder
    app.state.predlog = predlog
    app.state.batcher = batcher
    # Declared (and shown in OpenAPI) only when a token is configured: auth is off otherwise.
    auth = [Depends(authorized)] if token else []

    @app.post(
        "/predict",
        response_model=PredictResponse,
        dependencies=auth,
        responses=errors(
            400, 413, 422, auth=bool(token), unavailable="No verified model, or " + LOG_FULL
        ),
    )
    async def predict(body: PredictRequest, request: Request) -> Response:  # type: ignore[valid-type]
        """Score records with the champion (or, under a canary, partly the challenger).

        Concurrent requests are scored together (serving.batch_max_records); each gets its
        own answers, in the order of its records."""
        if holder.arms.champion is None:
            raise HTTPException(503, "no verified model is loaded")
        records = body.records  # type: ignore[attr-defined]
        answer = await batcher.submit(Job(records), len(records), request.scope)
        return Response(answer, media_type="application/json")

    @app.post(
        "/feedback",
        response_model=FeedbackResponse,
        status_code=202,
        dependencies=auth,
        responses=errors(400, 413, 422, auth=bool(token), unavailable=LOG_FULL),
    )
    def feedback(item: Feedback) -> FeedbackResponse:
        """Record the true label of a prediction, by its request id: one of the model's
        classes, or a finite number for a regression model (else 422 naming `label`)."""
        if not request_ids.known(item.request_id):
            detail = [
                {
                    "loc": ["body", "request_id"],
                    "msg": f"no prediction of this server has request id {item.request_id!r}; "
                    "send the request_id a /predict answer gave",
                    "type": "unknown_request_id",
                }
            ]
            return JSONResponse({"detail": detail}, status_code=422)  # type: ignore[return-value]
        arms = holder.arms
        known = arms.champion.metadata.table_schema.classes if arms.champion else spec.classes
        problem = label_problem(item.label, spec.task, known)
        if problem:
            detail = [{"loc": ["body", "label"], "msg": problem, "type": "unknown_label"}]
            return JSONResponse({"detail": detail}, status_code=422)  # type: ignore[return-value]
        positive = (
            arms.champion.metadata.positive_label
            if arms.champion
            else (cfg.target.positive_label if cfg else 1)
        )
        classes = getattr(arms.champion.model, "classes_", None) if arms.champion else None
        columns = feedback_columns(
            [item.request_id], [item.label], positive, None if classes is None else list(classes)
        )
        if predlog.append(columns, FEEDBACK, droppable=False) == "refused":
            raise HTTPException(503, LOG_FULL)
        return FeedbackResponse(accepted=1)

    @app.get("/health")
    def health() -> dict[str, str]:
        """The process is alive (no auth)."""
        return {"status": "alive"}

    @app.get(
        "/ready",
        response_model=Status,
        dependencies=auth,
        responses={
            **errors(auth=bool(token)),
            503: {"model": Status, "description": "Not ready: `reason` says why."},
        },
    )
    def ready() -> JSONResponse:
        """200 when a verified champion is serving and the prediction log can persist, else
        503; shows what is served, what the registry names, refused versions, the log."""
        body = status(holder, predlog, batcher, settings)
        return JSONResponse(body.model_dump(mode="json"), status_code=200 if body.ready else 503)

    @app.get(
        "/model", response_model=ModelInfo, dependencies=auth, responses=errors(auth=bool(token))
    )
    def model_info() -> ModelInfo:
        """What is serving: version, metadata, card, features; refused versions and why."""
        arms = holder.arms
        return ModelInfo(
            **status(holder, predlog, batcher, settings).model_dump(),
            champion=_model_info(registry, arms.champion),
            challenger=_model_info(registry, arms.challenger),
            card=registry.card(arms.champion.name) if arms.champion else None,
            features=spec.model_dump(),
        )

    return app
