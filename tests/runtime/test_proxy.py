"""The multi-tenant stack's nginx config, run by a real nginx in front of recording backends."""

from __future__ import annotations

import http.client
import http.server
import json
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from tests.support.net import free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]


class Recorder(http.server.ThreadingHTTPServer):
    """A backend that answers every request with what it received."""

    def __init__(self, name: str) -> None:
        self.name = name
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps(
                    {"backend": outer.name, "path": self.path, "headers": dict(self.headers)}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]


@pytest.fixture
def proxy():
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx is not installed (see .ci/run)"
    http_backend, ws_backend = Recorder("http"), Recorder("websocket")
    port = free_port()
    conf = (ROOT / "compose" / "nginx" / "odoo.conf").read_text()
    conf = (
        conf.replace("server odoo:8069;", f"server 127.0.0.1:{http_backend.port};")
        .replace("server odoo:8072;", f"server 127.0.0.1:{ws_backend.port};")
        .replace("listen 80 default_server;", f"listen 127.0.0.1:{port} default_server;")
    )
    workdir = Path(tempfile.mkdtemp(prefix="odoo-saas-nginx-"))
    (workdir / "site.conf").write_text(conf)
    (workdir / "nginx.conf").write_text(
        f"daemon off;\npid {workdir}/nginx.pid;\nerror_log {workdir}/error.log;\n"
        "events {}\nhttp {\n"
        f"  access_log off;\n  client_body_temp_path {workdir};\n"
        f"  proxy_temp_path {workdir};\n  include {workdir}/site.conf;\n}}\n"
    )
    proc = subprocess.Popen(
        [nginx, "-c", str(workdir / "nginx.conf"), "-p", str(workdir)], stderr=subprocess.PIPE
    )
    wait_port(port, 10)
    yield port
    proc.terminate()
    proc.wait(10)
    for backend in (http_backend, ws_backend):
        backend.shutdown()
    shutil.rmtree(workdir, ignore_errors=True)


def request(port: int, host: str, path: str, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Host": host, **(headers or {})})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, json.loads(body) if resp.status == 200 else body


def test_tenant_host_reaches_odoo_with_forwarded_headers(proxy):
    status, seen = request(proxy, "acme.example.com", "/web/health")
    assert status == 200 and seen["backend"] == "http"
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["host"] == "acme.example.com"
    assert headers["x-forwarded-host"] == "acme.example.com"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-for"] == "127.0.0.1"


def test_websocket_goes_to_the_gevent_port_with_upgrade(proxy):
    status, seen = request(
        proxy, "acme.example.com", "/websocket", {"Upgrade": "websocket", "Connection": "Upgrade"}
    )
    assert status == 200 and seen["backend"] == "websocket"
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["upgrade"] == "websocket" and headers["connection"] == "upgrade"
    assert headers["x-forwarded-host"] == "acme.example.com"


def test_tls_terminated_upstream_keeps_https(proxy):
    _, seen = request(proxy, "acme.example.com", "/", {"X-Forwarded-Proto": "https"})
    assert {k.lower(): v for k, v in seen["headers"].items()}["x-forwarded-proto"] == "https"


def test_database_manager_is_not_reachable_through_the_proxy(proxy):
    status, _ = request(proxy, "acme.example.com", "/web/database/manager")
    assert status == 403
