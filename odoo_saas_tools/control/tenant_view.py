"""A tenant as the control API shows it: what `db list` knows (sizes, state, what killed
operations left), what the catalog knows (plan, suspension, creation), the job holding it, its
last backup, its URL and its domains.

The API names a tenant as `tenant provision` does: NAME is the database TENANT_DB_PREFIX + NAME
(tenants.provision.tenant_database), so only databases carrying the prefix are the API's tenants.
Lifecycle states: `provisioning` (a create job holds it), `deleting` (a delete job holds it),
`suspended`, `active`; a tenant whose database is missing but whose killed operation left
something shows what `db list` shows for it (`orphaned-provisioning`, `in-progress-restore` ...).
`db_state` is db list's own word for the database (ready, neutralized, pending ...).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from odoo_saas_tools.backups import status as backup_status
from odoo_saas_tools.backups.names import parse_backup_name, read_checksum
from odoo_saas_tools.backups.retain import local_backups
from odoo_saas_tools.catalog import jobs as catalog_jobs
from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog import tenants as catalog_tenants
from odoo_saas_tools.control import plans
from odoo_saas_tools.control.errors import NotFound
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.domains import manage as domain_claims
from odoo_saas_tools.tenants import hidden, identity, listing
from odoo_saas_tools.tenants.provision import tenant_database

STATES = ("provisioning", "active", "suspended", "deleting")
JOB_STATES = {"create": "provisioning", "delete": "deleting"}


@dataclass
class LastBackup:
    at: datetime
    size_bytes: int
    verified: bool  # checked when written: its sha256 sidecar was written after the check
    offsite: str  # verified | failed | disabled (the scheduled runs' status)
    file: str


@dataclass
class TenantView:
    name: str
    database: str
    state: str
    db_state: str | None
    plan: str
    state_reason: str = ""
    state_changed_at: datetime | None = None
    database_bytes: int = 0
    filestore_bytes: int = 0
    active_users: int | None = None
    last_backup: LastBackup | None = None
    url: str | None = None
    created_at: datetime | None = None
    odoo_version: str | None = None
    job: str | None = None
    leftovers: list[str] = field(default_factory=list)
    domains: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def database(settings: Settings, name: str) -> str:
    """The database of the API's tenant name (validated: ConfigError says what is wrong)."""
    return tenant_database(settings, name)


def _is_ours(settings: Settings, db: str) -> bool:
    prefix = settings.tenant_db_prefix
    return not prefix or (db.startswith(prefix) and db != prefix)


def domains_of(settings: Settings, dbs: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each tenant's custom domains (domains.manage), with the DNS record that proves each."""
    wanted = set(dbs)
    out: dict[str, list[dict[str, Any]]] = {}
    for claim in domain_claims.listing(settings):
        if claim.row.tenant in wanted:
            out.setdefault(claim.row.tenant, []).append(claim.as_dict())
    return out


def view(settings: Settings, name: str) -> TenantView:
    """Tenant name (the API's name); NotFound when nothing of it exists."""
    db = database(settings, name)
    found = _gather(settings, {db}) if _mentioned(settings, db) else []
    if not found:
        raise NotFound(f"tenant {name} does not exist")
    return found[0]


def _mentioned(settings: Settings, db: str) -> bool:
    """Whether anything could make db a tenant to show: its database, a job holding it, or a
    hidden database whose journal may name it (the full look decides). One catalog query: an
    unknown name costs no look at the whole pool."""
    with store.session(settings) as cr:
        cr.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = %s) "
            "OR EXISTS (SELECT 1 FROM job_claim WHERE tenant = %s) "
            "OR EXISTS (SELECT 1 FROM pg_shdescription "
            "           WHERE classoid = 'pg_database'::regclass AND strpos(description, %s) > 0)",
            (db, db, db),
        )
        return bool(cr.fetchone()[0])


def search(
    settings: Settings,
    *,
    state: str | None = None,
    plan: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[TenantView], int]:
    """One page of the tenants (by name) in state and on plan, and how many there are."""
    views = [
        v
        for v in _gather(settings, None)
        if (state is None or v.state == state) and (plan is None or v.plan == plan)
    ]
    return views[offset : offset + limit], len(views)


def _gather(settings: Settings, only: set[str] | None) -> list[TenantView]:
    # one catalog session (the API keeps them open) for the server's shared catalogs too
    with store.session(settings) as cr:
        listed = listing.tenants(settings, only=only, leftovers=False, conn=cr.connection)
        orphans = hidden.find(settings, conn=cr.connection)
        catalog = catalog_tenants.all_rows(cr)
        holders = catalog_jobs.holders(cr)
    rows = {r.name: r for r in listed if _is_ours(settings, r.name)}
    left: dict[str, list[str]] = {}
    for orphan in orphans:
        if orphan.tenant and (only is None or orphan.tenant in only):
            state = ("in-progress-" if orphan.busy else "orphaned-") + orphan.kind
            left.setdefault(orphan.tenant, []).append(state)
    names = set(rows) | {t for t in left if _is_ours(settings, t)}
    names |= {t for t in holders if _is_ours(settings, t)}
    if only is not None:
        names &= only
    statuses = backup_status.read_statuses(settings) if only is None else {}
    domains = domains_of(settings, sorted(names))
    views = []
    for db in sorted(names):
        row, entry, job = rows.get(db), catalog.get(db), holders.get(db)
        if row is not None:
            state = "suspended" if entry and entry.state == "suspended" else "active"
        elif job is not None:
            state = "provisioning"  # made by its job: a create, a clone to it, a restore
        else:
            state = left[db][0]
        if job is not None and job.kind in JOB_STATES:
            state = JOB_STATES[job.kind]
        status = statuses.get(db) if only is None else backup_status.read_status(settings, db)
        views.append(
            TenantView(
                name=identity.tenant_label(settings, db),
                database=db,
                state=state,
                db_state=row.state if row else None,
                plan=entry.plan if entry else plans.DEFAULT,
                state_reason=entry.state_reason if entry else "",
                state_changed_at=entry.state_changed_at if entry else None,
                database_bytes=row.db_size_bytes if row else 0,
                filestore_bytes=row.filestore_bytes if row else 0,
                active_users=row.internal_users if row else None,
                last_backup=_last_backup(settings, db, status),
                url=identity.default_base_url(settings, db)
                if settings.tenant_url_template
                else None,
                created_at=entry.created_at if entry else None,
                odoo_version=row.odoo_version if row else None,
                job=job.id if job else None,
                leftovers=left.get(db, []) if row else left.get(db, [])[1:],
                domains=domains.get(db, []),
            )
        )
    return views


def _last_backup(
    settings: Settings, db: str, status: backup_status.BackupStatus | None
) -> LastBackup | None:
    found = local_backups(settings, db)
    if not found:
        return None
    path = found[-1]
    parsed = parse_backup_name(path.name)
    try:
        size = path.stat().st_size
    except OSError:
        return None  # pruned meanwhile
    at = parsed.timestamp if parsed else datetime.fromtimestamp(0, timezone.utc)
    return LastBackup(
        at=at,
        size_bytes=size,
        verified=read_checksum(path) is not None,
        offsite=status.offsite if status else "disabled",
        file=path.name,
    )
