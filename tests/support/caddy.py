"""Real Caddy (Debian's package) running the shipped compose/caddy/Caddyfile, configured only
through the environment it documents, on free loopback ports, with its local CA (`tls
internal`) in a directory of its own; and curl towards it with --resolve, as a customer's
browser would reach erp.acme.test."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support import processes
from tests.support.net import free_port, wait_port
from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
CADDYFILE = ROOT / "compose" / "caddy" / "Caddyfile"


def caddy_binary() -> str | None:
    return shutil.which("caddy")


def caddy_env(workdir: Path, **extra: str) -> dict[str, str]:
    """What the Caddyfile reads, plus private data and config directories."""
    for name in ("data", "config"):
        (workdir / name).mkdir(parents=True, exist_ok=True)
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(workdir),
        "XDG_DATA_HOME": str(workdir / "data"),
        "XDG_CONFIG_HOME": str(workdir / "config"),
        "CADDY_ADMIN": "off",
        "CADDY_TLS": "internal",
        "CADDY_WILDCARD_TLS": "internal",
        **extra,
    }


@dataclass
class CurlAnswer:
    exit_code: int  # curl's: 0, 35 for a refused TLS handshake, 28 for a timeout...
    status: int  # 0 without an HTTP answer
    body: str
    stderr: str


class Caddy:
    def __init__(
        self,
        workdir: Path,
        *,
        pool_domain: str,
        web: str,
        http_port: int,
        gevent_port: int,
        ask_url: str,
    ) -> None:
        binary = caddy_binary()
        assert binary, "caddy is not installed (Debian: caddy; .ci/run installs it)"
        self.workdir = workdir
        self.https_port, self.http_port = free_port(), free_port()
        env = caddy_env(
            workdir,
            ODOO_DOMAIN=pool_domain,
            ODOO_WEB=web,
            ODOO_HTTP_PORT=str(http_port),
            ODOO_GEVENT_PORT=str(gevent_port),
            ODOO_SAAS_TLS_ASK=ask_url,
            CADDY_HTTP_PORT=str(self.http_port),
            CADDY_HTTPS_PORT=str(self.https_port),
        )
        self.log = workdir / "caddy.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [binary, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_port(self.https_port, 30)
        self.ca = workdir / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        wait_until(self.ca.exists, 30, lambda: f"Caddy's local CA:\n{self.log.read_text()}")

    def curl(
        self, host: str, path: str = "/", *args: str, resolve_host: str | None = None
    ) -> CurlAnswer:
        """GET https://host:port/path through Caddy, trusting only its local CA."""
        sni = resolve_host or host
        proc = subprocess.run(
            [
                "curl", "-sS", "--max-time", "20", "--cacert", str(self.ca),
                "--resolve", f"{sni}:{self.https_port}:127.0.0.1",
                "-o", "-", "-w", "\n%{http_code}",
                f"https://{host}:{self.https_port}{path}", *args,
            ],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        body, _, code = proc.stdout.rpartition("\n")
        return CurlAnswer(proc.returncode, int(code or 0), body, proc.stderr)

    def stop(self) -> None:
        processes.stop(self.proc)
