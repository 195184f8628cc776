"""rediss:// (TLS) against a real redis-server listening with TLS only."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.sessions import store as ss
from odoo_saas_tools.sessions.status import check_redis
from odoo_saas_tools.sessions.store import RedisSessions, StoreError
from tests.support.net import free_port, wait_port

PASSWORD = "tls-redis-secret-3e9b"


def tls_server(
    tmp_path_factory: pytest.TempPathFactory,
    subject: str = "/CN=localhost",
    names: str = "subjectAltName=DNS:localhost,IP:127.0.0.1",
) -> Iterator[tuple[int, Path]]:
    """(port, CA file) of a redis-server that only speaks TLS, with a self-signed certificate."""
    if not shutil.which("openssl"):
        pytest.skip("openssl not found: cannot make a test certificate")
    tmp = tmp_path_factory.mktemp("tls-redis")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", subject,
            "-addext", names,
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    port = free_port()
    proc = subprocess.Popen(
        [
            "redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
            "--tls-cert-file", str(cert), "--tls-key-file", str(key),
            "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no",
            "--save", "", "--appendonly", "no", "--dir", str(tmp), "--requirepass", PASSWORD,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_port(port, 15)
        yield port, cert
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    yield from tls_server(tmp_path_factory)


@pytest.fixture(scope="module")
def tls_redis_other_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """A trusted certificate, but for another host name than the one we connect to."""
    yield from tls_server(tmp_path_factory, "/CN=other.example", "subjectAltName=DNS:other.example")


def test_certificate_for_another_host_is_refused(tls_redis_other_host: tuple[int, Path]) -> None:
    """Issue 11 item 16: redis-py 4.x (Debian's, in Odoo's Python) skips the host name check
    unless asked; the store asks, so a certificate of another host is refused."""
    port, ca = tls_redis_other_host
    store = RedisSessions.from_url(
        f"rediss://:{PASSWORD}@localhost:{port}/0?ssl_ca_certs={ca}", "tls:"
    )
    with pytest.raises(StoreError) as err:
        store.count()
    assert PASSWORD not in str(err.value)
    kwargs = store.client.connection_pool.connection_kwargs
    assert kwargs["ssl_check_hostname"] is True


def test_rediss_url_with_ca(tls_redis: tuple[int, Path]) -> None:
    port, ca = tls_redis
    store = RedisSessions.from_url(
        f"rediss://:{PASSWORD}@localhost:{port}/0?ssl_ca_certs={ca}", "tls:"
    )
    sid = ss.generate_key()
    store.store(sid, {"uid": 7}, 60)
    assert store.load(sid) == {"uid": 7}
    assert store.count() == 1
    store.remove(sid)


def test_untrusted_certificate_is_refused(tls_redis: tuple[int, Path]) -> None:
    port, _ = tls_redis
    store = RedisSessions.from_url(f"rediss://:{PASSWORD}@localhost:{port}/0", "tls:", timeout=3)
    with pytest.raises(StoreError) as err:
        store.ping()
    assert "certificate" in str(err.value).lower() and PASSWORD not in str(err.value)


def test_plain_redis_url_on_a_tls_port_fails(tls_redis: tuple[int, Path]) -> None:
    port, _ = tls_redis
    store = RedisSessions.from_url(f"redis://:{PASSWORD}@127.0.0.1:{port}/0", "tls:", timeout=2)
    with pytest.raises(StoreError, match="Redis session store"):
        store.ping()


def test_health_check_over_tls(saas_env: dict[str, str], tls_redis: tuple[int, Path]) -> None:
    port, ca = tls_redis
    s = Settings.from_env(
        {
            **saas_env,
            "ODOO_ENABLE_REDIS": "true",
            "ODOO_REDIS_URL": f"rediss://:{PASSWORD}@localhost:{port}/0?ssl_ca_certs={ca}",
        }
    )
    ok, message = check_redis(s)
    assert ok, message
    assert message.startswith("Redis session store rediss://:***@localhost")
