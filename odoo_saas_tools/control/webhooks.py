"""Webhooks: a hoster's systems subscribe a URL to event types (control.events.TYPES); every
event of those types made afterwards is POSTed to it, signed as the Standard Webhooks spec says,
at least once (control.webhook_delivery sends; the catalog keeps each delivery).

One function each for the CLI command and the API route (subscribe, listing, deliveries,
remove); the signature and the retry schedule are pure functions, tested without a clock.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import psycopg2.extensions

from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog import webhooks as catalog_webhooks
from odoo_saas_tools.catalog.webhooks import Delivery, Webhook
from odoo_saas_tools.control.errors import NotFound
from odoo_saas_tools.control.events import TYPES
from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.settings import Settings

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks form of a secret, not one
SECRET_BYTES = 32  # a generated secret's key
KEY_BYTES = (24, 64)  # what a given secret's key may be (the spec's range)
URL_MAX = 2048
LAST_DELIVERIES = 10  # shown with each subscription


# --- the pure parts ------------------------------------------------------------------------
def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`
    under the key a `whsec_<base64>` secret holds."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class Schedule:
    """When a failed delivery is tried again: first after `first` seconds, then each wait
    `factor` times the one before (at most `cap`), until `window` after the event; a try at
    the window's end is the last one."""

    first: float = 5.0
    factor: float = 3.0
    cap: float = 3 * 3600.0
    window: float = 24 * 3600.0

    def next_attempt(
        self, event_at: dt.datetime, attempts: int, now: dt.datetime
    ) -> dt.datetime | None:
        """After the attempts-th attempt failed at now: the next one, None to give up."""
        deadline = event_at + dt.timedelta(seconds=self.window)
        if now >= deadline:
            return None
        wait = min(self.first * self.factor ** max(0, attempts - 1), self.cap)
        return min(now + dt.timedelta(seconds=wait), deadline)


def check_url(url: str) -> str:
    """http or https with a host, no user:password (sent in clear in every log of a proxy)."""
    if len(url) > URL_MAX or any(c.isspace() for c in url):
        raise ConfigError(f"url: at most {URL_MAX} characters, no spaces")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"url: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("url: must be http:// or https:// with a host")
    if parts.username is not None or parts.password is not None:
        raise ConfigError("url: no user or password in it (sign with the secret instead)")
    if port == 0:
        raise ConfigError("url: port 0")
    return url


def check_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - TYPES)
    if not events or unknown:
        known = ", ".join(sorted(TYPES))
        what = f"unknown {', '.join(unknown)}" if unknown else "none given"
        raise ConfigError(f"events: {what}; they are: {known}")
    return sorted(set(events))


def check_secret(secret: str) -> str:
    """A `whsec_` + base64 of 24 to 64 bytes."""
    if not secret.startswith(SECRET_PREFIX):
        raise ConfigError(f"secret: must be {SECRET_PREFIX}<base64>")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"secret: {SECRET_PREFIX} must be followed by base64") from None
    if not KEY_BYTES[0] <= len(key) <= KEY_BYTES[1]:
        raise ConfigError(f"secret: its key must be {KEY_BYTES[0]} to {KEY_BYTES[1]} bytes")
    return secret


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


# --- subscriptions -------------------------------------------------------------------------
def add(
    cr: psycopg2.extensions.cursor, url: str, events: list[str], secret: str | None
) -> tuple[Webhook, str | None]:
    """A new subscription in cr's transaction, checked first; and its secret if generated
    here (shown once: it is never shown again)."""
    url, events = check_url(url), check_events(events)
    generated = None
    if secret is None:
        secret = generated = new_secret()
    return catalog_webhooks.insert(cr, url, events, check_secret(secret)), generated


def subscribe(
    settings: Settings, url: str, events: list[str], secret: str | None
) -> tuple[Webhook, str | None]:
    with store.session(settings) as cr:
        return add(cr, url, events, secret)


def listing(settings: Settings) -> list[tuple[Webhook, list[Delivery]]]:
    """Every subscription, oldest first, with its last deliveries."""
    with store.session(settings) as cr:
        return [
            (hook, catalog_webhooks.deliveries(cr, hook.id, LAST_DELIVERIES))
            for hook in catalog_webhooks.all_webhooks(cr)
        ]


def deliveries(settings: Settings, webhook_id: str, limit: int = 50) -> list[Delivery]:
    """A subscription's deliveries, newest first; NotFound without it."""
    with store.session(settings) as cr:
        if catalog_webhooks.get(cr, _checked_id(webhook_id)) is None:
            raise NotFound(f"no webhook {webhook_id}")
        return catalog_webhooks.deliveries(cr, webhook_id, limit)


def drop(cr: psycopg2.extensions.cursor, webhook_id: str) -> None:
    """The subscription and its deliveries gone (in cr's transaction); NotFound without it."""
    if not catalog_webhooks.delete(cr, _checked_id(webhook_id)):
        raise NotFound(f"no webhook {webhook_id}")


def remove(settings: Settings, webhook_id: str) -> None:
    with store.session(settings) as cr:
        drop(cr, webhook_id)


def _checked_id(webhook_id: str) -> str:
    try:
        return str(uuid.UUID(webhook_id))
    except ValueError:
        raise NotFound(f"no webhook {webhook_id}") from None
