"""One JSON shape for every error the API answers with.

``{"error": {"code": "...", "message": "...", "field": "..."}}`` plus the error's context (which
limit, which id). Typed omnidex errors keep their code and HTTP status; request validation errors
become ``invalid_request`` (422) naming the field; unknown routes and methods keep their status;
anything else is a 500 whose body says only that it is an internal error (the log has the rest).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from omnidex.errors import OmnidexError, StorageFullError, is_storage_full

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    """Every error answer: a stable code, a message, the offending field and other context."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "bad request",
        401: "no valid API key",
        403: "the key may not do this",
        404: "not found",
        409: "conflict with the current state",
        413: "too large",
        422: "invalid input",
        429: "rate limited; see Retry-After",
        500: "internal error",
        502: "a model server failed",
        503: "the catalog's database is unreachable for now; see Retry-After",
    }.items()
}
"""The error answers every route may give, for the OpenAPI document."""


def error_body(code: str, message: str, **context: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **context}}


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the one error shape."""

    @app.exception_handler(OmnidexError)
    async def omnidex_error(_: Request, exc: OmnidexError) -> JSONResponse:
        status = exc.http_status if 400 <= exc.http_status < 600 else 500
        body = error_body(exc.code, exc.message, **_jsonable(exc.context))
        return JSONResponse(body, status_code=status, headers=_headers(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        location = [str(part) for part in first.get("loc", ())]
        field = ".".join(
            location[1:]
            if location[:1] in (["body"], ["query"], ["path"], ["header"])
            else location
        )
        body = error_body("invalid_request", str(first.get("msg")), field=field or None)
        return JSONResponse(body, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(OSError)
    @app.exception_handler(RuntimeError)
    async def storage_full(request: Request, exc: Exception) -> JSONResponse:
        """A file or a native store (LanceDB) that found the disk full: 507, not 500."""
        if not is_storage_full(exc):
            raise exc
        log.warning("%s %s: no space left on device", request.method, request.url.path)
        full = StorageFullError("no space left to store this; free some and try again")
        return JSONResponse(error_body(full.code, full.message), status_code=507)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse(error_body("internal_error", "internal server error"), status_code=500)


def _headers(exc: OmnidexError) -> dict[str, str] | None:
    retry_after = exc.context.get("retry_after_s")
    return {"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after else None


def _jsonable(context: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, str | int | float | bool | list) else str(v)
        for k, v in context.items()
    }
