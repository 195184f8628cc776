"""odoo-saas's hidden databases: what they are, whose they are, and whether someone still
works on them.

Restores load into `odoo_saas_restore_*`, a forced restore renames the tenant it replaces to
`odoo_saas_replaced_*`, `backup verify` loads into `odoo_saas_verify_*`, a drop renames the tenant
to `odoo_saas_dropping_*` before its last backup. Spare tenants (tenants.spares) are made as
`odoo_saas_newspare_*` and wait, ready, as `odoo_saas_spare_*`; a new tenant is made as
`odoo_saas_newtenant_*` until it is finished (tenants.unfinished). Each of the others carries a
journal in its comment (databases.journal) naming its tenant; the operation holds the lock of
the hidden name (or of the tenant) while it works. `db list` shows what is left of killed
operations, `db sweep` (backups.orphans) puts it right.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import psycopg2.extensions

from odoo_saas_tools.core.reserved import RESERVED_PREFIX
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.postgres.locks import is_locked
from odoo_saas_tools.tenants import filestore

RESTORE_PREFIX = RESERVED_PREFIX + "restore_"  # a backup being loaded
REPLACED_PREFIX = RESERVED_PREFIX + "replaced_"  # a tenant replaced by restore --force
VERIFY_PREFIX = RESERVED_PREFIX + "verify_"  # backup verify --restore-test
DROPPING_PREFIX = RESERVED_PREFIX + "dropping_"  # a tenant being dropped, after its last backup
NEW_SPARE_PREFIX = RESERVED_PREFIX + "newspare_"  # a spare tenant being made
SPARE_PREFIX = RESERVED_PREFIX + "spare_"  # a spare tenant, ready to be claimed
NEW_TENANT_PREFIX = RESERVED_PREFIX + "newtenant_"  # a tenant being created or provisioned
SCRATCH_PREFIXES = (RESTORE_PREFIX, VERIFY_PREFIX, NEW_SPARE_PREFIX)


@dataclass
class Orphan:
    name: str
    kind: str  # scratch | replaced | dropping | provisioning | cloning | filestore | role | partial
    tenant: str | None
    busy: bool  # its operation is still running (locks held): not an orphan yet
    action: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def journal_of(comment: str) -> dict:
    try:
        data = json.loads(comment) if comment else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) and "odoo_saas" in data else {}


def find(settings: Settings, *, conn: psycopg2.extensions.connection | None = None) -> list[Orphan]:
    """Hidden databases and filestores left by restores and verifications (the databases read
    on conn, a connection to any database of the server, if given)."""
    found: list[Orphan] = []
    seen: set[str] = set()
    for name, comment in databases.comments(settings, RESERVED_PREFIX, conn=conn).items():
        journal = journal_of(comment)
        if name.startswith(SCRATCH_PREFIXES):
            kind = "scratch"
        elif name.startswith(REPLACED_PREFIX):
            kind = "replaced"
        elif name.startswith(DROPPING_PREFIX):
            kind = "dropping"
        elif name.startswith(NEW_TENANT_PREFIX):
            # without its journal: killed right after CREATE DATABASE, nothing claimed yet
            operation = journal.get("odoo_saas")
            kind = {"provision": "provisioning", "clone": "cloning"}.get(operation, "scratch")
            # a claimed spare's files, until they are moved to the tenant: not a stray
            seen.add(str(journal.get("spare", "")))
        elif name.startswith(SPARE_PREFIX):
            seen.add(name)  # ready for a signup: not an orphan
            continue
        else:
            continue  # the template cache, update snapshots: their own owners look after them
        seen.add(name)
        tenant = journal.get("tenant")
        # a scratch's maker holds its own lock as long as it lives; the tenant's lock may be
        # held by anything else (the restore retried, a backup) and says nothing of it
        busy = is_locked(settings, name) or bool(
            kind != "scratch" and tenant and is_locked(settings, tenant)
        )
        found.append(Orphan(name, kind, tenant, busy))
    root = settings.filestore_root
    if root.is_dir():
        for path in sorted(root.iterdir()):
            prefixes = (*SCRATCH_PREFIXES, REPLACED_PREFIX, DROPPING_PREFIX, SPARE_PREFIX)
            prefixes += (NEW_TENANT_PREFIX,)
            if path.name.startswith(prefixes) and path.name not in seen and not path.is_symlink():
                found.append(Orphan(path.name, "filestore", None, is_locked(settings, path.name)))
    return found


def put_back(settings: Settings, tenant: str, hidden: str) -> None:
    """tenant online again: the database renamed away as `hidden` and its filestore go back.

    Undoes a drop (before its last backup) and a restore swap that was cut off; in the latter
    a restored filestore already moved in goes back to the scratch named in hidden's journal.
    """
    live_fs, hidden_fs = settings.filestore(tenant), settings.filestore(hidden)
    if hidden_fs.exists():
        if live_fs.exists():
            comment = databases.comments(settings, hidden).get(hidden, "")
            scratch = journal_of(comment).get("scratch") or f"{RESTORE_PREFIX}unknown"
            filestore.rename(live_fs, settings.filestore(scratch))
        filestore.rename(hidden_fs, live_fs)
    databases.rename(settings, hidden, tenant)
    databases.clear_comment(settings, tenant)
