"""Who is asking: API keys on every route but the probes, one namespace per key, roles, rate limits.

A key comes as ``Authorization: Bearer <key>`` (or ``X-API-Key``); only its hash is looked up
(:mod:`omnidex.store.api_keys`). Its namespace is the only one it reaches: ``X-Namespace``, when
sent, must name it. A ``read`` key may read; writes need a ``write`` key. Each key has its own rate
limit (429 with ``Retry-After``). Requests whose key is missing, malformed, unknown or revoked
take from a bucket of their client address instead (429 once it is empty, in place of the 401):
a key cannot be guessed or the catalog flooded at full speed. A good key is checked first and
never takes from that bucket, so bad requests from an address never lock out its good keys.
``omnidex serve --dev`` turns all of this off: every request then writes in the namespace
``X-Namespace`` names (``default`` when absent), created on first use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from omnidex.embedded import Database
from omnidex.errors import AuthenticationError, PermissionDeniedError, RateLimitedError
from omnidex.server.state import ServerState
from omnidex.store.api_keys import authenticate
from omnidex.store.catalog import DEFAULT_NAMESPACE
from omnidex.types import ApiKeyInfo, KeyRole


@dataclass(frozen=True)
class Principal:
    namespace: str
    role: KeyRole
    key_id: str | None
    """None in dev mode, where no key is asked for."""


def server_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.omnidex
    return state


State = Annotated[ServerState, Depends(server_state)]


def principal(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
    x_namespace: Annotated[str | None, Header(max_length=64)] = None,
) -> Principal:
    state = server_state(request)
    if state.config.dev:
        namespace = x_namespace or DEFAULT_NAMESPACE
        state.ensure_namespace(namespace)
        return Principal(namespace, KeyRole.WRITE, None)
    try:
        info = _authenticate(state, _bearer(authorization) or x_api_key)
    except AuthenticationError:
        address = request.client.host if request.client else "unknown"
        if (wait := state.bad_key_limiter.check(f"client:{address}")) is not None:
            raise RateLimitedError(
                f"too many requests without a valid API key from {address}; retry in "
                f"{math.ceil(wait)} s",
                retry_after_s=wait,
            ) from None
        raise
    if x_namespace is not None and x_namespace != info.namespace:
        raise PermissionDeniedError(
            f"this API key belongs to namespace {info.namespace!r}, not {x_namespace!r}",
            field="X-Namespace",
        )
    if (wait := state.limiter.check(info.id)) is not None:
        raise RateLimitedError(
            f"too many requests with key {info.id!r}; retry in {math.ceil(wait)} s",
            retry_after_s=wait,
        )
    return Principal(info.namespace, info.role, info.id)


def _authenticate(state: ServerState, key: str | None) -> ApiKeyInfo:
    if not key:
        raise AuthenticationError(
            "an API key is required: send Authorization: Bearer <key> (create one with "
            "`omnidex key create`)"
        )
    return authenticate(state.catalog, key)


def writer(who: Annotated[Principal, Depends(principal)]) -> Principal:
    if who.role is not KeyRole.WRITE:
        raise PermissionDeniedError(f"API key {who.key_id!r} may only read")
    return who


def database(state: State, who: Annotated[Principal, Depends(principal)]) -> Database:
    """The embedded API over the server's stores, in the caller's namespace."""
    return state.database(who.namespace)


def writable_database(state: State, who: Annotated[Principal, Depends(writer)]) -> Database:
    return state.database(who.namespace)


def _bearer(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
