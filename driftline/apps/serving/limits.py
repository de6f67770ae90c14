"""Request limits and error bodies: a body-size cap Starlette lacks, and 422s that name fields."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_ERRORS_SHOWN = 20


class BodyLimit:
    """Starlette has no request-size limit: buffer the body up to `max_bytes`, else answer 413."""

    def __init__(self, app: ASGIApp, max_bytes: int, hint: str = "") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.hint = hint

    async def _refuse(self, send: Send, status: int, detail: str) -> None:
        response = JSONResponse({"detail": detail}, status_code=status)
        await response({"type": "http"}, _no_receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        too_large = f"request body larger than {self.max_bytes} bytes{self.hint}"
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


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
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
