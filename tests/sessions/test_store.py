"""The Redis half of the session store, against a real redis-server (no Odoo needed)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from odoo_saas_tools.sessions import store as ss
from odoo_saas_tools.sessions.store import RedisSessions, StoreError
from tests.support.redis import REDIS_PASSWORD, RedisServer


def test_keys_follow_odoo_19_format() -> None:
    keys = {ss.generate_key() for _ in range(200)}
    assert len(keys) == 200
    assert all(len(k) == 84 and ss.is_valid_key(k) for k in keys)
    sid = ss.generate_key()
    nxt = ss.rotated_key(sid)
    assert nxt != sid and nxt[:42] == sid[:42] and ss.is_valid_key(nxt)
    assert not ss.is_valid_key("a" * 83)
    assert not ss.is_valid_key("a" * 83 + "/")
    assert not ss.is_valid_key("a" * 40)  # werkzeug's old sha1 keys are refused
    assert ss.is_valid_identifier(sid[:42]) and not ss.is_valid_identifier(sid[:41] + "*")


def test_store_load_remove_and_ttl(store: RedisSessions) -> None:
    sid = ss.generate_key()
    assert store.load(sid) is None
    data = {"uid": 2, "db": "x", "context": {"lang": "fr_FR"}, "_trace": []}
    assert store.store(sid, data, 3600) == 3600
    assert store.load(sid) == data
    assert 3590 <= store.ttl(sid) <= 3600
    raw = store.client.get(store.prefix + sid)
    assert raw.startswith(b"{") and b'"uid":2' in raw  # plain JSON, readable by anyone
    store.store(sid, {**data, "uid": 3})  # default lifetime: Odoo's 7 days, restarted
    assert store.load(sid)["uid"] == 3
    assert store.ttl(sid) > 7 * 24 * 3600 - 10
    store.remove(sid)
    assert store.load(sid) is None
    assert store.ttl(sid) == -2


def test_invalid_and_corrupt_values(store: RedisSessions) -> None:
    with pytest.raises(ValueError, match="invalid session id"):
        store.store("../../etc/passwd", {})
    with pytest.raises(ValueError):
        store.load("short")
    sid = ss.generate_key()
    store.client.set(store.prefix + sid, b"not json")
    assert store.load(sid) is None
    store.client.set(store.prefix + sid, b"[1, 2]")
    assert store.load(sid) is None


def test_soft_rotation_keeps_identifier_and_expires_old_key(store: RedisSessions) -> None:
    sid = ss.generate_key()
    data = {"uid": 2, "create_time": time.time() - 4 * 3600}
    store.store(sid, data)
    nxt, already = store.begin_soft_rotation(sid, data)
    assert not already and nxt[:42] == sid[:42] and nxt != sid
    old = store.load(sid)
    assert old["next_sid"] == nxt and old["uid"] == 2
    assert 0 < store.ttl(sid) <= ss.DELETION_TIMER  # Redis deletes it, no sweeper needed
    # A concurrent request still holding the old cookie follows the same successor.
    again, already = store.begin_soft_rotation(sid, data)
    assert already and again == nxt
    # Saving the old session again must not give it a new week of life.
    store.store(sid, old)
    assert 0 < store.ttl(sid) <= ss.DELETION_TIMER


def test_ttl_for_rotated_sessions() -> None:
    now = 1000.0
    assert ss.ttl_for({}, 500, now) == 500
    assert ss.ttl_for({"deletion_time": now + 30}, 500, now) == 31
    assert ss.ttl_for({"deletion_time": now - 30}, 500, now) == 1
    assert ss.ttl_for({"deletion_time": now + 9999}, 500, now) == 500
    assert ss.ttl_for({}, 0, now) == 1


def test_delete_from_identifiers(store: RedisSessions) -> None:
    a = ss.generate_key()
    a2 = ss.rotated_key(a)
    b = ss.generate_key()
    for sid in (a, a2, b):
        store.store(sid, {"uid": 1})
    assert store.remove_identifiers([a[:42]]) == 2
    assert store.load(a) is None and store.load(a2) is None
    assert store.load(b) == {"uid": 1}
    assert store.remove_identifiers([]) == 0
    with pytest.raises(ValueError, match="list"):
        store.remove_identifiers(b[:42])  # a string, not a list: Odoo refuses it too
    with pytest.raises(ValueError, match="identifier"):
        store.remove_identifiers([b[:10]])  # a short prefix would widen the deletion
    with pytest.raises(ValueError):
        store.remove_identifiers(["*" * 42])
    assert store.load(b) == {"uid": 1}


def test_missing_identifiers(store: RedisSessions) -> None:
    a, b = ss.generate_key(), ss.generate_key()
    store.store(a, {})
    gone = ss.generate_key()[:42]
    assert store.missing_identifiers({a[:42], b[:42], gone}) == {b[:42], gone}
    assert store.missing_identifiers([]) == set()


def test_prefixes_are_isolated_even_with_glob_characters(redis_server: RedisServer) -> None:
    star = RedisSessions.from_url(redis_server.url, "iso*[x]:")
    plain = RedisSessions.from_url(redis_server.url, "isoA[x]:")
    sid = ss.generate_key()
    try:
        plain.store(sid, {})
        assert star.count() == 0  # '*' in the prefix is literal, not a wildcard
        assert plain.count() == 1
        assert star.remove_identifiers([sid[:42]]) == 0
        assert plain.load(sid) == {}
    finally:
        plain.remove(sid)


def test_prefix_wide_operations_scan_never_keys(store: RedisSessions) -> None:
    """With 5,000 sessions: counted, searched and deleted by SCAN; KEYS is never sent."""
    pipe = store.client.pipeline(transaction=False)
    sids = [ss.generate_key() for _ in range(5000)]
    for sid in sids:
        pipe.set(store.prefix + sid, b"{}", ex=600)
    pipe.execute()
    store.client.set(store.prefix + "not-a-session", b"{}", ex=600)  # ignored: not a sid
    store.client.config_resetstat()
    started = time.perf_counter()
    assert store.count() == 5000
    assert store.missing_identifiers([sids[0][:42], "x" * 42]) == {"x" * 42}
    assert store.remove_identifiers([s[:42] for s in sids[:100]]) == 100
    elapsed = time.perf_counter() - started
    stats = store.client.info("commandstats")
    assert "cmdstat_keys" not in stats
    assert stats["cmdstat_scan"]["calls"] >= 3 * 5  # several cursor steps per pass
    assert store.count() == 4900
    assert elapsed < 5, elapsed


def test_wrong_password_is_one_clear_line(redis_server: RedisServer) -> None:
    url = redis_server.url.replace(REDIS_PASSWORD, "wrong-secret")
    bad = RedisSessions.from_url(url, "x:")
    with pytest.raises(StoreError) as err:
        bad.ping()
    message = str(err.value)
    assert "authentication failed" in message and "password" in message
    assert "wrong-secret" not in message and "\n" not in message
    no_password = RedisSessions.from_url(f"redis://127.0.0.1:{redis_server.port}/0", "x:")
    with pytest.raises(StoreError, match="authentication failed"):
        no_password.load(ss.generate_key())


def test_unreachable_redis_fails_fast_and_clearly() -> None:
    from tests.support.net import free_port

    port = free_port()
    down = RedisSessions.from_url(f"redis://:s3cret@127.0.0.1:{port}/0", "x:", timeout=1)
    started = time.monotonic()
    with pytest.raises(StoreError) as err:
        down.count()
    assert time.monotonic() - started < 5
    assert "unreachable" in str(err.value) and f"127.0.0.1:{port}" in str(err.value)
    assert "s3cret" not in str(err.value)


def test_bad_url_scheme() -> None:
    with pytest.raises(StoreError, match="redis://"):
        RedisSessions.from_url("http://127.0.0.1:6379/0")


def test_redacted_url() -> None:
    assert ss.redacted_url("redis://:pw@h:1/0") == "redis://:***@h:1/0"
    assert ss.redacted_url("rediss://user:pw@h/2") == "rediss://user:***@h/2"
    assert ss.redacted_url("redis://h:6379/0") == "redis://h:6379/0"


def test_concurrent_soft_rotations_agree_on_one_successor(store: RedisSessions) -> None:
    """The web client fires many requests at once after a 3 h pause: one successor for all."""
    sid = ss.generate_key()
    data = {"uid": 2}
    store.store(sid, data)
    barrier = threading.Barrier(12)

    def rotate(_: int) -> tuple[str, bool]:
        barrier.wait()
        return store.begin_soft_rotation(sid, data)

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(rotate, range(12)))
    successors = {nxt for nxt, _ in results}
    assert len(successors) == 1
    assert sum(1 for _, already in results if not already) == 1
    assert store.load(sid)["next_sid"] == successors.pop()
