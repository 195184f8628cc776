"""A database's identity: what Odoo regenerates for a copy, plus what a staging clone must lose.

Odoo's copy (`ir.config_parameter.init(force=True)`) gives a new database.secret (uuid4, so every
session and CSRF token of the original stops working on the copy), database.uuid (uuid1) and
database.create_date. It keeps the enterprise code, expiration and subscription link, so a
clone would pose as the production database towards Odoo's servers; clones drop those.
"""

from __future__ import annotations

import datetime
import uuid

import psycopg2
import psycopg2.extensions

from odoo_saas_tools.core.errors import SaasError, first_line
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.connection import connect

# Parameters tying a database to its Odoo subscription (production only).
SUBSCRIPTION_KEYS = (
    "database.enterprise_code",
    "database.expiration_date",
    "database.expiration_reason",
)
SUBSCRIPTION_LIKE = r"database.already\_linked\_%"


def set_params(cr: psycopg2.extensions.cursor, values: dict[str, str]) -> None:
    """Upsert ir_config_parameter rows as Odoo's set_param would (by the superuser)."""
    for key, value in values.items():
        cr.execute(
            """
            INSERT INTO ir_config_parameter (key, value, create_uid, write_uid, create_date,
                                             write_date)
            VALUES (%s, %s, 1, 1, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')
            ON CONFLICT (key) DO UPDATE
               SET value = EXCLUDED.value, write_uid = 1, write_date = EXCLUDED.write_date
            """,
            (key, value),
        )


def new_values() -> dict[str, str]:
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0, tzinfo=None)
    return {
        "database.secret": str(uuid.uuid4()),
        "database.uuid": str(uuid.uuid1()),
        "database.create_date": now.strftime("%Y-%m-%d %H:%M:%S"),
    }


def renew(
    settings: Settings,
    db: str,
    *,
    clone: bool = False,
    base_url: str | None = None,
) -> dict[str, str]:
    """Give db a new identity in a transaction of its own (see write)."""
    with connect(settings, db, autocommit=False) as conn:
        with conn.cursor() as cr:
            values = write(cr, clone=clone, base_url=base_url)
        conn.commit()
    return values


def write(
    cr: psycopg2.extensions.cursor, *, clone: bool = False, base_url: str | None = None
) -> dict[str, str]:
    """A new identity (and web.base.url when given) on the caller's transaction; clones also
    lose the subscription. Returns the new values (the caller may report the uuid).
    SaasError (one line) when the database has no parameters of Odoo's shape to hold it."""
    if not has_parameters(cr):
        raise SaasError("no ir_config_parameter table: not an Odoo database, no identity to renew")
    values = new_values()
    if base_url:
        values["web.base.url"] = base_url
    try:
        set_params(cr, values)
        if clone:
            cr.execute(
                "DELETE FROM ir_config_parameter WHERE key = ANY(%s) OR key LIKE %s",
                (list(SUBSCRIPTION_KEYS), SUBSCRIPTION_LIKE),
            )
    except psycopg2.Error as exc:  # a table of that name not shaped like Odoo's
        raise SaasError(f"cannot renew the database's identity: {first_line(exc)}") from exc
    return values


def has_parameters(cr: psycopg2.extensions.cursor) -> bool:
    """Whether the database has Odoo's ir_config_parameter (where its identity lives)."""
    cr.execute("SELECT to_regclass('ir_config_parameter') IS NOT NULL")
    return bool(cr.fetchone()[0])


def default_base_url(settings: Settings, db: str) -> str:
    """TENANT_URL_TEMPLATE for db, else what Odoo's copy writes (localhost and the HTTP port)."""
    if settings.tenant_url_template:
        return settings.tenant_url_template.replace("{tenant}", tenant_label(settings, db))
    return f"http://localhost:{settings.http_port}"


def tenant_label(settings: Settings, db: str) -> str:
    """The tenant's short name: the database name without TENANT_DB_PREFIX."""
    prefix = settings.tenant_db_prefix
    return db[len(prefix) :] if prefix and db.startswith(prefix) and db != prefix else db
