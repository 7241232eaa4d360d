"""Every failure under ``/mixpeek`` in Mixpeek's error shape, so the SDK's ``ErrorResponse``
parses it: ``{"success": false, "status": 404, "error": {"message", "type", "code", "details"}}``.

``code`` is omnidex's stable error code (``not_found``, ``unsafe_url``…); ``details`` carries its
context (the field, the limit, the id) and, for 422s from request validation, the location.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from omnidex.errors import OmnidexError

log = logging.getLogger(__name__)

TYPES = {
    400: "BadRequestError",
    401: "UnauthorizedError",
    403: "ForbiddenError",
    404: "NotFoundError",
    405: "MethodNotAllowedError",
    409: "ConflictError",
    413: "PayloadTooLargeError",
    415: "UnsupportedMediaTypeError",
    422: "ValidationError",
    429: "TooManyRequestsError",
    502: "BadGatewayError",
    503: "ServiceUnavailableError",
}


def body(
    status: int, message: str, code: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": message,
        "type": TYPES.get(status, "InternalServerError"),
        "code": code,
    }
    if details:
        error["details"] = details
    return {"success": False, "status": status, "error": error}


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into Mixpeek's error shape."""

    @app.exception_handler(OmnidexError)
    async def omnidex_error(_: Request, exc: OmnidexError) -> JSONResponse:
        status = exc.http_status if 400 <= exc.http_status < 600 else 500
        retry = exc.context.get("retry_after_s")
        headers = {"Retry-After": str(max(1, math.ceil(retry)))} if retry else None
        details = _jsonable(exc.context)
        return JSONResponse(body(status, exc.message, exc.code, details), status, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = exc.errors()
        first = problems[0] if problems else {"loc": (), "msg": "invalid request"}
        location = [str(part) for part in first.get("loc", ())]
        if location[:1] in (["body"], ["query"], ["path"], ["header"]):
            location = location[1:]
        field = ".".join(location)
        message = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
        details = {"field": field or None, "errors": len(problems)}
        return JSONResponse(body(422, message, "invalid_request", details), 422)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = "this Mixpeek endpoint is not served by omnidex (see docs/mixpeek.md)"
        return JSONResponse(body(exc.status_code, message, code), exc.status_code, exc.headers)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse(body(500, "internal server error", "internal_error"), 500)


def _jsonable(context: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, str | int | float | bool | list) else str(v)
        for k, v in context.items()
        if v is not None
    }
