"""Odoo 19 HTTP sessions in Redis: the Redis-speaking half of the session store.

Plain Python (the `redis` client and the standard library only) so it runs inside Odoo's own
interpreter, where the odoo_saas_session_redis addon wraps it, and in odoo-saas's tools (metrics,
health) without Odoo. It follows Odoo 19's session rules: 84-character URL-safe keys whose first
42 characters identify a device across soft rotations, JSON values, a lifetime that starts again
at every save. Keys expire by Redis TTL, so nothing ever has to sweep them, and every operation on
the whole prefix walks it with SCAN: KEYS would block a shared Redis for as long as it runs.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis

KEY_LENGTH = 84
IDENTIFIER_LENGTH = 42  # the part that survives soft rotation (Odoo's STORED_SESSION_BYTES)
SESSION_LIFETIME = 60 * 60 * 24 * 7  # Odoo's default max inactivity
DELETION_TIMER = 120  # how long a soft-rotated session still answers (concurrent requests)
DEFAULT_PREFIX = "odoo:session:"
SCAN_BATCH = 1000
FEW_IDENTIFIERS = 4  # up to this many, one SCAN MATCH per identifier; more: one pass for all
_KEY_RE = re.compile(rf"^[A-Za-z0-9_-]{{{KEY_LENGTH}}}$")
_IDENTIFIER_RE = re.compile(rf"^[A-Za-z0-9_-]{{{IDENTIFIER_LENGTH}}}$")
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


class StoreError(RuntimeError):
    """Redis could not be used; the message is one line that names the server (no password)."""


def is_valid_key(sid: object) -> bool:
    return isinstance(sid, str) and _KEY_RE.match(sid) is not None


def is_valid_identifier(identifier: object) -> bool:
    return isinstance(identifier, str) and _IDENTIFIER_RE.match(identifier) is not None


def generate_key() -> str:
    """84 URL-safe characters from 63 random bytes (no padding), the format Odoo 19 checks."""
    return base64.urlsafe_b64encode(os.urandom(63)).decode("ascii")


def rotated_key(sid: str) -> str:
    """A new key that keeps the device identifier (first 42 characters) of sid."""
    return sid[:IDENTIFIER_LENGTH] + generate_key()[IDENTIFIER_LENGTH:]


def redacted_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username}:***@{host}" if parts.username else f":***@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def glob_escape(text: str) -> str:
    """Escape text for a Redis MATCH pattern (the prefix may contain * ? [ ])."""
    return _GLOB_SPECIAL.sub(r"\\\1", text)


def ttl_for(data: Mapping[str, Any], lifetime: int, now: float | None = None) -> int:
    """Seconds a saved session lives: its lifetime, or until its deletion time once rotated.

    A soft-rotated session carries `deletion_time`; whoever saves it again must not give it
    a new week of life, only what is left of its 120 seconds.
    """
    lifetime = max(1, int(lifetime))
    deletion = data.get("deletion_time")
    if isinstance(deletion, (int, float)):
        left = int(deletion - (time.time() if now is None else now)) + 1
        return max(1, min(lifetime, left))
    return lifetime


def decode(raw: bytes | str | None) -> dict[str, Any] | None:
    """A stored value as a session dict; None when missing or not a JSON object."""
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def connect(url: str, *, timeout: float = 5.0) -> redis.Redis:
    """A client for url (redis:// or rediss:// for TLS); connects lazily, fails after timeout."""
    scheme = urlsplit(url).scheme
    if scheme not in ("redis", "rediss", "unix"):
        raise StoreError(f"Redis URL must start with redis://, rediss:// or unix://: {scheme!r}")
    tls = (
        # redis-py before 5 (Debian's python3-redis, which Odoo's Python runs) does not check
        # the server's host name unless asked: a stolen certificate of any host would do.
        {"ssl_check_hostname": True, "ssl_cert_reqs": "required"} if scheme == "rediss" else {}
    )
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        retry_on_timeout=False,
        **tls,
    )


