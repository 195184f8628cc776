"""What a killed restore or verify leaves behind, found and put right.

A restore loads into a hidden scratch database and swaps it in by renames; a SIGKILL, an
out-of-memory kill or a PostgreSQL restart can stop it anywhere. Every hidden database carries a
journal (its comment, see databases.journal) naming the tenant it belongs to, and its maker holds
locks while it works, so a later run can tell an orphan from work in progress:

- a scratch database (restore, verify) nobody holds is dropped with its filestore;
- a replaced tenant whose tenant database exists again was swapped out for good: dropped;
- a replaced tenant whose tenant database is missing was cut off mid-swap: it is put back
  (database and filestore), so the tenant is online again as it was before the restore;
- a tenant renamed away by a drop that was killed before it dropped it is put back too;
- a new tenant a killed create or provisioning left unfinished (tenants.unfinished) is kept
  for the retry that finishes it, with a claimed spare's files moved to the tenant's place
  (never deleted); it is dropped only if the tenant was made meanwhile by other means;
- a clone cut off before it took its name is dropped (its source is there to clone again).
- a loading role of an earlier version (odoo_saas_load_*) whose scratch database is gone is dropped;
- the `.partial` file of a backup whose writer is gone (a killed `restore --force` or `drop`
  leaves its last backup's in $BACKUP_DIR/replaced or /dropped) is removed. Its writer holds
  the lock of the tenant the file is named after (in PostgreSQL: seen from every container),
  and its pid is in the name (seen in this PID namespace only): both must say it is gone.

One orphan that cannot be put right is reported ("failed: ...") and the others still are.
Run by `odoo-saas db sweep` and by pre-flight at every start of the stack.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg2

from odoo_saas_tools.backups import names
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
            orphan.action = FAILED + _reason(exc)
        if not dry_run:
            log.warning("%s (%s of %s): %s", orphan.name, orphan.kind, orphan.tenant, orphan.action)
    orphans += [_sweep_role(settings, role, dry_run) for role in loader.leftover_roles(settings)]
    orphans += _sweep_partials(settings, dry_run)
    if not dry_run:
        # a database's own role whose drop was cut off between DROP DATABASE and DROP ROLE
        for role in roles.sweep(settings):
            orphans.append(Orphan(role, "role", None, False, "dropped (its database is gone)"))
    return orphans


def failed(orphans: list[Orphan]) -> bool:
    return any(o.action.startswith(FAILED) for o in orphans)


def _reason(exc: BaseException) -> str:
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


def _sweep_partials(settings: Settings, dry_run: bool) -> list[Orphan]:
    found = []
    for path in sorted(settings.backup_dir.rglob(f"*{names.PARTIAL_SUFFIX}")):
        rel = path.relative_to(settings.backup_dir)
        backup = names.partial_of(path.name)
        if backup is None or any(part.startswith(".") for part in rel.parts[:-1]):
            continue  # not a backup's (a download in a restore's hidden temporary folder)
        orphan = Orphan(str(rel), "partial", backup.database, False)
        if names.writer_alive(path.name) or is_locked(settings, backup.database):
            orphan.busy, orphan.action = True, "left alone: its backup is still being written"
        elif dry_run:
            orphan.action = "would be removed"
        else:
            orphan.action = _remove(path)
            log.warning("%s (partial backup of %s): %s", rel, backup.database, orphan.action)
        found.append(orphan)
    return found


def _remove(path: Path) -> str:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        return FAILED + _reason(exc)
    return "removed"


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
