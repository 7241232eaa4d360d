"""``/v1/webhooks``: register, list, get and delete the caller's namespace's webhooks; see how
their deliveries went. Signing, delivery and retries: :mod:`omnidex.server.webhooks`.

Registering and deleting need a write key. A webhook of another namespace answers 404, as one
that does not exist. The signing secret is answered once, by the registration, and never again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from omnidex.server.auth import Principal, State, principal, writer
from omnidex.server.webhooks import new_secret, url_policy
from omnidex.sources.http import check_url
from omnidex.types import DeliveryState, WebhookDelivery, WebhookEventType, WebhookInfo

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
Who = Annotated[Principal, Depends(principal)]
Writer = Annotated[Principal, Depends(writer)]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048, description="where events are POSTed: http(s)")
    events: list[WebhookEventType] = Field(min_length=1)
    secret: str | None = Field(
        None,
        min_length=16,
        max_length=256,
        pattern=r"^[!-~]+$",
        description="the HMAC-SHA256 signing key; a random one is made when absent",
    )


class WebhookCreated(WebhookInfo):
    secret: str = Field(description="the signing secret: answered this once only")


@router.post("", status_code=201)
def create_webhook(body: WebhookIn, state: State, who: Writer) -> WebhookCreated:
    """Register a webhook; 422 ``unsafe_url`` for a URL the server may not reach (see
    :func:`omnidex.sources.http.check_url`). The secret is stored as it is, not hashed: the
    server needs it to sign each delivery."""
    check_url(body.url, url_policy(state.config))
    secret = body.secret or new_secret()
    info = state.catalog.create_webhook(who.namespace, body.url, body.events, secret)
    return WebhookCreated(**info.model_dump(), secret=secret)


@router.get("")
def list_webhooks(state: State, who: Who) -> list[WebhookInfo]:
    return state.catalog.list_webhooks(who.namespace)


@router.get("/{webhook_id}")
def get_webhook(webhook_id: str, state: State, who: Who) -> WebhookInfo:
    return state.catalog.get_webhook(webhook_id, who.namespace)


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: str, state: State, who: Writer) -> Response:
    """Remove the webhook; its deliveries not yet made are dropped."""
    state.catalog.delete_webhook(webhook_id, who.namespace)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries")
def list_deliveries(
    webhook_id: str,
    state: State,
    who: Who,
    delivery_state: Annotated[DeliveryState | None, Query(alias="state")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[WebhookDelivery]:
    """The webhook's deliveries, newest first: attempts, and the last status or error."""
    state.catalog.get_webhook(webhook_id, who.namespace)
    return state.catalog.list_webhook_deliveries(webhook_id, delivery_state, limit)
