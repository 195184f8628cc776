"""Server-wide module: each tenant database is served as its own PostgreSQL role.

odoo-saas renders `server_wide_modules = base,rpc,web,odoo_saas_tenancy` and an `[odoo_saas]`
section (`owner`: the management role that owns the tenant databases) in odoo.conf. It needs
no installation in any database.
"""


def post_load() -> None:
    from . import tenancy  # only when Odoo loads us server-wide (needs odoo)

    tenancy.install()
