"""count_sessions and check_redis, as the metrics exporter and the health check call them."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.sessions import store as ss
from odoo_saas_tools.sessions.status import check_redis, count_sessions, redis_sessions
from tests.support.net import free_port
from tests.support.redis import REDIS_PASSWORD, RedisServer


def redis_settings(saas_env: dict[str, str], **extra: str) -> Settings:
    return Settings.from_env({**saas_env, "ODOO_ENABLE_REDIS": "true", **extra})


def test_count_session_files(settings: Settings) -> None:
    assert count_sessions(settings) == 0  # no sessions directory yet
    for _ in range(3):
        sid = ss.generate_key()
        (settings.sessions_dir / sid[:2]).mkdir(parents=True, exist_ok=True)
        (settings.sessions_dir / sid[:2] / sid).write_text("{}")
    (settings.sessions_dir / "ab").mkdir(exist_ok=True)
    (settings.sessions_dir / "ab" / "tmpXYZ.__wz_sess").write_text("")  # a save in progress
    assert count_sessions(settings) == 3


def test_count_redis_sessions_by_url(saas_env: dict[str, str], redis_server: RedisServer) -> None:
    prefix = f"count-{uuid.uuid4().hex[:6]}:"
    s = redis_settings(saas_env, ODOO_REDIS_URL=redis_server.url, ODOO_REDIS_PREFIX=prefix)
    store = redis_sessions(s)
    assert count_sessions(s) == 0
    sids = [ss.generate_key() for _ in range(4)]
    for sid in sids:
        store.store(sid, {}, 60)
    try:
        assert count_sessions(s) == 4
    finally:
        store.client.unlink(*(prefix + sid for sid in sids))


def test_host_port_password_settings(saas_env: dict[str, str], redis_server: RedisServer) -> None:
    s = redis_settings(
        saas_env,
        ODOO_REDIS_HOST="127.0.0.1",
        ODOO_REDIS_PORT=str(redis_server.port),
        ODOO_REDIS_DBINDEX="3",
        ODOO_REDIS_PASSWORD=REDIS_PASSWORD,
        ODOO_REDIS_PREFIX=f"hp-{uuid.uuid4().hex[:6]}:",
    )
    ok, message = check_redis(s)
    assert ok, message
    store = redis_sessions(s)
    sid = ss.generate_key()
    store.store(sid, {}, 60)
    try:
        assert store.client.connection_pool.connection_kwargs["db"] == 3
        assert count_sessions(s) == 1
    finally:
        store.remove(sid)


def test_check_redis(saas_env: dict[str, str], redis_server: RedisServer) -> None:
    assert check_redis(Settings.from_env(saas_env)) == (True, "Redis sessions disabled")
    ok, message = check_redis(redis_settings(saas_env, ODOO_REDIS_URL=redis_server.url))
    assert ok and "answers" in message and REDIS_PASSWORD not in message
    wrong = redis_server.url.replace(REDIS_PASSWORD, "nope-nope")
    ok, message = check_redis(redis_settings(saas_env, ODOO_REDIS_URL=wrong))
    assert not ok and "authentication failed" in message and "nope-nope" not in message
    port = free_port()
    ok, message = check_redis(
        redis_settings(saas_env, ODOO_REDIS_URL=f"redis://127.0.0.1:{port}/0"), timeout=1
    )
    assert not ok and "unreachable" in message


def test_check_redis_bad_url_is_a_failure_not_a_crash(settings: Settings) -> None:
    s = dataclasses.replace(settings, enable_redis=True, redis_url="http://127.0.0.1:1/0")
    ok, message = check_redis(s)
    assert not ok and "redis://" in message


def test_settings_refuse_a_non_redis_url(saas_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="ODOO_REDIS_URL must start with redis://"):
        redis_settings(saas_env, ODOO_REDIS_URL="https://:secret@cache:6379/0")


def test_password_with_url_characters_survives(saas_env: dict[str, str]) -> None:
    secret = "p@ss:w/rd%#?; x"
    s = redis_settings(saas_env, ODOO_REDIS_HOST="cache", ODOO_REDIS_PASSWORD=secret)
    kwargs = redis_sessions(s).client.connection_pool.connection_kwargs
    assert kwargs["password"] == secret and kwargs["host"] == "cache"
