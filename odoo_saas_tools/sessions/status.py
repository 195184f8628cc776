"""Odoo's HTTP sessions seen from outside Odoo: how many there are, whether their store answers.

Used by the metrics exporter (odoo_session_count) and the health check. Sessions live in Redis
when ODOO_ENABLE_REDIS is on (the odoo_saas_session_redis addon), else as files under
<data_dir>/sessions (Odoo's default store, two-character sub-directories).
"""

from __future__ import annotations

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.runtime.render import redis_url
from odoo_saas_tools.sessions.store import RedisSessions, StoreError, is_valid_key

CHECK_TIMEOUT = 2.0


def redis_sessions(settings: Settings, *, timeout: float = 5.0) -> RedisSessions:
    """The same store the addon uses: the rendered URL and prefix, from the same settings."""
    return RedisSessions.from_url(redis_url(settings), settings.redis_prefix, timeout=timeout)


def count_sessions(settings: Settings) -> int:
    """Number of stored sessions; raises StoreError when Redis is on and unreachable."""
    if settings.enable_redis:
        store = redis_sessions(settings)
        try:
            return store.count()
        finally:
            store.close()
    root = settings.sessions_dir
    if not root.is_dir():
        return 0
    return sum(
        1
        for sub in root.iterdir()
        if sub.is_dir()
        for entry in sub.iterdir()
        if is_valid_key(entry.name)
    )


def check_redis(settings: Settings, timeout: float = CHECK_TIMEOUT) -> tuple[bool, str]:
    """(ok, one-line message) for the health check; (True, ...) when Redis is not in use."""
    if not settings.enable_redis:
        return True, "Redis sessions disabled"
    try:
        store = redis_sessions(settings, timeout=timeout)
    except StoreError as exc:
        return False, str(exc)
    try:
        store.ping()
    except StoreError as exc:
        return False, str(exc)
    finally:
        store.close()
    return True, f"Redis session store {store.where} answers"
