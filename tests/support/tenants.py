"""Fake Odoo tenants built by hand (no Odoo needed): databases made the way odoo-saas makes
them, with the tables of Odoo's that our tools read, and their filestores.

One builder, `fake_odoo_tenant`; each area asks for the parts its tests look at (a module
table of a given version, the identity parameters, attachments on disk, partner rows, the
admin user) instead of writing its own database by hand.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import copies, databases, roles
from odoo_saas_tools.postgres.connection import connect


def new_database(settings: Settings, name: str, *, template: str | None = None) -> None:
    """Owned by the management role, with a role of its own (the one every connection to it
    then logs in as); a copy of template when given."""
    if template:
        copies.copy_by_template(settings, template, name)
    else:
        databases.create_database(settings, name)


def give_roles(settings: Settings, names: list[str]) -> None:
    """Roles for databases a test made in bulk as the superuser (OWNER the management role),
    in one transaction: their objects stay the template's role's, so the template must grant
    what the test reads to PUBLIC."""
    with connect(settings) as conn, conn.cursor() as cr:
        conn.autocommit = False
        for name in names:
            roles.give(cr, settings, name)
        conn.commit()


# A production tenant's identity, as a copy carries it over (what clone and restore renew).
PRODUCTION_PARAMS = {
    "database.uuid": "old-uuid",
    "database.secret": "old-secret",
    "database.create_date": "2020-01-01 00:00:00",
    "database.enterprise_code": "M123",
    "database.expiration_date": "2030-01-01 00:00:00",
    "database.expiration_reason": "renewal",
    "database.already_linked_subscription_url": "x",
    "database.already_linked_email": "y",
    "web.base.url": "https://prod.example.com",
}

TABLES = {
    "modules": """CREATE TABLE ir_module_module (id serial PRIMARY KEY, name varchar NOT NULL
        UNIQUE, latest_version varchar, state varchar)""",
    "params": """CREATE TABLE ir_config_parameter (id serial PRIMARY KEY, key varchar UNIQUE
        NOT NULL, value text NOT NULL, create_uid int, write_uid int, create_date timestamp,
        write_date timestamp)""",
    "attachments": """CREATE TABLE ir_attachment (id serial PRIMARY KEY, name varchar,
        type varchar, store_fname varchar, checksum varchar(40), file_size int,
        mimetype varchar)""",
    "partners": "CREATE TABLE res_partner (id serial PRIMARY KEY, name varchar NOT NULL,"
    " note text)",
}

# What tenants.setup writes to: the admin user (password "admin", as in Odoo's templates), its
# partner, the main company and the en_US language, found by their base.* XML ids.
FAKE_ADMIN = """
    CREATE TABLE ir_model_data (id serial PRIMARY KEY, module varchar, name varchar,
                                model varchar, res_id int);
    CREATE TABLE res_partner (id serial PRIMARY KEY, name varchar, complete_name varchar,
                              commercial_company_name varchar, email varchar, lang varchar,
                              tz varchar, country_id int);
    CREATE TABLE res_company (id serial PRIMARY KEY, name varchar, partner_id int,
                              email varchar, currency_id int);
    CREATE TABLE res_users (id serial PRIMARY KEY, login varchar UNIQUE, password varchar,
                            partner_id int, write_date timestamp);
    CREATE TABLE res_lang (id serial PRIMARY KEY, code varchar, active boolean);
    INSERT INTO res_partner (id, name) VALUES (1, 'My Company'), (3, 'Administrator');
    INSERT INTO res_company (id, name, partner_id) VALUES (1, 'My Company', 1);
    INSERT INTO res_users (id, login, password, partner_id) VALUES (2, 'admin', 'admin', 3);
    INSERT INTO ir_model_data (module, name, model, res_id) VALUES
        ('base', 'user_admin', 'res.users', 2), ('base', 'main_company', 'res.company', 1);
    INSERT INTO res_lang (code, active) VALUES ('en_US', true);
"""


def plain_file(name: str, i: int) -> bytes:
    return f"attachment {i} of {name}".encode()


def write_attachment(settings: Settings, cr: object, db: str, data: bytes, label: str) -> str:
    """A file stored the way Odoo does (<sha[:2]>/<sha1>) and its ir_attachment row."""
    sha = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    fname = f"{sha[:2]}/{sha}"
    path = settings.filestore(db) / fname
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    cr.execute(  # type: ignore[attr-defined]
        "INSERT INTO ir_attachment (name, type, store_fname, checksum, file_size) "
        "VALUES (%s, 'binary', %s, %s, %s)",
        (label, fname, sha, len(data)),
    )
    return fname


def fake_odoo_tenant(
    settings: Settings,
    name: str,
    *,
    modules: Sequence[tuple[str, str | None, str]] = (("base", "19.0.1.3", "installed"),),
    params: Mapping[str, str] | None = PRODUCTION_PARAMS,
    files: int = 3,
    content: Callable[[str, int], bytes] = plain_file,
    partners: int = 0,
    admin: bool = False,
    sql: str = "",
    create: Callable[[Settings, str], None] = new_database,
) -> Path | None:
    """A database that looks like an Odoo 19 tenant to our tools; returns its filestore (None
    without files: a name no directory can have is a database all the same).

    modules: ir_module_module's rows (name, latest_version, state). params: ir_config_parameter
    (None: no such table). files: attachments, content(name, i) each, in the filestore and in
    ir_attachment. partners: res_partner rows; admin: the rows a new tenant's setup writes
    (tenants.setup; it has its own res_partner). sql: the area's own tables, run last.
    """
    if partners and admin:
        raise ValueError("admin brings its own res_partner: ask for one or the other")
    create(settings, name)
    with connect(settings, name) as conn, conn.cursor() as cr:
        cr.execute(TABLES["modules"] + ";" + TABLES["attachments"])
        for row in modules:
            cr.execute(
                "INSERT INTO ir_module_module (name, latest_version, state) VALUES (%s, %s, %s)",
                row,
            )
        if params is not None:
            cr.execute(TABLES["params"])
            for key, value in params.items():
                cr.execute(
                    "INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s)", (key, value)
                )
        if partners:
            cr.execute(TABLES["partners"])
            cr.execute(
                "INSERT INTO res_partner (name, note) SELECT 'partner ' || i, repeat('x', i %% 50)"
                " FROM generate_series(1, %s) i",
                (partners,),
            )
        if admin:
            cr.execute(FAKE_ADMIN)
        for i in range(files):
            write_attachment(settings, cr, name, content(name, i), f"file{i}")
        if sql:
            cr.execute(sql)
    return settings.filestore(name) if files else None
