"""What each kind of job does: the very domain function the CLI command calls, and what the
catalog keeps of it; and, for a job whose process was killed, how it ends (control.jobs).

A job's params hold no secret: an admin password given by the caller stays in the memory of the
API process that accepted the job (control.jobs), and a generated one is kept in the result only
until it is read once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from odoo_saas_tools.backups import orphans
from odoo_saas_tools.backups.backup import create_backup, last_backup
from odoo_saas_tools.backups.restore import RestoreOptions, restore_backup
from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog import tenants as catalog_tenants
from odoo_saas_tools.catalog.jobs import Job
from odoo_saas_tools.control import events, plans
from odoo_saas_tools.control.errors import Exists
from odoo_saas_tools.core.errors import EXIT_UNCHANGED, SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.tenants import catalog_rows, unfinished
from odoo_saas_tools.tenants import setup as tenant_setup
from odoo_saas_tools.tenants.clone import clone_tenant
from odoo_saas_tools.tenants.drop import drop
from odoo_saas_tools.tenants.identity import tenant_label

log = logging.getLogger(__name__)

Secrets = dict[str, str]
Operation = Callable[[Settings, Job, Secrets], dict[str, Any]]
GENERATED_PASSWORD = "admin_password"  # noqa: S105 - the result key read once (catalog.jobs.take_secret)


def _catalog_new(settings: Settings, db: str, plan: str) -> None:
    with store.session(settings) as cr:
        catalog_tenants.put_new(cr, db, plan)
        store.bump(cr)


def create(settings: Settings, job: Job, secrets: Secrets) -> dict[str, Any]:
    """`odoo-saas tenant provision --plan`: the warm path (a spare) when the module set allows
    it; the plan's modules, language, country, limits and trial (control.plans.provision)."""
    p = job.params
    db = p["database"]
    setup = tenant_setup.Setup(
        admin_login=p.get("admin_login") or "admin",
        admin_password=secrets.get("admin_password"),
        admin_email=p.get("admin_email"),
        company_name=p.get("company_name"),
        lang=p.get("lang"),
        country=p.get("country"),
        tz=p.get("tz"),
    )
    result = plans.provision(
        settings, db, setup, plan=p.get("plan"), modules=tuple(p.get("modules", ()))
    )
    if not result["created"]:
        if job.attempts > 1:
            # a resumed run whose first one had finished just before it was killed (its
            # catalog row was written before it was published)
            return {**result, "note": "made by the run that was killed; its password was lost"}
        raise Exists(f"tenant {db} already exists: nothing changed")
    keep = ("database", "url", "admin_login", "template_built", "spare", "modules", "lang")
    out: dict[str, Any] = {k: result.get(k) for k in keep}
    out["seconds"] = result.get("seconds")
    out["plan"] = result.get("plan")
    if result.get("admin_password"):
        out[GENERATED_PASSWORD] = result["admin_password"]
    return out


def clone(settings: Settings, job: Job, secrets: Secrets) -> dict[str, Any]:
    """`odoo-saas db clone SRC DST` (neutralized unless asked otherwise); DST gets SRC's plan."""
    p = job.params
    result = clone_tenant(settings, p["source"], p["target"], neutralized=p.get("neutralize", True))
    with store.session(settings) as cr:
        row = catalog_tenants.get(cr, p["source"])
        catalog_tenants.put_new(cr, p["target"], row.plan if row else plans.DEFAULT)
        store.bump(cr)
    return result


def backup(settings: Settings, job: Job, secrets: Secrets) -> dict[str, Any]:
    """`odoo-saas db backup NAME` into the tenant's folder of $BACKUP_DIR."""
    p = job.params
    return create_backup(settings, p["database"], None, p.get("format", "zip")).as_dict()


def restore(settings: Settings, job: Job, secrets: Secrets) -> dict[str, Any]:
    """`odoo-saas db restore NAME SOURCE [--force]`: an existing tenant is replaced once the
    backup is loaded, after a last backup of it in $BACKUP_DIR/replaced."""
    p = job.params
    db = p["database"]
    exists = databases.exists(settings, db)
    result = restore_backup(
        settings, db, p["source"], RestoreOptions(force=exists, last_backup=True)
    )
    if not exists:
        _catalog_new(settings, db, plans.DEFAULT)
    return result.as_dict()


def delete(settings: Settings, job: Job, secrets: Secrets) -> dict[str, Any]:
    """`odoo-saas db drop NAME`: a last backup in $BACKUP_DIR/dropped first."""
    db = job.params["database"]
    return drop(settings, db, last_backup=last_backup)  # its catalog rows go with it


