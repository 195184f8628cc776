"""What Caddy's on-demand TLS asks before it requests a certificate for a name it was sent:
yes only for a verified custom domain, so nobody can make the proxy request certificates for
arbitrary names (and spend the pool's ACME rate limits). Called on every new name a client
offers, so it is cheap: a set lookup; the set is read again only when the catalog changed.
"""

from __future__ import annotations

from odoo_saas_tools.core.settings import CATALOG_DATABASE, Settings
from odoo_saas_tools.domains.polled_map import PolledMap, normalize_host


class AllowedDomains:
    """allowed(name) -> whether a certificate may be requested for name."""

    def __init__(self, settings: Settings, poll: float = 1.0) -> None:
        import psycopg2  # the api process has it; a test of normalize alone does not need it

        kwargs = settings.connect_kwargs(CATALOG_DATABASE)
        self.map = PolledMap(lambda: psycopg2.connect(connect_timeout=5, **kwargs), poll)

    def __call__(self, name: str | None) -> bool:
        host = normalize_host(name)
        return bool(host) and host in self.map.get()
