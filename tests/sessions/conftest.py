"""Fixtures of the sessions area: a store on the shared Redis under a prefix of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from odoo_saas_tools.sessions.store import RedisSessions
from tests.support.redis import RedisServer


@pytest.fixture
def store(redis_server: RedisServer) -> Iterator[RedisSessions]:
    """A RedisSessions whose keys no other test sees; removed afterwards."""
    sessions = RedisSessions.from_url(redis_server.url, f"t-{uuid.uuid4().hex[:8]}:session:")
    yield sessions
    keys = list(sessions.scan_keys())
    if keys:
        sessions.client.unlink(*keys)
