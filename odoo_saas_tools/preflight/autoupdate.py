"""ODOO_AUTO_UPDATE: upgrade each tenant's changed modules before Odoo serves, with rollback.

A module changed when its source checksum differs from the one stored at the last update
(see checksums.py). Unchanged tenants cost the state query done by the tenant scan plus
checksums computed once per start for all tenants. A changed tenant, under its tenant lock:
snapshot (CREATE DATABASE ... TEMPLATE, the floor for copying a database, plus a hard-linked
filestore copy: files are content-addressed and never modified in place), `-u` of the changed
modules, and on failure the snapshot is swapped back in, as Odoo.sh does. A tenant that failed
is not served: its code and data disagree until the module is fixed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from odoo_saas_tools.core.errors import BusyError, SaasError, first_line
from odoo_saas_tools.core.execute import redact_text
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.odoo import runner as odoo_runner
from odoo_saas_tools.postgres import copies, databases
from odoo_saas_tools.postgres.connection import connect
from odoo_saas_tools.preflight.checksums import PARAM_CHECKSUMS, ChecksumCache, exclude_patterns
from odoo_saas_tools.preflight.checksums import load_saved as load_saved_checksums
from odoo_saas_tools.preflight.findings import ERROR, OK, WARNING, Report
from odoo_saas_tools.preflight.tenant_versions import Tenant, read_state
from odoo_saas_tools.tenants import filestore, hidden
from odoo_saas_tools.tenants.identity import set_params
from odoo_saas_tools.tenants.locks import tenant_lock

log = logging.getLogger(__name__)

UPGRADE_TIMEOUT = 3600


@dataclass
class Plan:
    changed: list[str]
    unknown: list[str]  # installed but not on the addons path
    baseline: bool  # nothing stored yet


def _suffix(db: str) -> str:
    return hashlib.sha1(db.encode(), usedforsecurity=False).hexdigest()[:16]


def snapshot_name(db: str) -> str:
    """Fixed per tenant, so a snapshot left by a crash is found at the next start."""
    return f"{hidden.SNAPSHOT_PREFIX}{_suffix(db)}"


def current_checksums(tenant: Tenant, cache: ChecksumCache) -> dict[str, str | None]:
    patterns = exclude_patterns(tenant.exclude_raw)
    return {m: cache.checksum(m, patterns, tenant.langs) for m in tenant.installed}


def plan(tenant: Tenant, cache: ChecksumCache) -> Plan:
    saved = load_saved_checksums(tenant.checksums_raw)
    unknown = [m for m in tenant.installed if m not in cache.paths]
    if saved is None:
        return Plan([], unknown, True)
    current = current_checksums(tenant, cache)
    changed = [m for m, c in current.items() if c is not None and c != saved.get(m)]
    return Plan(changed, unknown, False)


def record_checksums(settings: Settings, tenant: Tenant, cache: ChecksumCache) -> None:
    """Store the checksums of what is installed now (after an update, or as a baseline)."""
    read_state(settings, tenant)
    value = json.dumps(current_checksums(tenant, cache), sort_keys=True)
    with connect(settings, tenant.name, autocommit=False) as conn, conn.cursor() as cr:
        set_params(cr, {PARAM_CHECKSUMS: value})
        conn.commit()


def take_snapshot(settings: Settings, db: str, snap: str) -> None:
    """Database and filestore, or neither (a half snapshot would block the next update)."""
    databases.terminate(settings, db)
    copies.copy_by_template(settings, db, snap)
    try:
        databases.set_comment(settings, snap, hidden.Snapshot(db).comment())
        filestore.remove(settings.filestore(snap))
        filestore.copy_tree(settings.filestore(db), settings.filestore(snap))
    except BaseException:
        databases.drop_quietly(settings, snap)
        raise


def drop_snapshot(settings: Settings, name: str) -> None:
    databases.drop(settings, name)
    filestore.remove(settings.filestore(name))


def roll_back(settings: Settings, db: str, snap: str) -> None:
    """Swap the snapshot in under the tenant's name; the failed copy is dropped afterwards."""
    failed = f"{hidden.FAILED_UPDATE_PREFIX}{_suffix(db)}"
    drop_snapshot(settings, failed)
    databases.rename(settings, db, failed)
    databases.rename(settings, snap, db)
    filestore.rename(settings.filestore(db), settings.filestore(failed))
    filestore.rename(settings.filestore(snap), settings.filestore(db))
    drop_snapshot(settings, failed)


def odoo_error(stderr: bytes | None, settings: Settings) -> str:
    """The line of Odoo's log that says what went wrong: its last ERROR/CRITICAL entry, plus
    the exception that ended it (Odoo's last line is usually an unhelpful INFO)."""
    lines = [ln.strip() for ln in (stderr or b"").decode(errors="replace").splitlines()]
    lines = [ln for ln in lines if ln]
    logged = [ln for ln in lines if re.search(r"\d+ (ERROR|CRITICAL) ", ln)]
    message = re.sub(r"^.*? (ERROR|CRITICAL) \S+ \S+: ", "", logged[-1]) if logged else ""
    raised = [ln for ln in lines if re.match(r"[\w.]+(Error|Exception)\b.*:", ln)]
    if raised and raised[-1] not in message:
        message = f"{message} ({raised[-1]})" if message else raised[-1]
    message = message or (lines[-1] if lines else "no output")
    return redact_text(message, settings.secret_values())[:400]


