"""The fixtures give real servers: a cluster with a password-protected role, a Redis."""

import psycopg2
import pytest
import redis

from tests.support.pg import ROLE, ROLE_PASSWORD


def test_pg_role_needs_its_password(pg):
    conn = psycopg2.connect(
        host="127.0.0.1", port=pg.port, user=ROLE, password=ROLE_PASSWORD, dbname="postgres"
    )
    conn.close()
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(
            host="127.0.0.1", port=pg.port, user=ROLE, password="wrong", dbname="postgres"
        )


def test_redis_needs_its_password(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    assert client.ping() is True
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=redis_server.port, password="wrong").ping()
