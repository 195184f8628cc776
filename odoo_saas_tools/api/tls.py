"""`GET /v1/tls/allowed?domain=NAME`: Caddy's on-demand TLS `ask` (200 for a verified custom
domain, 404 otherwise; no token, since Caddy sends none; no body worth reading).

A plain ASGI app, so it needs no framework: the API app routes the path to it, e.g. with
Starlette/FastAPI `app.router.routes.insert(0, Route(PATH, TlsAsk(settings),
include_in_schema=False))`, or it is served alone with `serve()` (core.asgi_server's limits).
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import Callable
from typing import Any

from odoo_saas_tools.core import asgi_server
from odoo_saas_tools.core.settings import Settings

log = logging.getLogger(__name__)

PATH = "/v1/tls/allowed"


class TlsAsk:
    """The ASGI app; `allowed` is domains.tls_ask.AllowedDomains (any name -> bool)."""

    def __init__(
        self, settings: Settings | None = None, allowed: Callable[[str], bool] | None = None
    ):
        if allowed is None:
            from odoo_saas_tools.domains.tls_ask import AllowedDomains

            assert settings is not None, "TlsAsk needs settings or an allowed function"
            allowed = AllowedDomains(settings)
        self.allowed = allowed

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != PATH:
            status = 404
        elif scope["method"] not in ("GET", "HEAD"):
            status = 405
        else:
            query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
            name = (query.get("domain") or [""])[0]
            # the map is read again at most once a second: off the event loop when it is
            ok = bool(name) and await asyncio.to_thread(self.allowed, name)
            status = 200 if ok else 404
        body = {200: b"allowed\n", 404: b"not allowed\n", 405: b"method not allowed\n"}[status]
        headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
        if status == 405:
            headers.append((b"allow", b"GET, HEAD"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""}
        )


def serve(settings: Settings, bind: str, port: int) -> None:
    """The ask endpoint alone, until SIGTERM or SIGINT."""
    asgi_server.serve(
        TlsAsk(settings),
        bind,
        port,
        started=lambda bound: log.info("answering TLS asks on %s:%d%s", bind, bound, PATH),
    )
