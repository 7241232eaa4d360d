"""Who is asking, under ``/mixpeek``: omnidex's own API keys, walls and rate limits.

The SDK's bearer token is an omnidex key and its ``X-Namespace`` header names the namespace,
either by name or by the ``ns_<name>`` id this layer hands out; both reach
:func:`omnidex.server.auth.principal` as the name, so a key still reaches only its namespace.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response

from omnidex.compat.mixpeek.store import MixpeekStore
from omnidex.embedded import Database
from omnidex.errors import PermissionDeniedError
from omnidex.server.auth import Principal, principal, server_state
from omnidex.server.state import ServerState
from omnidex.types import KeyRole

NAMESPACE_PREFIX = "ns_"
WARNING_HEADER = "X-Omnidex-Ignored"
MAX_NAMED = 20
"""Names the request fields omnidex accepted but does not act on (see docs/mixpeek.md)."""
_STORES: dict[str, MixpeekStore] = {}
_STORES_LOCK = threading.Lock()


def namespace_id(name: str) -> str:
    return NAMESPACE_PREFIX + name


def namespace_name(identifier: str) -> str:
    """The namespace an id (``ns_<name>``) or a name refers to."""
    return identifier.removeprefix(NAMESPACE_PREFIX)


@dataclass
class Caller:
    """The request's principal, its namespace's database and the Mixpeek store."""

    who: Principal
    db: Database
    store: MixpeekStore
    state: ServerState

    @property
    def namespace(self) -> str:
        return self.who.namespace

    def require_write(self) -> None:
        if self.who.role is not KeyRole.WRITE:
            raise PermissionDeniedError(f"API key {self.who.key_id!r} may only read")


def store_of(state: ServerState) -> MixpeekStore:
    """The Mixpeek store of the server's data folder, opened once."""
    path = state.settings.home.expanduser() / "mixpeek.sqlite"
    with _STORES_LOCK:
        if str(path) not in _STORES:
            _STORES[str(path)] = MixpeekStore(path)
        return _STORES[str(path)]


def caller(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
    x_namespace: Annotated[str | None, Header(max_length=67)] = None,
) -> Caller:
    state = server_state(request)
    name = namespace_name(x_namespace) if x_namespace else None
    who = principal(request, authorization, x_api_key, name)
    return Caller(who, state.database(who.namespace), store_of(state), state)


def writer(who: Annotated[Caller, Depends(caller)]) -> Caller:
    who.require_write()
    return who


Reader = Annotated[Caller, Depends(caller)]
Writer = Annotated[Caller, Depends(writer)]


def note_ignored(
    response: Response, body: Any, supported: set[str], also: list[str] | None = None
) -> None:
    """Name, in the warning header, the fields of ``body`` that were sent but are not acted on
    (and the nested ones in ``also``)."""
    sent = set(body.model_fields_set) | set(body.model_extra or {})
    ignored = sorted(sent - supported) + (also or [])
    if ignored:
        # Names come from the client: JSON-escaped to printable ASCII, so no byte of them can
        # break the header, and capped in number.
        shown = [json.dumps(name)[1:-1][:100] for name in ignored[:MAX_NAMED]]
        more = len(ignored) - len(shown)
        response.headers[WARNING_HEADER] = ", ".join(shown + ([f"+{more} more"] if more else []))
