"""The server's error bodies turned back into the exceptions of :mod:`omnidex.errors`.

The API answers every failure with ``{"error": {"code", "message", ...context}}`` and the HTTP
status of the error's class. The client raises the class that has that ``code``, with the same
message and context, so that code catching ``NotFoundError`` or ``InvalidSpecError`` works the same
embedded and remote. A code no class has (the server's own ``invalid_request``, ``internal_error``,
a proxy's HTML page) falls back to the class of its HTTP status, keeping the wire code on the
instance; a server that cannot be reached at all is a :class:`ServerUnreachableError`.
"""

from __future__ import annotations

import inspect
from typing import Any

import httpx

from omnidex import errors
from omnidex.errors import OmnidexError

BY_STATUS: dict[int, type[OmnidexError]] = {
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    409: errors.AlreadyExistsError,
    413: errors.PayloadTooLargeError,
    415: errors.UnsupportedMediaError,
    422: errors.InvalidSpecError,
    429: errors.RateLimitedError,
    501: errors.MissingDependencyError,
}
"""The class an error without a known code becomes, by HTTP status; any other status stays a
plain :class:`OmnidexError`."""


class ServerUnreachableError(OmnidexError):
    """The omnidex server could not be reached or did not answer in time; ``url`` names it and
    ``reason`` says how (connect, timeout, protocol)."""

    code = "server_unreachable"
    http_status = 503


def _by_code() -> dict[str, type[OmnidexError]]:
    """Every class of :mod:`omnidex.errors` by its code; a class that only inherits its parent's
    code does not replace the parent."""
    classes: dict[str, type[OmnidexError]] = {}
    for _, cls in inspect.getmembers(errors, inspect.isclass):
        if not issubclass(cls, OmnidexError) or cls.__module__ != errors.__name__:
            continue
        if cls.code not in classes or issubclass(classes[cls.code], cls):
            classes[cls.code] = cls
    return classes


BY_CODE = _by_code()


def error_from_response(response: httpx.Response) -> OmnidexError:
    """The typed error an error response stands for."""
    body = _error_body(response)
    code = str(body.pop("code", "") or "")
    message = str(body.pop("message", "") or "") or _fallback_message(response)
    cls = BY_CODE.get(code) or BY_STATUS.get(response.status_code, OmnidexError)
    error = cls(message, **body)
    if code and code != error.code:
        error.code = code
    if cls is OmnidexError:
        error.context["status"] = response.status_code
    return error


def unreachable(url: str, exc: httpx.TransportError) -> ServerUnreachableError:
    reason = "timeout" if isinstance(exc, httpx.TimeoutException) else _reason(exc)
    detail = str(exc) or type(exc).__name__
    return ServerUnreachableError(
        f"cannot reach the omnidex server at {url}: {detail}", url=url, reason=reason
    )


def _reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connect"
    if isinstance(exc, httpx.ProtocolError):
        return "protocol"
    return "network"


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    error = payload.get("error") if isinstance(payload, dict) else None
    return dict(error) if isinstance(error, dict) else {}


def _fallback_message(response: httpx.Response) -> str:
    text = " ".join(response.text.split())[:200]
    return f"the server answered {response.status_code} {response.reason_phrase}" + (
        f": {text}" if text else ""
    )
