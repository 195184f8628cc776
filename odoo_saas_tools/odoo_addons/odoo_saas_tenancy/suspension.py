"""A suspended tenant: Odoo itself answers 503 with the hoster's page, and runs none of its
scheduled actions; nothing of it is touched.

Whatever proxy is in front, every way into a tenant's data through Odoo's port is closed:
- HTTP with a database (`Request._serve_db`: pages, JSON-RPC of the web client, /json/2,
  /web/content, the websocket's upgrade): the 503 page, before Odoo loads the tenant's registry
  or reads, saves or rotates its session (the session cookie keeps working after a resume);
- XML-RPC and JSON-RPC (`/xmlrpc/2`, `/jsonrpc`: the database is in the call): an error saying
  it is suspended, before the registry is opened;
- an open websocket: its next message closes it with "try later" (its reconnection gets 503);
- scheduled actions: `IrCron._process_jobs`, which every cron runner (threaded or prefork)
  calls for each database, returns at once for it. The runners' database list is left whole:
  the threaded runner refreshes it once a minute only, so filtering it would keep a resumed
  tenant's notified actions waiting that long.
The hoster's text (ODOO_SAAS_SUSPENDED_MESSAGE, odoo.conf's [odoo_saas] suspended_message) is
plain text: HTML-escaped, its `{database}` and `{reason}` replaced (escaped too), served with a
Content-Security-Policy that allows no script.
"""

from __future__ import annotations

import html
import json
import logging
import re
import sys
from collections.abc import Callable
from typing import Any

import odoo.exceptions
import odoo.http
import odoo.service.common
import odoo.service.model
from psycopg2.pool import PoolError
from werkzeug.wrappers import Response

from .catalog_cache import CatalogCache

_logger = logging.getLogger(__name__)

DEFAULT_MESSAGE = "This Odoo database is suspended. Please contact your provider."
PLACEHOLDER = re.compile(r"\{(database|reason)\}")
HEADERS = {
    "Cache-Control": "no-store",
    "Retry-After": "3600",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "X-Odoo-Saas-Suspended": "1",
}
PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>Suspended</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40em;margin:15vh auto;padding:0 1em;
color:#333}}h1{{font-weight:400}}p{{white-space:pre-line;line-height:1.5}}</style></head>
<body><main><h1>Suspended</h1><p>{text}</p></main></body></html>
"""
RPC_DB_METHODS = {"login", "authenticate"}  # odoo.service.common's calls naming a database
# Odoo's health probes tell about the server, not the tenant: answered without its database
# (with one database, or its session's, the container's HEALTHCHECK must not see a 503)
HEALTH_PATHS = {"/web/health", "/websocket/health"}


def message_from(section: dict[str, str]) -> str:
    """odoo.conf's suspended_message (a JSON string, so any text fits on one INI line)."""
    raw = section.get("suspended_message", "").strip()
    if not raw:
        return DEFAULT_MESSAGE
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return value if isinstance(value, str) and value.strip() else DEFAULT_MESSAGE


def text_for(template: str, db: str, reason: str) -> str:
    """The message with its placeholders filled in one pass (a reason saying `{database}`
    stays as written); plain text, not yet escaped."""
    values = {"database": db, "reason": reason}
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def page(template: str, db: str, reason: str) -> Response:
    body = PAGE.format(text=html.escape(text_for(template, db, reason), quote=True))
    return Response(body, status=503, headers=HEADERS, content_type="text/html; charset=utf-8")


def install(cache: CatalogCache, section: dict[str, str]) -> None:
    template = message_from(section)

    def suspension_of(db: str | None) -> str | None:
        """db's suspension reason, None when it is served."""
        found = cache.tenant(db)
        return found.reason if found is not None and found.suspended else None

    original_serve_db = odoo.http.Request._serve_db

    def _serve_db(self: odoo.http.Request) -> Any:
        reason = suspension_of(self.db)
        if reason is not None:
            if self.httprequest.path in HEALTH_PATHS:
                self.db = None  # this request only: the session keeps its database
                return self._serve_nodb()
            return page(template, self.db, reason)
        try:
            return original_serve_db(self)
        finally:
            _patch_websocket(suspension_of)

    def refuse_rpc(original: Callable[[str, Any], Any], db_methods: set[str] | None):
        def dispatch(method: str, params: Any) -> Any:
            if (db_methods is None or method in db_methods) and params:
                reason = suspension_of(params[0] if isinstance(params[0], str) else None)
                if reason is not None:
                    raise odoo.exceptions.UserError(text_for(template, params[0], reason))
            return original(method, params)

        return dispatch

    from odoo.addons.base.models.ir_cron import IrCron  # base is loaded: post_load runs after

    original_process_jobs = IrCron._process_jobs

    def _process_jobs(db_name: str) -> None:
        if suspension_of(db_name) is not None:
            _logger.debug("%s is suspended: its scheduled actions wait", db_name)
            return None
        return original_process_jobs(db_name)

    odoo.http.Request._serve_db = _serve_db
    odoo.service.model.dispatch = refuse_rpc(odoo.service.model.dispatch, None)
    odoo.service.common.dispatch = refuse_rpc(odoo.service.common.dispatch, RPC_DB_METHODS)
    IrCron._process_jobs = staticmethod(_process_jobs)
    _logger.info("suspended tenants get a 503 page and run no scheduled actions")


_websocket_patched = False


def _patch_websocket(suspension_of: Callable[[str | None], str | None]) -> None:
    """Once the bus module is loaded (by a tenant's registry), a suspended tenant's open
    websocket is closed at its next message ("try later": its reconnection gets the 503)."""
    global _websocket_patched
    if _websocket_patched:
        return
    module = sys.modules.get("odoo.addons.bus.websocket")
    if module is None:
        return
    _websocket_patched = True
    request_class = module.WebsocketRequest
    original = request_class.serve_websocket_message

    def serve_websocket_message(self: Any, message: Any) -> Any:
        if suspension_of(self.db) is not None:
            raise PoolError(f"{self.db} is suspended")
        return original(self, message)

    request_class.serve_websocket_message = serve_websocket_message
