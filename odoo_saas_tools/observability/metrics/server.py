"""The exporter's HTTP endpoint: /metrics, optional basic auth, any bind address."""

from __future__ import annotations

import base64
import hmac
import logging
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

log = logging.getLogger(__name__)


def credentials_match(header: str | None, user: str, password: str) -> bool:
    """Basic-auth check in constant time (both parts always compared)."""
    if not header or not header.startswith("Basic "):
        return False
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    given_user, sep, given_password = decoded.partition(":")
    user_ok = hmac.compare_digest(given_user.encode(), user.encode())
    password_ok = hmac.compare_digest(given_password.encode(), password.encode())
    return bool(sep) and user_ok and password_ok


class MetricsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        registry: CollectorRegistry,
        *,
        user: str = "",
        password: str = "",
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.registry = registry
        self.user = user
        self.password = password
        super().__init__(address, MetricsHandler)


class MetricsHandler(BaseHTTPRequestHandler):
    server: MetricsServer
    server_version = "odoo-saas-metrics"
    sys_version = ""

    def do_GET(self) -> None:
        srv = self.server
        if srv.user and not credentials_match(
            self.headers.get("Authorization"), srv.user, srv.password
        ):
            self._reply(
                401, b"authentication required\n", {"WWW-Authenticate": 'Basic realm="metrics"'}
            )
            return
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._reply(200, generate_latest(srv.registry), {"Content-Type": CONTENT_TYPE_LATEST})
        elif path == "/":
            self._reply(200, b"odoo-saas metrics exporter: see /metrics\n")
        else:
            self._reply(404, b"not found\n")

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)
