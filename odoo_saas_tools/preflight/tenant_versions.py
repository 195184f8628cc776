"""Tenants: every database this stack would serve, its Odoo version, and what auto-update needs.

One connection and at most two queries per database. A database of another Odoo major version
is not served: it is excluded through the rendered dbfilter (Odoo 19 would try to load it with
19.0 code). One named in ODOO_DB_NAME is an error instead, since the hoster asked for it.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import psycopg2

from odoo_saas_tools.core.errors import SaasError, first_line
from odoo_saas_tools.core.odoo_series import ODOO_SERIES as ODOO_MAJOR
from odoo_saas_tools.core.odoo_series import is_current
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.connection import base_version, connect, servable_databases
from odoo_saas_tools.preflight.checksums import PARAM_CHECKSUMS, PARAM_EXCLUDE
from odoo_saas_tools.preflight.findings import ERROR, OK, WARNING, Report

SCAN_THREADS = 8  # connections opened at once while inspecting databases

STATE_SQL = f"""
SELECT (SELECT value FROM ir_config_parameter WHERE key = '{PARAM_CHECKSUMS}'),
       (SELECT value FROM ir_config_parameter WHERE key = '{PARAM_EXCLUDE}'),
       ARRAY(SELECT code FROM res_lang WHERE active ORDER BY code),
       ARRAY(SELECT name FROM ir_module_module WHERE state = 'installed' ORDER BY name),
       ARRAY(SELECT name FROM ir_module_module
              WHERE state IN ('to install', 'to upgrade', 'to remove') ORDER BY name)
"""  # noqa: S608 - constants only


@dataclass
class Tenant:
    name: str
    version: str
    checksums_raw: str | None = None
    exclude_raw: str | None = None
    langs: list[str] = field(default_factory=list)
    installed: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # modules left half-way (to upgrade ...)


def _apply_state(tenant: Tenant, row: tuple) -> Tenant:
    tenant.checksums_raw, tenant.exclude_raw = row[0], row[1]
    tenant.langs, tenant.installed, tenant.pending = list(row[2]), list(row[3]), list(row[4])
    return tenant


def read_state(settings: Settings, tenant: Tenant) -> Tenant:
    """Refresh what auto-update needs (checksums, languages, installed modules)."""
    with connect(settings, tenant.name) as conn, conn.cursor() as cr:
        cr.execute(STATE_SQL)
        return _apply_state(tenant, cr.fetchone())


Inspection = tuple[str, str | None, tuple | None, str | None]  # name, version, state, error


def inspect(settings: Settings, name: str, with_state: bool) -> Inspection:
    """One connection: base's version (None: not an Odoo database) and the update state."""
    try:
        with connect(settings, name) as conn, conn.cursor() as cr:
            version = base_version(cr)
            if version is None:
                return name, None, None, None
            version = version or "unknown"
            state = None
            if is_current(version) and with_state:
                cr.execute(STATE_SQL)
                state = cr.fetchone()
            return name, version, state, None
    except (SaasError, psycopg2.Error) as exc:
        return name, None, None, first_line(exc)


def scan(settings: Settings, report: Report, *, with_state: bool) -> list[Tenant]:
    """Odoo 19 tenants served by this stack; others reported (and excluded when not asked for).

    Databases are inspected in parallel: with hundreds of tenants on a remote server the
    connection set-up, not the queries, is what costs.
    """
    names = servable_databases(settings)
    with ThreadPoolExecutor(max_workers=max(1, min(SCAN_THREADS, len(names)))) as pool:
        inspections = list(pool.map(lambda n: inspect(settings, n, with_state), names))
    tenants: list[Tenant] = []
    others = 0
    for name, version, state, error in inspections:
        if error:
            report.add("tenants", name, WARNING, f"not inspected: {error}")
            continue
        if version is None:
            continue  # not an Odoo database
        if not is_current(version):
            others += 1
            major = ".".join(version.split(".")[:2])
            if name in settings.db_name:
                report.add(
                    "tenants",
                    name,
                    ERROR,
                    f"is an Odoo {major} database (base {version}) but ODOO_DB_NAME asks to "
                    f"serve it with Odoo {ODOO_MAJOR}: upgrade it first, or remove it from "
                    "ODOO_DB_NAME",
                )
            else:
                report.excluded_tenants[name] = f"Odoo {major} database"
                report.add(
                    "tenants",
                    name,
                    WARNING,
                    f"is an Odoo {major} database (base {version}): not served by this Odoo "
                    f"{ODOO_MAJOR} stack (excluded through the dbfilter)",
                )
            continue
        tenant = Tenant(name, version)
        tenants.append(_apply_state(tenant, state) if state is not None else tenant)
    report.add(
        "tenants",
        "databases",
        OK,
        f"{len(tenants)} Odoo {ODOO_MAJOR} tenant(s) served"
        + (f", {others} of another version" if others else ""),
    )
    return tenants


def exclusion_filter(settings: Settings, names: list[str]) -> str:
    """A dbfilter that keeps the configured one and refuses exactly these database names.

    Odoo applies the filter with re.match after replacing %d / %h, so a negative lookahead at
    the start excludes the names whatever the host; with no filter every other database stays
    allowed. (With only ODOO_DB_NAME set, Odoo serves just those names and never lists others.)
    """
    alternatives = "|".join(re.escape(n) for n in sorted(names))
    allowed = settings.db_filter or ".*"
    return f"^(?!(?:{alternatives})$)(?:{allowed})"


def serving_settings(settings: Settings, report: Report) -> Settings:
    """The settings Odoo must be rendered with: s itself, or s with the excluding dbfilter."""
    if not report.excluded_tenants:
        return settings
    if settings.db_name and not settings.db_filter:
        return (
            settings  # Odoo serves exactly ODOO_DB_NAME (checked above), nothing else is reachable
        )
    return replace(settings, db_filter=exclusion_filter(settings, list(report.excluded_tenants)))