class RedisSessions:
    """Session dictionaries stored as JSON under `prefix + sid`, each with its own TTL."""

    def __init__(
        self, client: redis.Redis, prefix: str = DEFAULT_PREFIX, *, where: str = ""
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.where = where or "Redis"
        self._match = glob_escape(prefix) + "*"

    @classmethod
    def from_url(
        cls, url: str, prefix: str = DEFAULT_PREFIX, *, timeout: float = 5.0
    ) -> RedisSessions:
        return cls(connect(url, timeout=timeout), prefix, where=redacted_url(url))

    # --- errors ---------------------------------------------------------------------------
    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn the client's exceptions into one StoreError line that names the server."""
        try:
            yield
        except redis.exceptions.AuthenticationError as exc:
            raise StoreError(
                f"Redis session store {self.where}: authentication failed ({exc}); "
                "check the Redis password"
            ) from exc
        except redis.exceptions.ResponseError as exc:
            if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc):
                raise StoreError(
                    f"Redis session store {self.where}: authentication failed ({exc}); "
                    "check the Redis password"
                ) from exc
            raise StoreError(f"Redis session store {self.where}: {exc}") from exc
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise StoreError(f"Redis session store {self.where} unreachable: {exc}") from exc
        except redis.exceptions.RedisError as exc:
            raise StoreError(f"Redis session store {self.where}: {exc}") from exc

    def key(self, sid: str) -> str:
        if not is_valid_key(sid):
            raise ValueError(f"invalid session id {sid!r}")
        return self.prefix + sid

    # --- one session ----------------------------------------------------------------------
    def load(self, sid: str) -> dict[str, Any] | None:
        """The stored session, or None when missing, expired or unreadable."""
        with self._errors():
            raw = self.client.get(self.key(sid))
        return decode(raw)

    def store(self, sid: str, data: Mapping[str, Any], lifetime: int = SESSION_LIFETIME) -> int:
        """Write the session and (re)start its TTL; returns the TTL given."""
        ttl = ttl_for(data, lifetime)
        payload = json.dumps(dict(data), separators=(",", ":"))
        with self._errors():
            self.client.set(self.key(sid), payload, ex=ttl)
        return ttl

    def remove(self, sid: str) -> None:
        with self._errors():
            self.client.unlink(self.key(sid))

    def ttl(self, sid: str) -> int:
        """Seconds left (-2 missing, -1 no expiry), for tests and diagnostics."""
        with self._errors():
            return int(self.client.ttl(self.key(sid)))

    def begin_soft_rotation(
        self, sid: str, data: Mapping[str, Any], lifetime: int = SESSION_LIFETIME
    ) -> tuple[str, bool]:
        """Odoo's soft rotation, store side: returns (next sid, whether another request did it).

        The next sid keeps the 42-character identifier, so CSRF tokens and the device log still
        match. The old session is kept, pointing at its successor, for DELETION_TIMER seconds
        (a Redis expiry) so requests already in flight with the old cookie follow it.
        """
        key = self.key(sid)
        with self._errors(), self.client.pipeline() as pipe:
            while True:  # WATCH: of concurrent requests, exactly one picks the successor
                try:
                    pipe.watch(key)
                    current = decode(pipe.get(key))
                    successor = current.get("next_sid") if current else None
                    if isinstance(successor, str) and is_valid_key(successor):
                        pipe.unwatch()
                        return successor, True
                    next_sid = rotated_key(sid)
                    old = dict(data)
                    old["next_sid"] = next_sid
                    old["deletion_time"] = time.time() + DELETION_TIMER
                    ttl = ttl_for(old, min(lifetime, DELETION_TIMER))
                    pipe.multi()
                    pipe.set(key, json.dumps(old, separators=(",", ":")), ex=ttl)
                    pipe.execute()
                    return next_sid, False
                except redis.exceptions.WatchError:
                    continue

    # --- the whole prefix -----------------------------------------------------------------
    def scan_keys(self, pattern: str | None = None) -> Iterator[str]:
        """Every key under the prefix, by SCAN (never KEYS: it would block a shared Redis)."""
        with self._errors():
            for key in self.client.scan_iter(match=pattern or self._match, count=SCAN_BATCH):
                yield key.decode() if isinstance(key, bytes) else key

    def scan_sids(self, identifiers: set[str] | None = None) -> Iterator[str]:
        """Session ids under the prefix; with a few identifiers, Redis filters them (MATCH)."""
        start = len(self.prefix)
        if identifiers is not None and len(identifiers) <= FEW_IDENTIFIERS:
            patterns = [glob_escape(self.prefix) + ident + "*" for ident in sorted(identifiers)]
        else:
            patterns = [self._match]
        for pattern in patterns:
            for key in self.scan_keys(pattern):
                sid = key[start:]
                if is_valid_key(sid) and (
                    identifiers is None or sid[:IDENTIFIER_LENGTH] in identifiers
                ):
                    yield sid

    def count(self) -> int:
        return sum(1 for _ in self.scan_sids())

    def existing_identifiers(self, identifiers: Iterable[str]) -> set[str]:
        """Which of these 42-character identifiers still have a session (one SCAN pass)."""
        wanted = set(identifiers)
        found: set[str] = set()
        if not wanted:
            return found
        for sid in self.scan_sids(wanted):
            found.add(sid[:IDENTIFIER_LENGTH])
            if found == wanted:
                break
        return found

    def missing_identifiers(self, identifiers: Iterable[str]) -> set[str]:
        wanted = set(identifiers)
        return wanted - self.existing_identifiers(wanted)

    def remove_identifiers(self, identifiers: Iterable[str]) -> int:
        """Delete every session whose sid starts with one of these identifiers; returns count.

        Identifiers must be exactly 42 URL-safe characters, as Odoo requires: anything else
        (a string passed instead of a list, a pattern) would widen the deletion.
        """
        wanted = list(identifiers)
        if isinstance(identifiers, str):
            raise ValueError("identifiers must be a list of strings, not a string")
        for ident in wanted:
            if not is_valid_identifier(ident):
                raise ValueError(f"session identifier format incorrect: {ident!r}")
        targets = set(wanted)
        if not targets:
            return 0
        doomed = [self.prefix + sid for sid in self.scan_sids(targets)]
        removed = 0
        with self._errors():
            for i in range(0, len(doomed), SCAN_BATCH):
                removed += int(self.client.unlink(*doomed[i : i + SCAN_BATCH]))
        return removed

    def ping(self) -> None:
        with self._errors():
            self.client.ping()

    def close(self) -> None:
        """Drop the pooled connections (one-shot users: metrics, health)."""
        self.client.close()
