"""Server-wide module: Odoo's HTTP sessions in Redis instead of <data_dir>/sessions.

Load it with `server_wide_modules = base,rpc,web,odoo_saas_session_redis` and a
`[session_redis]` section (`url`, `prefix`) in odoo.conf; odoo-saas renders both when
ODOO_ENABLE_REDIS=true. It needs no installation in any database.
"""


def post_load() -> None:
    from . import store  # only when Odoo loads us server-wide (needs odoo)

    store.install()
