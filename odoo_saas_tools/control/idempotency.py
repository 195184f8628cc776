"""Idempotency keys: a retried request (same key, same body) gets the first one's outcome.

The key belongs to the token that sent it; the request is summed up as a sha256 of its method,
path and validated body (so whitespace and key order do not make two requests differ). Within
TTL_HOURS, the same key with another request is refused (422), the same request gets the stored
status and body. The whole exchange runs in one transaction that holds a lock on the key: a
retry sent while the first is still being handled waits for its outcome instead of racing it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import psycopg2.extensions

from odoo_saas_tools.catalog import idempotency as catalog_idempotency
from odoo_saas_tools.core.errors import ConfigError

TTL_HOURS = 24
MAX_KEY = 255


class KeyReused(ConfigError):
    """The key was first used with another request."""


def request_sha256(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(
        {"method": method, "path": path, "body": body}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY or not all(33 <= ord(c) <= 126 for c in key):
        raise ConfigError(
            f"Idempotency-Key must be 1 to {MAX_KEY} printable ASCII characters without spaces"
        )
    return key


def replay(
    cr: psycopg2.extensions.cursor, token: str, key: str, digest: str
) -> catalog_idempotency.Outcome | None:
    """The stored outcome of this request (None: first time, go on in this transaction, which
    now holds the key); KeyReused for the same key with another request."""
    catalog_idempotency.lock_key(cr, token, key)
    outcome = catalog_idempotency.get(cr, token, key, TTL_HOURS)
    if outcome is None:
        return None
    if outcome.request_sha256 != digest:
        raise KeyReused(
            "Idempotency-Key was already used with another request: use a new key for it"
        )
    return outcome


def remember(
    cr: psycopg2.extensions.cursor, token: str, key: str, digest: str, status: int, body: Any
) -> None:
    catalog_idempotency.put(cr, token, key, digest, status, body)


def purge(cr: psycopg2.extensions.cursor) -> int:
    return catalog_idempotency.purge(cr, TTL_HOURS)
