"""The exporter as a running program: process tree figures, basic auth, the odoo-metrics.py name."""

from __future__ import annotations

import shutil
import sys
import time
import urllib.error
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.metrics.conftest import ROOT, labelled, value
from tests.support.odoo_standin import FakeOdoo


@pytest.fixture
def fake_odoo(metrics_env):
    tree = FakeOdoo(
        Path(metrics_env["ODOO_SAAS_RUNTIME_DIR"]),
        children=2,
        http_port=int(metrics_env["ODOO_HTTP_PORT"]),
        busy=True,
    )
    yield tree
    tree.stop()


def test_process_tree_memory_cpu_and_workers(metrics_env, fake_odoo, start_exporter):
    exporter = start_exporter(metrics_env)
    # CPU% needs two samples of the same processes: wait for the second fast refresh
    samples = exporter.wait_for(lambda s: (value(s, "odoo_cpu_usage_percent") or 0) > 0)
    assert value(samples, "odoo_up") == 1
    assert value(samples, "odoo_process_running") == 1
    assert value(samples, "odoo_processes") == 3
    assert labelled(samples, "odoo_worker_processes", "kind") == {"gevent": 1, "worker": 1}
    # the figure is the tree's resident memory as the kernel counts it, not the exporter's
    real = fake_odoo.rss_from_proc()
    reported = value(samples, "odoo_memory_usage_bytes")
    assert abs(reported - real) <= 0.1 * real, (reported, real)
    assert reported > 2 * 24 * 1024**2  # both children hold 24 MiB
    # two children burning CPU: clearly above idle on any machine
    assert value(samples, "odoo_cpu_usage_percent") > 5

    fake_odoo.stop()
    samples = exporter.wait_for(lambda s: value(s, "odoo_process_running") == 0)
    assert value(samples, "odoo_memory_usage_bytes") is None
    samples = exporter.wait_for(lambda s: value(s, "odoo_up") == 0)


def test_basic_auth_and_documented_script(metrics_env, start_exporter, tmp_path):
    """scripts/odoo-metrics.py runs `odoo-saas metrics serve`; basic auth guards /metrics."""
    env = {
        **metrics_env,
        "ODOO_METRICS_USER": "prom",
        "ODOO_METRICS_PASSWORD": "scrape-secret-77",
        "ODOO_METRICS_BIND": "127.0.0.1",
    }
    bindir = Path(sys.executable).parent
    assert shutil.which("odoo-saas", path=str(bindir)), "odoo-saas not installed in the venv"
    env["PATH"] = f"{bindir}:{env['PATH']}"
    exporter = start_exporter(env, [sys.executable, str(ROOT / "scripts" / "odoo-metrics.py")])
    for auth in (None, ("prom", "wrong"), ("other", "scrape-secret-77"), ("prom", "")):
        with pytest.raises(urllib.error.HTTPError) as err:
            exporter.get(auth=auth)
        assert err.value.code == 401
        assert "Basic" in err.value.headers["WWW-Authenticate"]
    with exporter.get(auth=("prom", "scrape-secret-77")) as resp:
        assert resp.status == 200
        assert b"odoo_process_running" in resp.read()
    with pytest.raises(urllib.error.HTTPError) as err:
        exporter.get("/nothing", auth=("prom", "scrape-secret-77"))
    assert err.value.code == 404


def test_busy_port_is_one_clear_error(metrics_env, start_exporter):
    from tests.support.cli import run_cli

    exporter = start_exporter(metrics_env)
    started = time.monotonic()
    proc = run_cli(metrics_env, "metrics", "serve", timeout=30)
    assert time.monotonic() - started < 20
    assert proc.returncode == 1
    assert f"cannot listen on 0.0.0.0:{exporter.port}" in proc.stderr
    assert proc.stderr.count("error:") == 1
    assert exporter.proc.poll() is None


