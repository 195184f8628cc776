"""The multi-tenant stack's nginx config, run by a real nginx in front of recording backends.

The `web` replicas are recording servers on 127.0.0.2, 127.0.0.3 ... (one HTTP and one websocket
port each, the same on every replica, as in Docker), and a small DNS server stands in for Docker's
(127.0.0.11), answering `web` with the replicas' addresses of the moment.
"""

from __future__ import annotations

import http.client
import http.server
import json
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from tests.support.net import free_port, wait_port
from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]


class Recorder(http.server.ThreadingHTTPServer):
    """A backend that answers every request with what it received."""

    def __init__(self, name: str, host: str = "127.0.0.1", port: int | None = None) -> None:
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

        super().__init__((host, port or free_port()), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]


class WebDNS:
    """Docker's DNS in miniature: A records for `web`, changeable while nginx runs."""

    def __init__(self) -> None:
        self.addresses: list[str] = []
        self.api: list[str] = []  # the `api` service's address (the control API)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                query, client = self.sock.recvfrom(512)
            except OSError:
                return
            end = 12
            labels = []
            while query[end]:
                labels.append(query[end + 1 : end + 1 + query[end]].decode())
                end += 1 + query[end]
            qtype = struct.unpack("!H", query[end + 1 : end + 3])[0]
            question = query[12 : end + 5]
            known = {"web": self.addresses, "api": self.api}
            name = ".".join(labels)
            found = known.get(name, []) if qtype == 1 else []
            answers = b"".join(
                struct.pack("!HHHIH", 0xC00C, 1, 1, 1, 4) + socket.inet_aton(ip) for ip in found
            )
            count = len(found)
            rcode = 0 if name in known else 3
            header = query[:2] + struct.pack("!HHHHH", 0x8180 | rcode, 1, count, 0, 0)
            self.sock.sendto(header + question + answers, client)

    def close(self) -> None:
        self.sock.close()


class Proxy:
    """nginx running compose/nginx/odoo.conf on loopback; replicas added with add_replica()."""

    def __init__(self, valid: str = "5s") -> None:
        self.http_port, self.ws_port, self.api_port = free_port(), free_port(), free_port()
        self.dns = WebDNS()
        self.replicas: list[tuple[Recorder, Recorder]] = []
        self.extra: list[Recorder] = []
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="odoo-saas-nginx-"))
        # what the container's start does: resolver.sh, then conf.d/*.conf in order
        resolver = run_resolver_sh(self.workdir, "nameserver 127.0.0.1\n")
        assert resolver.returncode == 0, resolver.stderr
        conf = (
            (self.workdir / "00-resolver.conf")
            .read_text()
            .replace(
                "resolver 127.0.0.1 valid=5s", f"resolver 127.0.0.1:{self.dns.port} valid={valid}"
            )
        )
        assert f":{self.dns.port} valid=" in conf
        conf += (
            (ROOT / "compose" / "nginx" / "odoo.conf")
            .read_text()
            .replace("http://$odoo_web:8069", f"http://$odoo_web:{self.http_port}")
            .replace("http://$odoo_web:8072", f"http://$odoo_web:{self.ws_port}")
            .replace("http://$odoo_api:8089", f"http://$odoo_api:{self.api_port}")
            .replace("listen 80;", f"listen 127.0.0.1:{self.port};")
            .replace("listen 80 default_server;", f"listen 127.0.0.1:{self.port} default_server;")
        )
        (self.workdir / "site.conf").write_text(conf)
        (self.workdir / "nginx.conf").write_text(
            f"daemon off;\npid {self.workdir}/nginx.pid;\nerror_log {self.workdir}/error.log;\n"
            "events {}\nhttp {\n"
            f"  access_log off;\n  client_body_temp_path {self.workdir};\n"
            f"  proxy_temp_path {self.workdir};\n  include {self.workdir}/site.conf;\n}}\n"
        )
        self.nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        assert Path(self.nginx).exists(), "nginx is not installed (see .ci/run)"
        self.proc = subprocess.Popen(
            [self.nginx, "-c", str(self.workdir / "nginx.conf"), "-p", str(self.workdir)],
            stderr=subprocess.PIPE,
        )
        wait_port(self.port, 10)

    def add_replica(self) -> str:
        """One more `web` container: its own address, the same ports as the others."""
        ip = f"127.0.0.{len(self.replicas) + 2}"
        http_rec = Recorder(f"http@{ip}", ip, self.http_port)
        ws_rec = Recorder(f"websocket@{ip}", ip, self.ws_port)
        self.replicas.append((http_rec, ws_rec))
        self.dns.addresses.append(ip)
        return ip

    def add_api(self) -> Recorder:
        """The `api` service (one container)."""
        recorder = Recorder("api@127.0.0.9", "127.0.0.9", self.api_port)
        self.dns.api.append("127.0.0.9")
        self.extra.append(recorder)
        return recorder

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        for backend in [b for pair in self.replicas for b in pair] + self.extra:
            backend.shutdown()
            backend.server_close()
        self.dns.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture
def proxy_stack():
    stack = Proxy()
    stack.add_replica()
    yield stack
    stack.close()


@pytest.fixture
def proxy(proxy_stack):
    return proxy_stack.port


