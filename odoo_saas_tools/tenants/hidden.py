"""odoo-saas's hidden databases, in one place: their names, what their comments say, whose they
are, and whether someone still works on them.

Everything odoo-saas keeps for itself on a shared server is named `odoo_saas_*`
(core.reserved): Odoo never serves it (the rendered dbfilter, the tenancy addon's list) and no
tenant command takes such a name. The kinds, by prefix:

- `restore_`: a backup being loaded; `verify_`: `backup verify --restore-test`'s load;
- `replaced_`: a tenant a forced restore swapped out, until the new one is in place;
- `dropping_`: a tenant being dropped, after its last backup;
- `newspare_` / `spare_`: a spare tenant being made / ready to be claimed (tenants.spares);
- `newtenant_`: a new tenant or a staging clone until it is finished (tenants.unfinished);
- `tpl_`: the template cache (tenants.template_cache); `upd_` / `failed_`: the auto-update's
  snapshot of a tenant and the copy an update broke (preflight.autoupdate);
- the catalog (catalog/), odoo-saas's own database.

What a database is for and whose it is lives in its comment (readable without connecting to
it), in one of three JSON shapes, each read and written only here: the operation `Journal`
(restore, verify, drop, provision, clone: which tenant, what the database is to it), the
auto-update's `Snapshot` (of which tenant) and the template cache's `TemplateMeta`. A comment
anyone could have changed is read defensively: a shape that is not exactly ours is absent.
`db list` shows what is left of killed operations, `db sweep` (tenants.sweep) puts it right.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg2.extensions

from odoo_saas_tools.core.reserved import RESERVED_PREFIX
from odoo_saas_tools.core.settings import CATALOG_DATABASE, Settings
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
TEMPLATE_PREFIX = RESERVED_PREFIX + "tpl_"  # the template cache
SNAPSHOT_PREFIX = RESERVED_PREFIX + "upd_"  # a tenant's state before an auto-update
FAILED_UPDATE_PREFIX = RESERVED_PREFIX + "failed_"  # what an update broke, until dropped
CATALOG = CATALOG_DATABASE  # odoo-saas's own database
SCRATCH_PREFIXES = (RESTORE_PREFIX, VERIFY_PREFIX, NEW_SPARE_PREFIX)


def _loads(comment: str) -> dict[str, Any]:
    try:
        data = json.loads(comment) if comment else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class Journal:
    """What a hidden database is to the operation that made it, so that a later sweep knows
    whose it is and what to do when that operation was killed (SIGKILL, a restart)."""

    operation: str  # restore | verify | drop | provision | clone
    tenant: str  # "" for a verification
    role: str  # scratch | replaced | dropping | new
    extra: Mapping[str, str] = field(default_factory=dict)  # scratch, template, spare

    def comment(self) -> str:
        return json.dumps(
            {"odoo_saas": self.operation, "tenant": self.tenant, "role": self.role, **self.extra}
        )

    def get(self, key: str) -> str | None:
        return self.extra.get(key)

    @classmethod
    def parse(cls, comment: str) -> Journal | None:
        """The journal in comment; None when there is none or it is not exactly of our shape
        (strings only: its names become paths and tenants' locks)."""
        data = _loads(comment)
        if not all(isinstance(v, str) for v in data.values()):
            return None
        operation, tenant, role = (
            data.pop("odoo_saas", None),
            data.pop("tenant", ""),
            data.pop("role", ""),
        )
        if not operation:
            return None
        return cls(operation, tenant, role, data)


def journal(operation: str, tenant: str, role: str, **extra: str) -> str:
    """The comment a hidden database carries (Journal.comment)."""
    return Journal(operation, tenant, role, extra).comment()


def read_journal(settings: Settings, name: str) -> Journal | None:
    return Journal.parse(databases.comments(settings, name).get(name, ""))


@dataclass(frozen=True)
class Snapshot:
    """The auto-update's copy of a tenant, taken before its modules are upgraded."""

    of: str  # the tenant

    def comment(self) -> str:
        return json.dumps({"snapshot_of": self.of})

    @classmethod
    def parse(cls, comment: str) -> Snapshot | None:
        tenant = _loads(comment).get("snapshot_of")
        return cls(tenant) if isinstance(tenant, str) and tenant else None


def snapshots(settings: Settings) -> dict[str, Snapshot]:
    """{snapshot database: what it is a snapshot of} (unreadable comments left out)."""
    out = {}
    for name, comment in databases.comments(settings, SNAPSHOT_PREFIX).items():
        snap = Snapshot.parse(comment)
        if snap is not None:
            out[name] = snap
    return out


@dataclass
class TemplateMeta:
    """A cached template's facts (the cache key's: Odoo version, modules, their sources' hash,
    language, demo) and its life (created, last used, build time, whether it has files)."""

    data: dict[str, Any]

    def comment(self) -> str:
        return json.dumps(self.data, sort_keys=True)

    @classmethod
    def parse(cls, comment: str) -> TemplateMeta:
        return cls(_loads(comment))


def template_metas(settings: Settings) -> dict[str, TemplateMeta]:
    return {
        name: TemplateMeta.parse(comment)
        for name, comment in databases.comments(settings, TEMPLATE_PREFIX).items()
    }


@dataclass
class Orphan:
    name: str
    kind: str  # scratch | replaced | dropping | provisioning | cloning | filestore | role | partial
    tenant: str | None
    busy: bool  # its operation is still running (locks held): not an orphan yet
    action: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def find(settings: Settings, *, conn: psycopg2.extensions.connection | None = None) -> list[Orphan]:
    """Hidden databases and filestores left by restores and verifications (the databases read
    on conn, a connection to any database of the server, if given)."""
    found: list[Orphan] = []
    seen: set[str] = set()
    for name, comment in databases.comments(settings, RESERVED_PREFIX, conn=conn).items():
        journal = Journal.parse(comment) or Journal("", "", "")
        if name.startswith(SCRATCH_PREFIXES):
            kind = "scratch"
        elif name.startswith(REPLACED_PREFIX):
            kind = "replaced"
        elif name.startswith(DROPPING_PREFIX):
            kind = "dropping"
        elif name.startswith(NEW_TENANT_PREFIX):
            # without its journal: killed right after CREATE DATABASE, nothing claimed yet
            kind = {"provision": "provisioning", "clone": "cloning"}.get(
                journal.operation, "scratch"
            )
            # a claimed spare's files, until they are moved to the tenant: not a stray
            seen.add(journal.get("spare") or "")
        elif name.startswith(SPARE_PREFIX):
            seen.add(name)  # ready for a signup: not an orphan
            continue
        else:
            continue  # the template cache, update snapshots: their own owners look after them
        seen.add(name)
        tenant = journal.tenant or None
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
            found = read_journal(settings, hidden)
            scratch = (found and found.get("scratch")) or f"{RESTORE_PREFIX}unknown"
            filestore.rename(live_fs, settings.filestore(scratch))
        filestore.rename(hidden_fs, live_fs)
    databases.rename(settings, hidden, tenant)
    databases.clear_comment(settings, tenant)
