"""The exporter as a running program: process tree figures, basic auth, the odoo-metrics.py name."""

from __future__ import annotations

import shutil
import sys
import time
import urllib.error
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


def test_slow_clients_cannot_grow_the_exporter(monkeypatch):
    """Issue 11 item 14: half a request line per connection used to cost a thread each, forever.
    Now a bounded pool serves them, each for at most the request timeout, and the rest are
    closed at once; a normal scrape works again once the slow clients have timed out."""
    import socket
    import threading
    import time
    import urllib.request

    from prometheus_client import CollectorRegistry, Gauge

    from odoo_saas_tools.observability.metrics import server as metrics_server

    monkeypatch.setattr(metrics_server.MetricsHandler, "timeout", 1.0)
    registry = CollectorRegistry()
    Gauge("odoo_up", "test", registry=registry).set(1)
    srv = metrics_server.MetricsServer(("127.0.0.1", 0), registry)
    port = srv.server_address[1]
    loop = threading.Thread(target=srv.serve_forever, daemon=True)
    loop.start()
    before = threading.active_count()
    clients = []
    try:
        for _ in range(60):
            c = socket.create_connection(("127.0.0.1", port))
            c.sendall(b"GET /metr")  # and never the rest
            clients.append(c)
        time.sleep(0.3)
        assert threading.active_count() <= before + metrics_server.MetricsServer.WORKERS
        time.sleep(metrics_server.MetricsHandler.timeout * 4)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            assert b"odoo_up 1.0" in resp.read()
    finally:
        for c in clients:
            c.close()
        srv.shutdown()
        srv.server_close()


def test_password_without_user_is_refused(saas_env):
    """Issue 11 item 15: a password alone used to leave the exporter open without a word."""
    from odoo_saas_tools.core.errors import ConfigError
    from odoo_saas_tools.core.settings import Settings

    with pytest.raises(ConfigError, match="ODOO_METRICS_USER is empty"):
        Settings.from_env({**saas_env, "ODOO_METRICS_PASSWORD": "only-a-password"})


def _slow_clients(port: int, count: int) -> list:
    """Connections that each send half a request line and never the rest."""
    import socket

    clients = []
    for _ in range(count):
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(b"GET /metr")
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
    finally:
        for c in clients:
            c.close()
