"""Custom domains (issue 29): what routing by host costs per request inside Odoo, and requests/s
of a small page through Caddy (the shipped Caddyfile, TLS) against nginx (compose/nginx/odoo.conf,
plain HTTP, as shipped) in front of the same Odoo.

    python bench_domains.py TENANT [--domains 2000] [--seconds 8] [--clients 8] [--rounds 3]

TENANT: an existing Odoo tenant of the pool the environment describes (ODOO_DB_*, ODOO_BIN);
ODOO_DOMAIN is taken as pool.bench. Needs caddy, nginx and curl. The catalog gets --domains
verified domains of a scratch tenant name (removed at the end) so the map is of a real size.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from odoo_saas_tools.catalog import store  # noqa: E402
from odoo_saas_tools.core.settings import Settings  # noqa: E402
from odoo_saas_tools.odoo import runner as odoo_runner  # noqa: E402
from odoo_saas_tools.odoo.environment import odoo_environment  # noqa: E402
from odoo_saas_tools.runtime import render  # noqa: E402
from tests.support.caddy import Caddy  # noqa: E402
from tests.support.net import free_port, wait_port  # noqa: E402
from tests.support.tls_ask import AskServer  # noqa: E402

POOL = "pool.bench"
SCRATCH = "bench_domains_scratch"

ROUTING = """
import time, odoo.http
dbs = [%(tenant)r] + ["t%%04d" %% i for i in range(500)]
cases = {"custom domain": "d7.bench-domains.example", "pool subdomain": "%(tenant)s.%(pool)s",
         "unknown host": "nobody.example.org"}
for label, host in cases.items():
    odoo.http.db_filter(dbs, host)  # the first call reads the map
    n = 20000
    t0 = time.perf_counter()
    for _ in range(n):
        odoo.http.db_filter(dbs, host)
    print("ROUTING %%s %%.2f" %% (label, (time.perf_counter() - t0) / n * 1e6))
