"""Every error the service answers is ``{"error": "<one line>"}`` with its status code.

Pydantic's 422 becomes a 400 naming the field; an unexpected exception is logged and
answered ``{"error": "internal error"}`` (500), never with a trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from cadenza.errors import CadenzaError

__all__ = [
    "ApiError",
    "ErrorBody",
    "ERROR_RESPONSES",
    "documented",
    "error_response",
    "install_error_handlers",
    "one_line",
]

log = logging.getLogger("cadenza.service")
MAX_MESSAGE = 300


class ErrorBody(BaseModel):
    error: str


def _described(status: int, what: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": what}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _described(400, "Bad JSON or a value outside what is accepted"),
    401: _described(401, "A missing or wrong API key (only when keys are configured)"),
    404: _described(404, "No such job or file"),
    413: _described(413, "The request (an upload) is too large"),
    415: _described(415, "An upload of a type this endpoint does not read"),
    429: _described(429, "Too many requests, open event streams or wrong API keys from this client; see Retry-After"),
    500: _described(500, "An internal error (logged on the server)"),
    503: _described(503, "The queue is full; see Retry-After"),
}


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses=`` of a route that may answer these error codes."""
    return {code: ERROR_RESPONSES[code] for code in codes}


class ApiError(Exception):
    """An answer other than success: a status, one line, and headers (Retry-After...)."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        super().__init__(message)


def one_line(text: object) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 1] + "…"


def error_response(status: int, message: object, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": one_line(message) or "error"}, status_code=status, headers=dict(headers or {}))


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form"):
        where, parts = parts[0], parts[1:]
        return ".".join(parts) if parts else ("the body" if where == "body" else where)
    return ".".join(parts) or "the request"


def _validation_line(error: RequestValidationError) -> str:
    problems = error.errors()
    if not problems:
        return "the request is not valid"
    first = problems[0]
    kind = first.get("type", "")
    where = _field(first.get("loc", ()))
    if kind == "json_invalid":
        return "the body is not valid JSON"
    if kind == "missing" and where == "the body":
        return "a JSON body is required"
    if where == "the body" and kind in ("model_attributes_type", "dict_type", "model_type"):
        return "the body must be a JSON object (Content-Type: application/json)"
    if kind == "extra_forbidden":
        return f"{where}: not a field of this request"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {first.get('msg', 'not valid')}{more}"


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "error"
    if exc.status_code == 404 and message == "Not Found":
        message = "not found"
    return error_response(exc.status_code, message, exc.headers)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(400, _validation_line(exc))


async def _cadenza_error(request: Request, exc: Exception) -> JSONResponse:
    return error_response(400, str(exc))


async def _internal(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(CadenzaError, _cadenza_error)
    app.add_exception_handler(Exception, _internal)
