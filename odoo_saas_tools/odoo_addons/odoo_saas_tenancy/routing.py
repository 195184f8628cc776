"""Which tenant a request is for, from its host (issue 29).

- A verified custom domain (the catalog's `odoo_domain` view) serves exactly its tenant.
- `<tenant>.<domain>` (the pool's own domain, `domain` in odoo.conf's [odoo_saas] section) goes
  through Odoo's dbfilter as before (`^%d$`).
- Any other host serves no tenant: every path but /web/health answers a plain 404, never another
  tenant's pages and never the database selector. So `acme.attacker.example` does not reach
  acme, and `erp.acme.com` reaches acme even where a tenant named `erp` exists.

Odoo 19 asks `odoo.http.db_filter(dbs, host)` which databases a host may use, for the session's
database, the X-Odoo-Database header, `?db=` and the database list alike: patching it covers them
all. The host is the one Odoo sees (with proxy_mode, the proxy's X-Forwarded-Host), written the
way domains are stored (lowercase, no port, no trailing dot). The map is read by Odoo's own role
and kept per process (domains/polled_map.py): one dict lookup per request, and at most once a
second one small query when the catalog's change counter has moved.
"""

from __future__ import annotations

import logging

import odoo.http
import odoo.sql_db
import psycopg2
from odoo.http import Request, Response
from odoo.tools import config

from .loader import load

_logger = logging.getLogger(__name__)

HIDDEN_PREFIX = "odoo_saas_"
NODB_PATHS = frozenset({"/web/health"})  # what a host that serves no tenant still answers
NOT_FOUND = (
    "<!DOCTYPE html>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
    "<p>No Odoo database is served at this address.</p>\n"
)


def install(section: dict[str, str]) -> None:
    polled = load("domains/polled_map.py")
    pool = section.get("domain", "").strip().lower().rstrip(".")

    def connect() -> psycopg2.extensions.connection:
        """The catalog, as Odoo's own role (db_user: it may read the odoo_* views only)."""
        _name, info = odoo.sql_db.connection_info_for("postgres")
        info = {k: v for k, v in info.items() if k != "dsn"}
        info.update(database=polled.CATALOG_DATABASE, application_name="odoo-saas-routing")
        return psycopg2.connect(connect_timeout=5, **info)

    domains = polled.PolledMap(connect)
    original_filter = odoo.http.db_filter
    original_nodb = Request._serve_nodb

    def db_filter(dbs: list[str], host: str | None = None) -> list[str]:
        if host is None:
            host = odoo.http.request.httprequest.environ.get("HTTP_HOST", "")
        name = polled.normalize_host(host)
        tenant = domains.get().get(name)
        if tenant is not None:
            allowed = config["db_name"] or ()
            return [
                db
                for db in dbs
                if db == tenant
                and not db.startswith(HIDDEN_PREFIX)
                and (not allowed or db in allowed)
            ]
        if not pool:
            return original_filter(dbs, host=host)
        if not under_pool(name, pool):
            return []
        return original_filter(dbs, host=name)

    def _serve_nodb(self: Request) -> Response:
        if self.httprequest.path in NODB_PATHS:
            return original_nodb(self)
        return Response(NOT_FOUND, status=404, content_type="text/html; charset=utf-8")

    odoo.http.db_filter = db_filter
    if pool:
        Request._serve_nodb = _serve_nodb
    _logger.info(
        "tenants are served at <tenant>.%s and at their verified custom domains%s",
        pool or "(any host: no [odoo_saas] domain)",
        "; other hosts get a 404" if pool else "",
    )


def under_pool(name: str, pool: str) -> bool:
    """name is `<label>.<pool>` (or `www.<label>.<pool>`, which Odoo's %d reads the same)."""
    name = name.removeprefix("www.")
    label, _, rest = name.partition(".")
    return bool(label) and rest == pool
