"""/v1/webhooks: subscribe a URL to events, list subscriptions with their last deliveries,
a subscription's deliveries, unsubscribe. Admin scope: a subscriber receives every tenant's
events. Each route calls one control.webhooks function, the one `odoo-saas webhook` calls.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, Field
from starlette.responses import Response

from odoo_saas_tools.api import auth, calls, models
from odoo_saas_tools.api.problems import from_error
from odoo_saas_tools.api.tenants import IdempotencyKey
from odoo_saas_tools.catalog.webhooks import Delivery, Webhook
from odoo_saas_tools.control import events, webhooks
from odoo_saas_tools.control.tokens import Caller
from odoo_saas_tools.core.errors import SaasError

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

EventType = Literal[tuple(sorted(events.TYPES))]  # type: ignore[valid-type]


class WebhookCreate(models.Body):
    url: str = Field(
        pattern=r"^https?://[^\s\x00-\x1f\x7f]+$",
        max_length=webhooks.URL_MAX,
        description="http or https, no user:password; redirects are not followed",
    )
    events: list[EventType] = Field(min_length=1, max_length=len(events.TYPES) * 2)  # type: ignore[valid-type]
    secret: str | None = Field(
        None,
        pattern=r"^whsec_[A-Za-z0-9+/]+={0,2}$",
        max_length=200,
        description="`whsec_` + base64 of 24 to 64 bytes; omit it to have one generated, "
        "answered once",
    )


class DeliveryOut(BaseModel):
    id: str
    event_id: str = Field(description="the `webhook-id` header of every attempt")
    event_type: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status: int | None = Field(description="the receiver's HTTP status of the last try")
    last_error: str | None
    next_attempt_at: datetime | None = Field(description="while pending")
    delivered_at: datetime | None


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    created_at: datetime
    deliveries: list[DeliveryOut] = Field(description="the last 10, newest first")


class WebhookCreated(WebhookOut):
    secret: str | None = Field(None, description="only when generated: shown this once")


class WebhookPage(BaseModel):
    items: list[WebhookOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]


def delivery_out(d: Delivery) -> dict[str, Any]:
    return jsonable_encoder(
        {
            "id": d.id,
            "event_id": d.event_id,
            "event_type": d.event_type,
            "state": d.state,
            "attempts": d.attempts,
            "last_status": d.last_status,
            "last_error": d.last_error,
            "next_attempt_at": d.next_attempt_at if d.state == "pending" else None,
            "delivered_at": d.delivered_at,
        }
    )


def webhook_out(hook: Webhook, deliveries: list[Delivery]) -> dict[str, Any]:
    return jsonable_encoder(
        {
            "id": hook.id,
            "url": hook.url,
            "events": hook.events,
            "created_at": hook.created_at,
            "deliveries": [delivery_out(d) for d in deliveries],
        }
    )


@router.post("", status_code=201, response_model=WebhookCreated, summary="Subscribe to events")
def add_webhook(
    request: Request,
    body: WebhookCreate,
    idempotency_key: IdempotencyKey = None,
    caller: Caller = auth.admin,
) -> Response:
    """As `odoo-saas webhook add URL --events …`: every later event of those types is POSTed
    to url, signed with the secret (Standard Webhooks)."""

    def accept(cr: Any) -> tuple[int, Any]:
        hook, generated = webhooks.add(cr, body.url, list(body.events), body.secret)
        out = webhook_out(hook, [])
        if generated:
            out["secret"] = generated
        return 201, out

    return calls.mutate(
        request,
        caller,
        action="webhook.add",
        tenant=None,
        body=body,
        key=idempotency_key,
        accept=accept,
    )


@router.get("", response_model=WebhookPage, summary="List webhooks")
def list_webhooks(request: Request, caller: Caller = auth.admin) -> Any:
    """Oldest first, each with its last 10 deliveries; never a secret."""
    try:
        found = webhooks.listing(request.app.state.settings)
    except SaasError as exc:
        raise from_error(exc) from None
    return {"items": [webhook_out(hook, last) for hook, last in found]}


@router.get(
    "/{webhook_id}/deliveries", response_model=DeliveryPage, summary="A webhook's deliveries"
)
def list_deliveries(
    request: Request,
    webhook_id: uuid.UUID,
    caller: Caller = auth.admin,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    """Newest first."""
    try:
        found = webhooks.deliveries(request.app.state.settings, str(webhook_id), limit)
    except SaasError as exc:
        raise from_error(exc) from None
    return {"items": [delivery_out(d) for d in found]}


@router.delete("/{webhook_id}", status_code=204, summary="Unsubscribe")
def remove_webhook(
    request: Request,
    webhook_id: uuid.UUID,
    idempotency_key: IdempotencyKey = None,
    caller: Caller = auth.admin,
) -> Response:
    """As `odoo-saas webhook remove ID`: its pending deliveries are not sent."""

    def accept(cr: Any) -> tuple[int, Any]:
        webhooks.drop(cr, str(webhook_id))
        return 204, None

    return calls.mutate(
        request,
        caller,
        action="webhook.remove",
        tenant=None,
        body=None,
        key=idempotency_key,
        accept=accept,
    )
