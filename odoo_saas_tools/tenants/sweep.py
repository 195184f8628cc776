"""What killed operations leave behind, found and put right: `db sweep`, and pre-flight at every
start of the stack.

A restore loads into a hidden scratch database and swaps it in by renames, a drop renames the
tenant away before its last backup, a new tenant or clone is finished under a hidden name; a
SIGKILL, an out-of-memory kill or a PostgreSQL restart can stop any of them anywhere. Every
hidden database carries a journal (tenants.hidden) naming the tenant it belongs to, and its
maker holds locks while it works, so a later run can tell an orphan from work in progress:

- a scratch database (restore, verify) nobody holds is dropped with its filestore;
- a replaced tenant whose tenant database exists again was swapped out for good: dropped;
- a replaced tenant whose tenant database is missing was cut off mid-swap: it is put back
  (database and filestore), so the tenant is online again as it was before the restore;
- a tenant renamed away by a drop that was killed before it dropped it is put back too;
- a new tenant a killed create or provisioning left unfinished (tenants.unfinished) is kept
  for the retry that finishes it, with a claimed spare's files moved to the tenant's place
  (never deleted); it is dropped only if the tenant was made meanwhile by other means;
- a clone cut off before it took its name is dropped (its source is there to clone again);
- a database's own role whose database is gone, and a loading role of an earlier version
  (odoo_saas_load_*) whose scratch database is gone, are dropped.

One orphan that cannot be put right is reported ("failed: ...") and the others still are.
The backup files a killed operation leaves are swept by backups.orphans, which runs this first.
"""

from __future__ import annotations

import logging

import psycopg2

from odoo_saas_tools.core.errors import BusyError, SaasError, first_line
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases, loader, roles
from odoo_saas_tools.postgres.connection import connect
from odoo_saas_tools.postgres.locks import advisory_lock, is_locked
from odoo_saas_tools.tenants import filestore, unfinished
from odoo_saas_tools.tenants.hidden import Orphan, find, put_back
from odoo_saas_tools.tenants.locks import tenant_lock

log = logging.getLogger(__name__)

FAILED = "failed: "  # how an orphan that could not be put right is reported


def sweep(settings: Settings, *, dry_run: bool = False) -> list[Orphan]:
    """Put every orphan right (or say what would be done); busy ones are left alone."""
    orphans = find(settings)
    for orphan in orphans:
        if orphan.busy:
            orphan.action = "left alone: its operation is still running"
            continue
        try:
            orphan.action = _fix(settings, orphan, dry_run)
        except BusyError:
            orphan.action = "left alone: its operation is still running"
        except (SaasError, OSError, psycopg2.Error) as exc:
            orphan.action = FAILED + reason(exc)
        if not dry_run:
            log.warning("%s (%s of %s): %s", orphan.name, orphan.kind, orphan.tenant, orphan.action)
    orphans += [_sweep_role(settings, role, dry_run) for role in loader.leftover_roles(settings)]
    if not dry_run:
        # a database's own role whose drop was cut off between DROP DATABASE and DROP ROLE
        for role in roles.sweep(settings):
            orphans.append(Orphan(role, "role", None, False, "dropped (its database is gone)"))
    return orphans


def failed(orphans: list[Orphan]) -> bool:
    return any(o.action.startswith(FAILED) for o in orphans)


def reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": ")
    return first_line(exc)


def _sweep_role(settings: Settings, role: str, dry_run: bool) -> Orphan:
    """A killed restore's loading role: in use while it owns a scratch database whose maker
    still holds its lock; otherwise dropped (its orphaned scratch went just before)."""
    orphan = Orphan(role, "role", None, False)
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute(
            "SELECT d.datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba "
            "WHERE r.rolname = %s",
            (role,),
        )
        owned = [name for (name,) in cr.fetchall()]
    if any(is_locked(settings, name) for name in owned):
        orphan.busy, orphan.action = True, "left alone: its restore is still running"
    elif dry_run:
        orphan.action = "would be dropped"
    else:
        try:
            loader.drop_role(settings, role)
            orphan.action = "dropped"
        except psycopg2.Error as exc:
            orphan.action = FAILED + first_line(exc)
        log.warning("%s (loading role): %s", role, orphan.action)
    return orphan


def _fix(settings: Settings, orphan: Orphan, dry_run: bool) -> str:
    name = orphan.name
    if orphan.kind in ("scratch", "filestore"):
        if dry_run:
            return "would be removed"
        with advisory_lock(settings, name, busy=f"{name} is in use"):
            if orphan.kind == "scratch":
                databases.drop(settings, name)
            filestore.remove(settings.filestore(name))
        return "removed"
    tenant = orphan.tenant
    if not tenant:
        return "left alone: no journal says whose it is (remove it by hand once checked)"
    with tenant_lock(settings, tenant, operation="sweep"):
        if orphan.kind in ("provisioning", "cloning"):
            return _roll_forward(settings, name, tenant, dry_run)
        if orphan.kind == "dropping":
            if databases.exists(settings, tenant):
                return f"left alone: {tenant} exists again (remove this copy by hand once checked)"
            if dry_run:
                return f"would be put back as {tenant} (its drop was cut off)"
            put_back(settings, tenant, name)
            return f"put back as {tenant} (its drop was cut off)"
        if databases.exists(settings, tenant):
            if dry_run:
                return f"would be dropped: {tenant} was restored over it"
            databases.drop(settings, name)
            filestore.remove(settings.filestore(name))
            return f"dropped: {tenant} was restored over it"
        if dry_run:
            return f"would be put back as {tenant} (the restore over it was cut off)"
        put_back(settings, tenant, name)
        return f"put back as {tenant} (the restore over it was cut off)"


def _roll_forward(settings: Settings, name: str, tenant: str, dry_run: bool) -> str:
    """An unfinished new tenant: its files where the tenant needs them, the rest for the retry
    of its create or provisioning (only that knows the admin and company to write); a clone's
    copy is dropped."""
    left = unfinished.read(settings, name)  # again, under the tenant's lock
    if left is None:
        if not databases.exists(settings, name):
            return "left alone: finished or discarded meanwhile"
        return "left alone: a journal odoo-saas did not write (remove it by hand once checked)"
    if left.operation == unfinished.CLONE:
        if dry_run:
            return f"would be dropped: a clone to {tenant} cut off (clone it again)"
        unfinished.discard(settings, left)
        return f"dropped: a clone to {tenant} cut off (clone it again)"
    if databases.exists(settings, tenant):
        if dry_run:
            return f"would be dropped: {tenant} was made meanwhile by other means"
        unfinished.discard(settings, left)
        return f"dropped: {tenant} was made meanwhile by other means"
    retry = f"`tenant provision` (or `db create`) of {tenant} again finishes it"
    if dry_run:
        return f"would be kept with its files in place: {retry}"
    files = unfinished.bring_files(settings, left)
    return f"kept (files {files}): {retry}"
