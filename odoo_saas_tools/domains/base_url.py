"""A tenant's web.base.url follows its primary custom domain, frozen (Odoo's
`web.base.url.freeze`), so that invoices, e-mails and portal links say https://erp.acme.com
whoever logs in where; without a primary it is the pool's URL again (TENANT_URL_TEMPLATE).

Written in the tenant's database as its own role, then Odoo's workers are told to drop their
cached parameters (the `orm_signaling_stable` table Odoo 19 polls before each request).
"""

from __future__ import annotations

from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.connection import connect
from odoo_saas_tools.tenants import identity

FREEZE = "web.base.url.freeze"


def follow(settings: Settings, tenant: str, domain: str) -> str:
    url = f"https://{domain}"
    _write(settings, tenant, {"web.base.url": url, FREEZE: "True"}, unfreeze=False)
    return url


def fall_back(settings: Settings, tenant: str) -> str | None:
    """The pool's URL, frozen; without TENANT_URL_TEMPLATE unfrozen, so Odoo learns it again
    from the next administrator's login."""
    if settings.tenant_url_template:
        url = identity.default_base_url(settings, tenant)
        _write(settings, tenant, {"web.base.url": url, FREEZE: "True"}, unfreeze=False)
        return url
    _write(settings, tenant, {}, unfreeze=True)
    return None


def _write(settings: Settings, tenant: str, values: dict[str, str], *, unfreeze: bool) -> None:
    with connect(settings, tenant, autocommit=False) as conn:
        with conn.cursor() as cr:
            if not identity.has_parameters(cr):
                raise SaasError(f"{tenant} has no ir_config_parameter: not an Odoo database")
            identity.set_params(cr, values)
            if unfreeze:
                cr.execute("DELETE FROM ir_config_parameter WHERE key = %s", (FREEZE,))
            cr.execute("SELECT to_regclass('orm_signaling_stable') IS NOT NULL")
            if cr.fetchone()[0]:
                cr.execute("INSERT INTO orm_signaling_stable DEFAULT VALUES")
        conn.commit()
