"""The TLS ask endpoint (odoo_saas_tools.api.tls) served alone, as the API will serve it: a
uvicorn process through core.asgi_server, on a free loopback port."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

from tests.support.net import free_port, wait_port

SERVE = (
    "import sys\n"
    "from odoo_saas_tools.core.settings import Settings\n"
    "from odoo_saas_tools.api.tls import serve\n"
    "serve(Settings.from_env(), '127.0.0.1', int(sys.argv[1]))\n"
)


class AskServer:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(self.port)],
            env=dict(env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_port(self.port, 30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/tls/allowed"

    def ask(self, domain: str | None, method: str = "GET", path: str | None = None) -> int:
        query = "" if domain is None else "?" + urllib.parse.urlencode({"domain": domain})
        target = f"http://127.0.0.1:{self.port}{path or '/v1/tls/allowed'}{query}"
        request = urllib.request.Request(target, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        if self.proc.stderr:
            self.proc.stderr.close()