SLOW_KINDS = {
    # what each client sends at once, and what it then sends again every 0.1 s (or nothing)
    "half a request line": (b"GET /metr", b""),
    "headers that never end": (b"GET /metrics HTTP/1.1\r\nHost: x\r\n", b""),
    "one byte at a time": (b"GET /metrics HTTP/1.1\r\nX-Pad: ", b"a"),
    "a body that never ends": (
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n",
        b"a",
    ),
    "idle after its answer": (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b""),
    "never reads its answer": (b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 4, b""),
    "an answer that never ends": (b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n", b""),
}


@contextmanager
def _served(limits=None, bind="127.0.0.1", big=False, **auth):
    """The exporter's app under core.asgi_server in a thread; yields (port, uvicorn server)."""
    import asyncio
    import socket
    import threading

    from prometheus_client import CollectorRegistry, Gauge

    from odoo_saas_tools.core import asgi_server
    from odoo_saas_tools.observability.metrics.server import MetricsApp

    registry = CollectorRegistry()
    # big: 256 kB per answer, more than the kernel buffers of a client that reads nothing
    # (accepted sockets inherit the listener's small send buffer: no autotuning to megabytes)
    Gauge("odoo_up", "x" * 256_000 if big else "test", registry=registry).set(1)
    sock = asgi_server.listen(bind, 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    app = MetricsApp(registry, **auth)

    async def with_a_slow_path(scope, receive, send):
        """/slow: an answer that lasts as long as its client stays connected."""
        if scope["type"] == "http" and scope["path"] == "/slow":
            while (await receive())["type"] != "http.disconnect":
                pass
            return
        if scope["type"] == "http" and scope["path"] == "/pause":
            await asyncio.sleep(0.8)  # a slow answer, then the usual one
        await app(scope, receive, send)

    server = asgi_server.make_server(with_a_slow_path, limits or asgi_server.Limits())
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    _until(lambda: server.started, 10)
    try:
        yield sock.getsockname()[1], server
    finally:
        server.should_exit = True
        thread.join(10)
        assert not thread.is_alive(), "the server did not stop"


def _until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _get(port: int, path: str = "/metrics", host: str = "127.0.0.1", **kwargs):
    import urllib.request

    req = urllib.request.Request(f"http://{host}:{port}{path}", **kwargs)  # noqa: S310
    return urllib.request.urlopen(req, timeout=5)  # noqa: S310 - http on loopback


@pytest.mark.parametrize("kind", SLOW_KINDS)
def test_slow_clients_cannot_grow_the_exporter(kind):
    """Issue 11 item 14 and issue 26 item 8, every way of being slow: no client costs a thread,
    more of them than the cap close the oldest, a scrape answers at once meanwhile, and each is
    closed by its deadline, which bytes trickling in never push back."""
    import socket
    import threading

    from odoo_saas_tools.core.asgi_server import Limits

    limits = Limits(header_timeout=1, response_timeout=1, max_connections=16, backlog=64)
    first, again = SLOW_KINDS[kind]
    with _served(limits, big=kind == "never reads its answer") as (port, server):
        threads = threading.active_count()
        clients = []
        for _ in range(24):
            c = socket.socket()
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            c.connect(("127.0.0.1", port))
            c.sendall(first)
            clients.append(c)
        stop = threading.Event()

        def trickle() -> None:
            while again and not stop.wait(0.1):
                for c in clients:
                    with suppress(OSError):  # closed by the server: what we wait for
                        c.sendall(again)

        feeder = threading.Thread(target=trickle, daemon=True)
        feeder.start()
        try:
            # all accepted (the kernel's queue holds them until then), the oldest closed
            assert _until(lambda: len(server.server_state.connections) >= 16, 1)
            started = time.monotonic()
            with _get(port) as resp:
                assert b"odoo_up 1.0" in resp.read()
            assert time.monotonic() - started < 1.0
            assert threading.active_count() <= threads + 1  # + the feeder
            assert len(server.server_state.connections) <= limits.max_connections
            # gone by the deadlines, though some still send
            timeout = limits.header_timeout + limits.response_timeout + 1.5
            assert _until(lambda: not server.server_state.connections, timeout), (
                f"{len(server.server_state.connections)} connections left"
            )
        finally:
            stop.set()
            feeder.join()
            for c in clients:
                c.close()


def test_beyond_the_cap_the_oldest_waiting_connections_are_closed():
    """A new client is always heard: the oldest connection still waiting for its request makes
    room at once; those being answered go last (a real scrape is answered in milliseconds)."""
    from odoo_saas_tools.core.asgi_server import Limits

    limits = Limits(header_timeout=30, response_timeout=30, max_connections=16, backlog=64)
    with _served(limits) as (port, server):

        def answering() -> int:
            return sum(c.answering for c in server.server_state.connections)

        busy = _slow_clients(port, 4, b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        clients = []
        try:
            assert _until(lambda: answering() == 4, 2)
            clients = _slow_clients(port, 20)  # 4 + 20 > 16: the 8 oldest waiting go
            assert not _closed_by_server(clients[:8], 2), "the 8 oldest should be closed"
            with _get(port) as resp:  # one more connection: the 9th oldest makes room
                assert resp.status == 200
            assert not _closed_by_server(clients[8:9], 2)
            assert _closed_by_server(clients[9:], 0.3) == clients[9:]  # the others still wait
            assert answering() == 4
        finally:
            for c in busy + clients:
                c.close()


def test_each_answer_gives_a_keep_alive_client_a_new_deadline():
    """The deadline is per request: a client that keeps asking on one connection is served."""
    import http.client

    from odoo_saas_tools.core.asgi_server import Limits

    with _served(Limits(header_timeout=0.5)) as (port, server):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            started = time.monotonic()
            while time.monotonic() - started < 1.5:  # three deadlines
                conn.request("GET", "/metrics")
                resp = conn.getresponse()
                assert resp.status == 200 and b"odoo_up" in resp.read()
                assert len(server.server_state.connections) == 1  # the same connection
                time.sleep(0.25)
        finally:
            conn.close()


def test_an_answer_in_progress_outlives_the_request_deadline():
    """A request that came in time is answered, even when the answer ends past the deadline."""
    import http.client

    from odoo_saas_tools.core.asgi_server import Limits

    with _served(Limits(header_timeout=0.5, response_timeout=2)) as (port, _server):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.connect()
            time.sleep(0.3)  # the request comes late, its answer takes 0.8 s: ends at 1.1 s
            conn.request("GET", "/pause")
            assert conn.getresponse().status == 404
        finally:
            conn.close()


def test_basic_auth_methods_paths_and_ipv6():
    """The same answers as the thread server had: auth on every path, both parts compared."""
    import base64
    import socket
    import urllib.error

    from prometheus_client import CONTENT_TYPE_LATEST

    def basic(user: str, password: str) -> dict:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    bind = "::1" if socket.has_ipv6 else "127.0.0.1"
    host = "[::1]" if socket.has_ipv6 else "127.0.0.1"
    with _served(bind=bind, user="prom", password="scrape-secret-77") as (port, _server):
        wrong = (
            {},
            basic("prom", "wrong"),
            basic("other", "scrape-secret-77"),
            basic("", "scrape-secret-77"),
            basic("prom", ""),
            {"Authorization": "Basic prom:scrape-secret-77"},  # not base64
            {"Authorization": "Bearer scrape-secret-77"},
        )
        for headers in wrong:
            for path in ("/metrics", "/", "/nothing"):
                with pytest.raises(urllib.error.HTTPError) as err:
                    _get(port, path, host, headers=headers)
                assert err.value.code == 401, (headers, path)
                assert err.value.headers["WWW-Authenticate"] == 'Basic realm="metrics"'
        right = basic("prom", "scrape-secret-77")
        with _get(port, host=host, headers=right) as resp:
            assert resp.headers["Content-Type"] == CONTENT_TYPE_LATEST
            assert b"odoo_up 1.0" in resp.read()
        with _get(port, host=host, headers=right, method="HEAD") as resp:
            assert resp.status == 200 and resp.read() == b""
        with _get(port, "/", host, headers=right) as resp:
            assert b"see /metrics" in resp.read()
        for path, method, code in (("/nothing", "GET", 404), ("/metrics", "POST", 405)):
            with pytest.raises(urllib.error.HTTPError) as err:
                _get(port, path, host, headers=right, method=method)
            assert err.value.code == code


def test_password_without_user_is_refused(saas_env):
    """Issue 11 item 15: a password alone used to leave the exporter open without a word."""
    from odoo_saas_tools.core.errors import ConfigError
    from odoo_saas_tools.core.settings import Settings

    with pytest.raises(ConfigError, match="ODOO_METRICS_USER is empty"):
        Settings.from_env({**saas_env, "ODOO_METRICS_PASSWORD": "only-a-password"})


def _slow_clients(port: int, count: int, send: bytes = b"GET /metr") -> list:
    """Connections that each send half a request line (or send) and nothing more."""
    import socket

    clients = []
    for _ in range(count):
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(send)
        clients.append(c)
    return clients


def _timed(call) -> tuple[float, str]:
    """How long one scrape took and how it ended (a status code, or the error's name)."""
    started = time.monotonic()
    try:
        with call() as resp:
            resp.read()
            outcome = str(resp.status)
    except urllib.error.HTTPError as exc:
        outcome = str(exc.code)
    except OSError as exc:
        outcome = type(exc).__name__
    return time.monotonic() - started, outcome


def _closed_by_server(clients: list, timeout: float) -> list:
    """Waits until the server has closed every client; returns those still open after timeout."""
    import select

    open_ = list(clients)
    deadline = time.monotonic() + timeout
    while open_ and time.monotonic() < deadline:
        readable, _, _ = select.select(open_, [], [], 0.2)
        for c in readable:
            try:
                if c.recv(4096) == b"":
                    open_.remove(c)
            except OSError:  # reset: closed too
                open_.remove(c)
    return open_


def test_a_scrape_answers_within_1s_while_300_slow_clients_hold_connections(
    metrics_env, start_exporter
):
    """Issue 26 item 8: with 300 connections that each sent half a request line, a scrape got no
    answer for 10 s and more (4 worker threads, each held by one of them). The exporter as
    supervisord runs it must answer a real scrape at once, enforce basic auth meanwhile, grow
    neither threads nor file descriptors with the slow clients, and close them all on its own."""
    import psutil

    auth = ("prom", "scrape-secret-77")
    env = {
        **metrics_env,
        "ODOO_METRICS_USER": auth[0],
        "ODOO_METRICS_PASSWORD": auth[1],
        "ODOO_METRICS_BIND": "127.0.0.1",
    }
    exporter = start_exporter(env)
    proc = psutil.Process(exporter.proc.pid)
    assert _timed(lambda: exporter.get(auth=auth))[1] == "200"
    threads, fds = proc.num_threads(), proc.num_fds()

    clients = _slow_clients(exporter.port, 300)
    try:
        scrapes = [_timed(lambda: exporter.get(auth=auth)) for _ in range(5)]
        assert all(outcome == "200" and took < 1.0 for took, outcome in scrapes), scrapes
        for wrong in (None, ("prom", "wrong"), ("", auth[1])):
            assert _timed(lambda w=wrong: exporter.get(auth=w))[1] == "401"

        from odoo_saas_tools.core.asgi_server import Limits

        # one event loop: the slow clients cost no thread (the refresh may add its helper)
        assert proc.num_threads() <= threads + 1
        # and at most the connection cap in descriptors: the oldest are closed beyond it
        assert proc.num_fds() <= fds + Limits().max_connections + 8
        still_open = _closed_by_server(clients, Limits().header_timeout + 3)
        assert not still_open, f"{len(still_open)} slow clients still connected"
        assert proc.num_fds() <= fds + 2
        assert _timed(lambda: exporter.get(auth=auth))[1] == "200"

        # SIGTERM (supervisord's stop) with slow clients connected: a clean exit, at once
        clients += _slow_clients(exporter.port, 20)
        started = time.monotonic()
        output = exporter.stop()
        assert time.monotonic() - started < 3
        assert exporter.proc.returncode == 0, output
        assert "stopping on signal 15" in output
        assert "Traceback" not in output and "ERROR" not in output, output
    finally:
        for c in clients:
            c.close()