def plan(settings: Settings, job: Job, secrets: Secrets) -> dict[str, Any]:
    """`odoo-saas tenant plan NAME PLAN`: nothing to change is a success too."""
    p = job.params
    try:
        return plans.change(settings, p["database"], p["plan"])
    except SaasError as exc:
        if exc.exit_code == EXIT_UNCHANGED:
            return {"database": p["database"], "plan": p["plan"], "changed": False}
        raise


KINDS: dict[str, Operation] = {
    "plan": plan,
    "create": create,
    "clone": clone,
    "backup": backup,
    "restore": restore,
    "delete": delete,
}


# --- a job whose process was killed --------------------------------------------------------
def resumable(job: Job) -> bool:
    """A create whose password nobody holds any more is finished by running it again
    (tenants.unfinished); a caller's password died with the process that held it."""
    return job.kind == "create" and not job.params.get("password_given")


def sweep(settings: Settings) -> None:
    """`odoo-saas db sweep`: what killed operations left is put right or removed."""
    for orphan in orphans.sweep(settings):
        log.info("sweep: %s (%s of %s): %s", orphan.name, orphan.kind, orphan.tenant, orphan.action)


def conclude(settings: Settings, job: Job) -> tuple[str, dict[str, Any] | None, str | None]:
    """(state, result, error) of a job whose process was killed, after the sweep: what it
    finished counts, what it left half-made is removed (a new tenant) or put back."""
    p = job.params
    lost = f"the API process running this {job.kind} was stopped"
    if job.kind == "create":
        db = p["database"]
        if databases.exists(settings, db):  # its row was written before it was published
            with store.session(settings) as cr:
                catalog_tenants.ensure(cr, db, p.get("plan") or plans.DEFAULT)
                store.bump(cr)
            return "succeeded", {"database": db, "note": f"{lost} after the tenant was made"}, None
        left = unfinished.of_tenant(settings, db)
        if left is not None:
            unfinished.discard(settings, left)
        return "failed", None, f"{lost}: nothing of the tenant was kept; create it again"
    if job.kind == "delete":
        db = p["database"]
        if not databases.exists(settings, db):
            catalog_rows.dropped(settings, db)  # the drop may have been killed before it
            return "succeeded", {"database": db, "note": f"{lost} after the drop"}, None
        return "failed", None, f"{lost}: the tenant is as it was; delete it again"
    if job.kind == "clone":
        if databases.exists(settings, p["target"]):
            return "succeeded", {"database": p["target"], "note": f"{lost} after the copy"}, None
        return "failed", None, f"{lost}: no copy was kept; clone it again"
    if job.kind == "restore":
        return "failed", None, f"{lost}: the tenant was put back as it was, or restored; check it"
    return "failed", None, f"{lost}: nothing was kept; run it again"


# --- what a job's end tells a hoster's systems (control.events) -----------------------------
def events_of(
    settings: Settings, job: Job, state: str, result: dict[str, Any] | None, error: str | None
) -> list[tuple[str, str | None, dict[str, Any]]]:
    """(type, tenant's database, payload) of each event a job's end makes, emitted in the
    transaction that records it (control.jobs): a failed job is `job.failed`, and a backup's
    end, a new tenant (a create, a clone's copy) and a dropped one say so too."""
    db = job.tenant
    base: dict[str, Any] = {"name": tenant_label(settings, db) if db else None, "job": job.id}
    result = result or {}
    out: list[tuple[str, str | None, dict[str, Any]]] = []
    if state == "failed":
        out.append((events.JOB_FAILED, db, {**base, "kind": job.kind, "error": error}))
        if job.kind == "backup":
            out.append((events.BACKUP_FAILED, db, {**base, "error": error}))
        return out
    if job.kind == "backup":
        keep = ("path", "size_bytes", "sha256", "fmt", "duration_seconds")
        out.append((events.BACKUP_SUCCEEDED, db, {**base, **{k: result.get(k) for k in keep}}))
    elif job.kind == "create" and result.get("database"):
        plan = result.get("plan") or job.params.get("plan") or plans.DEFAULT
        out.append((events.TENANT_CREATED, db, {**base, "plan": plan, "url": result.get("url")}))
    elif job.kind == "clone":
        target = job.params["target"]
        copy = {"name": tenant_label(settings, target), "job": job.id, "source": base["name"]}
        out.append((events.TENANT_CREATED, target, copy))
    elif job.kind == "delete":
        out.append((events.TENANT_DELETED, db, {**base, "backup": result.get("backup")}))
    return out


def run(settings: Settings, job: Job, secrets: Secrets) -> dict[str, Any]:
    operation = KINDS.get(job.kind)
    if operation is None:
        raise SaasError(f"unknown job kind {job.kind!r}")
    return operation(settings, job, secrets)
