"""The `api_token` table: API tokens, stored as the sha256 of their secret part only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg2
import psycopg2.extensions

_COLUMNS = "name, lookup, secret_sha256, scope, created_at, expires_at, revoked_at, last_used_at"


@dataclass(frozen=True)
class Token:
    name: str
    lookup: str
    secret_sha256: bytes
    scope: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


def _row(row: tuple) -> Token:
    name, lookup, digest, *rest = row
    return Token(name, lookup, bytes(digest), *rest)


class NameTaken(Exception):
    pass


def insert(
    cr: psycopg2.extensions.cursor,
    *,
    name: str,
    lookup: str,
    secret_sha256: bytes,
    scope: str,
    expires_at: datetime | None,
) -> Token:
    """A new token; NameTaken when a token of that name exists (revoked ones too)."""
    cr.execute(
        f"INSERT INTO api_token (name, lookup, secret_sha256, scope, expires_at) "
        f"VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING RETURNING {_COLUMNS}",
        (name, lookup, psycopg2.Binary(secret_sha256), scope, expires_at),
    )
    row = cr.fetchone()
    if row is None:
        raise NameTaken(name)
    return _row(row)


def by_lookup(cr: psycopg2.extensions.cursor, lookup: str) -> Token | None:
    cr.execute(f"SELECT {_COLUMNS} FROM api_token WHERE lookup = %s", (lookup,))
    row = cr.fetchone()
    return _row(row) if row else None


def all_tokens(cr: psycopg2.extensions.cursor) -> list[Token]:
    cr.execute(f"SELECT {_COLUMNS} FROM api_token ORDER BY name")
    return [_row(r) for r in cr.fetchall()]


def revoke(cr: psycopg2.extensions.cursor, name: str) -> bool:
    """False when no such token, or already revoked."""
    cr.execute(
        "UPDATE api_token SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL "
        "RETURNING name",
        (name,),
    )
    return cr.fetchone() is not None


def touch(cr: psycopg2.extensions.cursor, name: str) -> None:
    """last_used_at, written at most once a minute per token."""
    cr.execute(
        "UPDATE api_token SET last_used_at = now() WHERE name = %s AND "
        "(last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
        (name,),
    )
