"""The exporter's HTTP endpoint: /metrics, optional basic auth, any bind address."""

from __future__ import annotations

import base64
import hmac
import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 10.0


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


class MetricsServer(HTTPServer):
    """A bounded pool of handler threads: a client that connects and says nothing (or half a
    request line) holds one worker for at most REQUEST_TIMEOUT seconds, and connections beyond
    the pool and its queue are closed at once, so no client can grow the exporter's threads
    (which share the container's process limit with Odoo)."""

    WORKERS = 4
    QUEUED = 16

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
        self._pool = ThreadPoolExecutor(max_workers=self.WORKERS, thread_name_prefix="metrics-http")
        self._slots = threading.BoundedSemaphore(self.WORKERS + self.QUEUED)
        super().__init__(address, MetricsHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # overloaded: Prometheus simply retries next scrape
            return
        try:
            self._pool.submit(self._serve, request, client_address)
        except RuntimeError:  # pool shut down while stopping
            self._slots.release()
            self.shutdown_request(request)

    def _serve(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("request from %s failed", client_address, exc_info=True)

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)


class MetricsHandler(BaseHTTPRequestHandler):
    server: MetricsServer
    timeout = REQUEST_TIMEOUT  # socket timeout for the whole request, before authentication
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
