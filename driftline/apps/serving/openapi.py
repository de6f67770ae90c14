"""What the OpenAPI document declares besides the bodies: every error status a route returns,
with the body it has, and the bearer security only when a token is configured."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorBody(BaseModel):
    detail: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    detail: list[FieldError]
    more_errors: int | None = None


_WHY = {
    400: (ErrorBody, "The Content-Length header is not a number."),
    401: (ErrorBody, "Missing or wrong bearer token."),
    413: (ErrorBody, "The body is larger than serving.max_body_bytes."),
    422: (ValidationErrorBody, "The body does not match the schema; `loc` names each field."),
}


def errors(*codes: int, auth: bool, unavailable: str | None = None) -> dict[int | str, Any]:
    """The `responses=` of a route: `codes` (400, 413, 422), 401 when auth is on, and 503
    with the reason given in `unavailable`."""
    wanted = [*codes, *([401] if auth else [])]
    out: dict[int | str, Any] = {
        code: {"model": _WHY[code][0], "description": _WHY[code][1]} for code in wanted
    }
    if unavailable:
        out[503] = {"model": ErrorBody, "description": unavailable}
    return out
