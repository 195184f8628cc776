"""The exporter's HTTP endpoint: /metrics, optional basic auth, any bind address.

Served by uvicorn on one event loop with the limits of core.asgi_server: clients that never finish
their request cost no thread and cannot keep a scrape waiting (issue 26).
"""

from __future__ import annotations

import base64
import hmac
import logging
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from odoo_saas_tools.core import asgi_server
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.observability.metrics.collector import make_registry
from odoo_saas_tools.observability.metrics.refresher import Refresher

log = logging.getLogger(__name__)

TEXT = "text/plain; charset=utf-8"


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


class MetricsApp:
    """The ASGI app: every path behind the basic auth when a user is set, then /metrics."""

    def __init__(self, registry: CollectorRegistry, *, user: str = "", password: str = "") -> None:
        self.registry = registry
        self.user = user
        self.password = password

    def answer(
        self, method: str, path: str, authorization: str | None
    ) -> tuple[int, bytes, dict[str, str]]:
        """Status, body and headers for one request (the collector reads the last figures)."""
        if self.user and not credentials_match(authorization, self.user, self.password):
            return 401, b"authentication required\n", {"WWW-Authenticate": 'Basic realm="metrics"'}
        if method not in ("GET", "HEAD"):
            return 405, b"method not allowed\n", {"Allow": "GET, HEAD"}
        if path == "/metrics":
            return 200, generate_latest(self.registry), {"Content-Type": CONTENT_TYPE_LATEST}
        if path == "/":
            return 200, b"odoo-saas metrics exporter: see /metrics\n", {}
        return 404, b"not found\n", {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        authorization = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        status, body, headers = self.answer(
            scope["method"], scope["path"], authorization and authorization.decode("latin-1")
        )
        headers = {"Content-Type": TEXT, **headers, "Content-Length": str(len(body))}
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": body})


def serve(settings: Settings, bind: str, port: int) -> None:
    """Answers scrapes from the background refresher's figures until SIGTERM or SIGINT."""
    refresher = Refresher(settings)
    app = MetricsApp(
        make_registry(refresher), user=settings.metrics_user, password=settings.metrics_password
    )

    def started(bound_port: int) -> None:
        refresher.start()
        log.info(
            "serving metrics on %s:%d%s (refresh every %d s)",
            bind,
            bound_port,
            " with basic auth" if settings.metrics_user else "",
            settings.metrics_refresh_seconds,
        )

    asgi_server.serve(app, bind, port, started=started, stopped=refresher.stop)