def _pending(settings: Settings, db: str) -> list[str]:
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute(
            "SELECT name FROM ir_module_module "
            "WHERE state IN ('to install', 'to upgrade', 'to remove') ORDER BY name"
        )
        return [r[0] for r in cr.fetchall()]


def upgrade(
    settings: Settings, tenant: Tenant, modules: list[str], cache: ChecksumCache
) -> str | None:
    """Snapshot, -u, verify; roll back on failure. Returns None, or why it failed."""
    db = tenant.name
    snap = snapshot_name(db)
    if databases.exists(settings, snap):
        return (
            f"a snapshot of an interrupted update exists ({snap}): kept untouched; check "
            f"{db}, then drop {snap} (or rename it back) to let auto-update run again"
        )
    take_snapshot(settings, db, snap)
    log.warning("%s: upgrading %s (snapshot %s)", db, ",".join(modules), snap)
    try:
        proc = odoo_runner.server_job(
            settings, db, ["-u", ",".join(modules)], timeout=UPGRADE_TIMEOUT, check=False
        )
        if proc.returncode != 0:
            raise SaasError(f"odoo exited {proc.returncode}: {odoo_error(proc.stderr, settings)}")
        pending = _pending(settings, db)
        if pending:
            raise SaasError(f"modules left half-way: {', '.join(pending)}")
    except SaasError as exc:
        log.error("%s: upgrade of %s failed, rolling back: %s", db, ",".join(modules), exc)
        roll_back(settings, db, snap)
        return f"upgrade of {', '.join(modules)} failed and was rolled back: {exc}"
    record_checksums(settings, tenant, cache)
    drop_snapshot(settings, snap)
    return None


def update_tenant(settings: Settings, tenant: Tenant, cache: ChecksumCache, report: Report) -> None:
    p = plan(tenant, cache)
    if p.unknown:
        report.add(
            "update",
            tenant.name,
            WARNING,
            f"installed but not on the addons path: {', '.join(p.unknown)}",
        )
    if tenant.pending:
        report.add(
            "update",
            tenant.name,
            WARNING,
            f"modules left half-way ({', '.join(tenant.pending)}): Odoo finishes them at load",
        )
    if not p.baseline and not p.changed:
        report.add("update", tenant.name, OK, f"{len(tenant.installed)} modules unchanged")
        return
    with tenant_lock(settings, tenant.name, operation="update"):
        if p.baseline:
            record_checksums(settings, tenant, cache)
            report.add(
                "update",
                tenant.name,
                WARNING,
                "no module checksums were stored: recorded the current ones; changes from now "
                "on are upgraded",
            )
            return
        failure = upgrade(settings, tenant, p.changed, cache)
    if failure is None:
        report.add("update", tenant.name, OK, f"upgraded {', '.join(p.changed)}")
    elif tenant.name in settings.db_name:
        report.add("update", tenant.name, ERROR, failure)
    else:
        report.excluded_tenants[tenant.name] = "failed update"
        report.add("update", tenant.name, WARNING, failure + "; not served until fixed")


def recover_interrupted(settings: Settings, report: Report) -> None:
    """A start that died between the two renames of a swap-back left the tenant missing and
    its snapshot present: put the snapshot (the state before the update) back in place."""
    for snap, snapshot in hidden.snapshots(settings).items():
        tenant = snapshot.of
        if not tenant or snapshot_name(tenant) != snap or databases.exists(settings, tenant):
            continue
        with tenant_lock(settings, tenant, operation="update"):
            databases.rename(settings, snap, tenant)
            if not settings.filestore(tenant).exists():
                filestore.rename(settings.filestore(snap), settings.filestore(tenant))
        report.add(
            "update",
            tenant,
            WARNING,
            f"was missing after an interrupted update: restored from its snapshot {snap} "
            "(the state before that update)",
        )


def update_tenants(
    settings: Settings, tenants: list[Tenant], paths: dict[str, Path], report: Report
) -> None:
    cache = ChecksumCache(paths)
    for tenant in tenants:
        try:
            update_tenant(settings, tenant, cache, report)
        except BusyError as exc:
            report.add("update", tenant.name, WARNING, f"not updated: {exc}")
        except (SaasError, psycopg2.Error, OSError) as exc:
            first = first_line(exc)
            report.excluded_tenants[tenant.name] = "update error"
            report.add(
                "update",
                tenant.name,
                ERROR if tenant.name in settings.db_name else WARNING,
                f"auto-update stopped: {first} (any snapshot {snapshot_name(tenant.name)} is "
                "kept); not served until checked",
            )


def pending_updates(tenants: list[Tenant], paths: dict[str, Path], report: Report) -> None:
    """Read-only: what a start would upgrade (for `odoo-saas preflight` without --fix)."""
    cache = ChecksumCache(paths)
    for tenant in tenants:
        p = plan(tenant, cache)
        if p.baseline:
            report.add("update", tenant.name, WARNING, "no module checksums stored yet")
        elif p.changed:
            report.add(
                "update", tenant.name, WARNING, f"changed, to upgrade: {', '.join(p.changed)}"
            )
        else:
            report.add("update", tenant.name, OK, f"{len(tenant.installed)} modules unchanged")