def request(port: int, host: str, path: str, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Host": host, **(headers or {})})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, json.loads(body) if resp.status == 200 else body


def test_tenant_host_reaches_odoo_with_forwarded_headers(proxy):
    status, seen = request(proxy, "acme.example.com", "/web/health")
    assert status == 200 and seen["backend"] == "http@127.0.0.2"
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["host"] == "acme.example.com"
    assert headers["x-forwarded-host"] == "acme.example.com"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-for"] == "127.0.0.1"


def test_the_api_host_reaches_the_control_api_and_tenants_still_odoo(proxy_stack):
    proxy_stack.add_api()
    status, seen = request(proxy_stack.port, "api.example.com", "/v1/tenants")
    assert status == 200 and seen["backend"] == "api@127.0.0.9"
    assert seen["path"] == "/v1/tenants"
    status, seen = request(proxy_stack.port, "acme.example.com", "/v1/tenants")
    assert status == 200 and seen["backend"] == "http@127.0.0.2"


def test_websocket_goes_to_the_gevent_port_with_upgrade(proxy):
    status, seen = request(
        proxy, "acme.example.com", "/websocket", {"Upgrade": "websocket", "Connection": "Upgrade"}
    )
    assert status == 200 and seen["backend"] == "websocket@127.0.0.2"
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["upgrade"] == "websocket" and headers["connection"] == "upgrade"
    assert headers["x-forwarded-host"] == "acme.example.com"


def test_tls_terminated_upstream_keeps_https(proxy):
    _, seen = request(proxy, "acme.example.com", "/", {"X-Forwarded-Proto": "https"})
    assert {k.lower(): v for k, v in seen["headers"].items()}["x-forwarded-proto"] == "https"


def test_database_manager_is_not_reachable_through_the_proxy(proxy):
    status, _ = request(proxy, "acme.example.com", "/web/database/manager")
    assert status == 403


RESOLVER_SH = ROOT / "compose" / "nginx" / "resolver.sh"


def run_resolver_sh(workdir: Path, resolv_conf: str) -> subprocess.CompletedProcess[str]:
    """compose/nginx/resolver.sh as nginx's entrypoint runs it, on a given resolv.conf."""
    (workdir / "resolv.conf").write_text(resolv_conf)
    env = {
        "PATH": "/usr/bin:/bin",
        "RESOLV_CONF": str(workdir / "resolv.conf"),
        "RESOLVER_CONF": str(workdir / "00-resolver.conf"),
    }
    return subprocess.run([str(RESOLVER_SH)], env=env, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(
    ("resolv_conf", "resolver"),
    [
        ("nameserver 127.0.0.11\noptions ndots:0\n", "127.0.0.11"),  # Docker
        # Podman (aardvark-dns on the gateway), then the host's server that knows no `web`
        ("search dns.podman\nnameserver 10.89.0.1\nnameserver 10.255.255.53\n", "10.89.0.1"),
        ("nameserver fd00::1\n", "[fd00::1]"),
    ],
    ids=["docker", "podman", "ipv6"],
)
def test_resolver_sh_takes_the_container_networks_dns_only(tmp_path, resolv_conf, resolver):
    proc = run_resolver_sh(tmp_path, resolv_conf)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "00-resolver.conf").read_text() == (
        f"resolver {resolver} valid=5s ipv6=off;\nresolver_timeout 5s;\n"
    )
    assert resolver in proc.stdout


def test_resolver_sh_without_a_nameserver_stops_the_start(tmp_path):
    proc = run_resolver_sh(tmp_path, "search example.org\n")
    assert proc.returncode == 1
    assert "no nameserver" in proc.stderr
    assert not (tmp_path / "00-resolver.conf").exists()


def test_shipped_config_passes_nginx_t(tmp_path):
    """The files as nginx's image reads them: conf.d/*.conf in its http block."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    confd = tmp_path / "conf.d"
    confd.mkdir()
    (confd / "default.conf").write_text((ROOT / "compose" / "nginx" / "odoo.conf").read_text())
    proc = run_resolver_sh(tmp_path, "nameserver 127.0.0.11\n")
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "00-resolver.conf").rename(confd / "00-resolver.conf")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include {confd}/*.conf;\n}}\n"
    )
    proc = subprocess.run(
        [nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "test is successful" in proc.stderr


def until_both(ask, wanted: set, key=lambda answer: answer, tries: int = 40) -> list:
    """Answers of ask() until every wanted key was seen (at least 6, at most `tries`)."""
    answers: list = []
    while len(answers) < tries and (len(answers) < 6 or {key(a) for a in answers} < wanted):
        answers.append(ask())
    return answers


def test_requests_are_spread_over_every_web_replica_and_new_ones_take_traffic():
    stack = Proxy(valid="1s")
    try:
        first, second = stack.add_replica(), stack.add_replica()
        # nginx picks among the resolved addresses per request, not in strict turns: ask until
        # both have answered (a bounded number of times)
        seen = until_both(
            lambda: request(stack.port, "acme.example.com", "/web/login")[1]["backend"],
            {f"http@{first}", f"http@{second}"},
        )
        assert {f"http@{first}", f"http@{second}"} == {*seen}
        ws = until_both(
            lambda: request(
                stack.port,
                "acme.example.com",
                "/websocket",
                {"Upgrade": "websocket", "Connection": "Upgrade"},
            )[1],
            {f"websocket@{first}", f"websocket@{second}"},
            key=lambda w: w["backend"],
        )
        assert {w["backend"] for w in ws} == {f"websocket@{first}", f"websocket@{second}"}
        assert all(w["headers"]["Upgrade"] == "websocket" for w in ws)
        # `--scale web=3`: the new replica is found once the 1 s answer (5 s in compose) expires
        third = stack.add_replica()

        def third_answers() -> bool:
            status, body = request(stack.port, "acme.example.com", "/web/login")
            return status == 200 and body["backend"] == f"http@{third}"

        wait_until(third_answers, 15, "a request to the third replica", interval=0.2)
    finally:
        stack.close()