"""


def routing_cost(settings: Settings, tenant: str) -> None:
    out = odoo_runner.shell(settings, tenant, ROUTING % {"tenant": tenant, "pool": POOL})
    for line in out.splitlines():
        if line.startswith("ROUTING "):
            label, micros = line[8:].rsplit(" ", 1)
            print(f"db_filter per call, {label} (500 databases in the list): {micros} µs")


def load(connect, host: str, path: str, seconds: float, clients: int) -> tuple[float, float, int]:
    """requests/s, median latency (ms), errors: `clients` keep-alive connections in threads."""
    done: list[float] = []
    errors = [0]
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def client() -> None:
        conn = connect()
        mine: list[float] = []
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Host": host})
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    errors[0] += 1
            except (OSError, http.client.HTTPException):
                errors[0] += 1
                conn.close()
                conn = connect()
                continue
            mine.append(time.perf_counter() - t0)
        with lock:
            done.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(done) / seconds, statistics.median(done) * 1000 if done else 0.0, errors[0]


def nginx(workdir: Path, http_port: int, gevent_port: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    conf = (
        (ROOT / "compose" / "nginx" / "odoo.conf")
        .read_text()
        .replace("set $odoo_web web;", "set $odoo_web 127.0.0.1;")
        .replace("http://$odoo_web:8069", f"http://$odoo_web:{http_port}")
        .replace("http://$odoo_web:8072", f"http://$odoo_web:{gevent_port}")
        .replace("listen 80 default_server;", f"listen 127.0.0.1:{port} default_server;")
    )
    (workdir / "site.conf").write_text(conf)
    (workdir / "nginx.conf").write_text(
        f"daemon off;\npid {workdir}/nginx.pid;\nerror_log {workdir}/error.log;\n"
        "worker_processes auto;\nevents {}\nhttp {\n  access_log off;\n"
        f"  client_body_temp_path {workdir};\n  proxy_temp_path {workdir};\n"
        f"  include {workdir}/site.conf;\n}}\n"
    )
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = subprocess.Popen([binary, "-c", str(workdir / "nginx.conf"), "-p", str(workdir)])
    wait_port(port)
    return proc, port


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("tenant")
    parser.add_argument("--domains", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--path", default="/web/health")
    args = parser.parse_args()
    base = Settings.from_env()
    work = Path(tempfile.mkdtemp(prefix="bench-domains-"))
    (work / "run").mkdir()
    settings = dataclasses.replace(
        base, pool_domain_setting=POOL, runtime_dir=work / "run", workers=2, proxy_mode=True,
        db_filter="^%d$", max_cron_threads=0,
    )  # fmt: skip
    custom = "erp.bench-domains.example"
    with store.session(settings) as cr:  # a map of a real size, and one domain of the tenant
        cr.execute("DELETE FROM domain WHERE tenant IN (%s, %s)", (SCRATCH, args.tenant))
        cr.execute(
            "INSERT INTO domain (domain, tenant, token, verified_at) SELECT "
            "'d' || i || '.bench-domains.example', %s, 'x', now() FROM generate_series(1, %s) i",
            (SCRATCH, args.domains),
        )
        cr.execute(
            "INSERT INTO domain (domain, tenant, token, verified_at) VALUES (%s, %s, 'x', now())",
            (custom, args.tenant),
        )
        store.bump(cr)
    render.render_all(settings)
    try:
        routing_cost(settings, args.tenant)
        http_port, gevent_port = free_port(), free_port()
        argv = [settings.odoo_bin, "server", "-c", str(settings.odoo_conf), "--pidfile="]
        argv += ["--http-interface", "127.0.0.1", "--http-port", str(http_port)]
        argv += ["--gevent-port", str(gevent_port), "--logfile", str(work / "odoo.log")]
        odoo = subprocess.Popen(argv, env=odoo_environment(settings))
        ask = AskServer(dict(os.environ))
        wait_port(http_port, 120)
        caddy = Caddy(work / "caddy", pool_domain=POOL, web="127.0.0.1", http_port=http_port,
                      gevent_port=gevent_port, ask_url=ask.url)  # fmt: skip
        ngx, ngx_port = nginx(work, http_port, gevent_port)
        context = ssl.create_default_context(cafile=str(caddy.ca))
        host = f"{args.tenant}.{POOL}"

        class Pinned(http.client.HTTPSConnection):
            """TLS to Caddy on loopback, with the tenant's name as SNI and Host."""

            def connect(self) -> None:
                sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
                self.sock = context.wrap_socket(sock, server_hostname=self.host)

        def via_caddy() -> http.client.HTTPConnection:
            return Pinned(host, caddy.https_port, context=context, timeout=30)

        def via_nginx() -> http.client.HTTPConnection:
            return http.client.HTTPConnection("127.0.0.1", ngx_port, timeout=30)

        def direct() -> http.client.HTTPConnection:
            return http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)

        for warm in (via_caddy, via_nginx, direct):
            load(warm, host, args.path, 1, 2)
        results: dict[str, list[tuple[float, float, int]]] = {"caddy": [], "nginx": [], "odoo": []}
        for _ in range(args.rounds):
            for label, connect in (("caddy", via_caddy), ("nginx", via_nginx), ("odoo", direct)):
                results[label].append(load(connect, host, args.path, args.seconds, args.clients))
        for label, runs in results.items():
            rps = statistics.median(r[0] for r in runs)
            lat = statistics.median(r[1] for r in runs)
            print(f"{label:6s} {args.path}: {rps:7.0f} req/s, median {lat:.1f} ms, "
                  f"errors {sum(r[2] for r in runs)}")  # fmt: skip
        caddy_rps = statistics.median(r[0] for r in results["caddy"])
        nginx_rps = statistics.median(r[0] for r in results["nginx"])
        print(f"Caddy (HTTPS) / nginx (HTTP): {caddy_rps / nginx_rps:.2f}")
        caddy.stop()
        ngx.terminate()
        ask.stop()
        odoo.terminate()
        odoo.wait(60)
    finally:
        with store.session(settings) as cr:
            cr.execute("DELETE FROM domain WHERE tenant IN (%s, %s)", (SCRATCH, args.tenant))
            store.bump(cr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
