"""`odoo-saas db list`: every tenant with its database size, filestore size, Odoo version, state.

Lists the databases our role owns that Odoo could serve (not templates, not odoo-saas's own
cache). State: `ready`, `neutralized` (a staging copy), `pending` (module operations left
unfinished: to install/upgrade/remove), `other-version` (not Odoo 19.0), `not-odoo`.
`--all` adds the cached templates.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass

import psycopg2

from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.odoo_series import is_current
from odoo_saas_tools.core.output import human_size, print_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.connection import (
    RESERVED_PREFIX,
    base_version,
    connect,
    owned_databases,
)
from odoo_saas_tools.tenants import filestore, template_cache


@dataclass
class TenantRow:
    name: str
    db_size_bytes: int
    filestore_bytes: int
    odoo_version: str | None
    state: str
    connections: int


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "list",
        help="list tenants with sizes, Odoo version and state",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.add_argument("--all", action="store_true", help="include the template cache")
    p.set_defaults(func=run)


def _inspect(settings: Settings, name: str) -> tuple[str | None, str]:
    """(base version, state) read from the tenant itself."""
    try:
        with connect(settings, name) as conn, conn.cursor() as cr:
            version = base_version(cr)
            if version is None:
                return None, "not-odoo"
            version = version or None
            if not is_current(version):
                return version, "other-version"
            cr.execute(
                "SELECT count(*) FROM ir_module_module "
                "WHERE state IN ('to install', 'to upgrade', 'to remove')"
            )
            if cr.fetchone()[0]:
                return version, "pending"
            cr.execute(
                "SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'"
            )
            row = cr.fetchone()
            if row and row[0].lower() in ("true", "1"):
                return version, "neutralized"
            return version, "ready"
    except SaasError:
        return None, "unreachable"
    except psycopg2.Error:
        # an Odoo-looking database missing Odoo's tables: listed, not a crash of the whole list
        return None, "damaged"


def tenants(settings: Settings) -> list[TenantRow]:
    names = [n for n in owned_databases(settings) if not n.startswith(RESERVED_PREFIX)]
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute(
            """
            SELECT d.datname, pg_database_size(d.datname),
                   (SELECT count(*) FROM pg_stat_activity a WHERE a.datname = d.datname)
              FROM pg_database d WHERE d.datname = ANY(%s)
            """,
            (names,),
        )
        facts = {name: (size, conns) for name, size, conns in cr.fetchall()}
    rows = []
    for name in names:
        if name not in facts:
            continue  # dropped meanwhile
        version, state = _inspect(settings, name)
        size, conns = facts[name]
        rows.append(
            TenantRow(
                name=name,
                db_size_bytes=int(size),
                filestore_bytes=filestore.size(settings.filestore(name)),
                odoo_version=version,
                state=state,
                connections=int(conns),
            )
        )
    return rows


def run(args: argparse.Namespace, settings: Settings) -> int:
    rows = tenants(settings)
    cached = template_cache.templates(settings) if args.all else []
    if args.json:
        data: object = [asdict(r) for r in rows]
        if args.all:
            data = {
                "tenants": data,
                "templates": [{"name": t.name, **t.meta} for t in cached],
            }
        print_json(data)
        return 0
    if not rows:
        print("no tenants")
    else:
        width = max(len(r.name) for r in rows)
        print(f"{'NAME':<{width}}  {'DATABASE':>10}  {'FILESTORE':>10}  {'VERSION':<12}  STATE")
        for r in rows:
            print(
                f"{r.name:<{width}}  {human_size(r.db_size_bytes):>10}  "
                f"{human_size(r.filestore_bytes):>10}  {r.odoo_version or '-':<12}  {r.state}"
            )
    for t in cached:
        modules = ",".join(t.meta.get("modules", []))
        print(f"template {t.name}: {modules} {t.meta.get('lang', '')} created {t.created}")
    return 0
