"""API tokens: made once and shown once, stored as the sha256 of their secret, checked in
constant time, never logged.

A token reads `osk_<lookup>_<secret>`: the lookup (64 random bits) finds the row without
comparing anything secret in SQL; the secret (256 random bits) is compared as a digest with
hmac.compare_digest, and a token whose lookup finds nothing is compared against a dummy digest,
so a wrong token and a right lookup with a wrong secret cost the same. A high-entropy secret
needs no slow hash: sha256 is enough, and keeps every API call cheap.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog import tokens as catalog_tokens
from odoo_saas_tools.control.errors import Exists, NotFound
from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.settings import Settings

SCOPES = ("read", "write", "admin")  # each allows what the ones before it allow
PREFIX = "osk_"
TOKEN = re.compile(r"osk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}")
MAX_DAYS = 3650
_DUMMY = hashlib.sha256(b"no such token").digest()


@dataclass(frozen=True)
class Caller:
    """Who an authenticated request comes from."""

    name: str
    scope: str

    def allows(self, needed: str) -> bool:
        return allows(self.scope, needed)


def allows(scope: str, needed: str) -> bool:
    return SCOPES.index(scope) >= SCOPES.index(needed)


def check_name(name: str) -> str:
    if not NAME.fullmatch(name or ""):
        raise ConfigError(
            f"token name {name!r} is not valid: a letter or digit, then letters, digits, _ . - "
            "(at most 63)"
        )
    return name


def create(
    settings: Settings, name: str, scope: str, expires_days: int | None = None
) -> tuple[str, catalog_tokens.Token]:
    """A new token (its string, returned this once, and its row); Exists for a name in use."""
    check_name(name)
    if scope not in SCOPES:
        raise ConfigError(f"scope {scope!r} is not one of: {', '.join(SCOPES)}")
    if expires_days is not None and not 1 <= expires_days <= MAX_DAYS:
        raise ConfigError(f"expires must be 1 to {MAX_DAYS} days")
    lookup, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    expires = datetime.now(timezone.utc) + timedelta(days=expires_days) if expires_days else None
    try:
        with store.session(settings) as cr:
            row = catalog_tokens.insert(
                cr,
                name=name,
                lookup=lookup,
                secret_sha256=hashlib.sha256(secret.encode()).digest(),
                scope=scope,
                expires_at=expires,
            )
    except catalog_tokens.NameTaken:
        raise Exists(f"a token named {name} exists already (names are never reused)") from None
    return f"{PREFIX}{lookup}_{secret}", row


def list_tokens(settings: Settings) -> list[catalog_tokens.Token]:
    with store.session(settings) as cr:
        return catalog_tokens.all_tokens(cr)


def revoke(settings: Settings, name: str) -> None:
    """The token stops working at once; NotFound when there is no such live token."""
    with store.session(settings) as cr:
        if not catalog_tokens.revoke(cr, name):
            raise NotFound(f"no live token named {name}")


def authenticate(settings: Settings, presented: str | None) -> tuple[Caller | None, str]:
    """(caller, "") for a live token, else (None, why: one line that reveals nothing a holder
    of the token would not know)."""
    if not presented:
        return None, "a bearer token is required"
    match = TOKEN.fullmatch(presented)
    if match is None:
        return None, "the token is not valid"
    lookup, secret = match.groups()
    digest = hashlib.sha256(secret.encode()).digest()
    with store.session(settings) as cr:
        row = catalog_tokens.by_lookup(cr, lookup)
        same = hmac.compare_digest(digest, row.secret_sha256 if row else _DUMMY)
        if row is None or not same:
            return None, "the token is not valid"
        if row.revoked_at is not None:
            return None, "the token was revoked"
        if row.expires_at is not None and row.expires_at <= datetime.now(timezone.utc):
            return None, "the token has expired"
        catalog_tokens.touch(cr, row.name)
    return Caller(row.name, row.scope), ""
