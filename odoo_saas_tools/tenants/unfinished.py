"""A new tenant is made under a hidden name and takes its own name only when it is finished.

Odoo serves every database its dbfilter lets through. Made under its own name, a tenant whose
maker was killed (SIGKILL, an out-of-memory kill, a lost node) stayed served half-made: a copy
of the template with the template's database.secret and admin/admin, or a claimed spare without
its files, and a retry found it "existing". So `db create` and `tenant provision` make it as
`odoo_saas_newtenant_<random>` (never served, see core.reserved) with a journal in its comment
(the tenant, the template, the spare it was claimed from), put its files straight into the
tenant's filestore, write its identity and setup in one transaction, and publish it last: the
rename to the tenant's name and the journal's removal commit together.

What a kill leaves is finished by the next create or provisioning of that name (tenants.create)
and listed by `db list`; `db sweep` moves a claimed spare's files in, never deletes them, and
keeps the rest for that retry: only it knows the admin and company to write.

A staging clone (tenants.clone) is made the same way, its files under the hidden name until it
is published: killed, it would have been served with the production's secret and without its
neutralization. What a killed clone leaves is dropped (by `db sweep` or the next clone to that
name): the source is there to be copied again.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import psycopg2
import psycopg2.extensions

from odoo_saas_tools.core.errors import ConfigError, SaasError, first_line
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.tenants import filestore
from odoo_saas_tools.tenants.hidden import NEW_TENANT_PREFIX, SPARE_PREFIX, Journal, journal
from odoo_saas_tools.tenants.names import check_name

PROVISION, CLONE = "provision", "clone"  # the journal's "odoo_saas" (create is a provision)


@dataclass(frozen=True)
class Unfinished:
    hidden: str  # the database's name until it is published
    tenant: str
    template: str  # the template it is a copy of (directly, or through the spare); a clone's SRC
    spare: str | None = None  # the spare it was claimed from, whose files it takes
    operation: str = PROVISION

    def journal(self) -> str:
        extra = {"template": self.template, **({"spare": self.spare} if self.spare else {})}
        return journal(self.operation, self.tenant, "new", **extra)


def new_name() -> str:
    return NEW_TENANT_PREFIX + secrets.token_hex(6)


def parse(name: str, comment: str) -> Unfinished | None:
    """The unfinished tenant a hidden database's journal describes (None: no such journal).

    Its names become paths that files are moved from and removed under: a journal naming a
    reserved tenant or a spare that is not one is not ours, and is not followed."""
    found = Journal.parse(comment)
    if found is None:
        return None
    tenant, template, spare = found.tenant, found.get("template"), found.get("spare")
    operation = found.operation
    if operation not in (PROVISION, CLONE) or not isinstance(template, str):
        return None
    if spare is not None and not (isinstance(spare, str) and spare.startswith(SPARE_PREFIX)):
        return None
    try:
        check_name(tenant if isinstance(tenant, str) else "")
    except ConfigError:
        return None
    return Unfinished(name, tenant, template, spare, operation)


def read(settings: Settings, hidden: str) -> Unfinished | None:
    return parse(hidden, databases.comments(settings, hidden).get(hidden, ""))


def of_tenant(
    settings: Settings, tenant: str, *, conn: psycopg2.extensions.connection | None = None
) -> Unfinished | None:
    """What a killed create, provisioning or clone to tenant left (at most one: every later
    run finishes or discards it first). conn: the caller's session to the postgres database."""
    for name, comment in databases.comments(settings, NEW_TENANT_PREFIX, conn=conn).items():
        left = parse(name, comment)
        if left is not None and left.tenant == tenant:
            return left
    return None


def bring_files(settings: Settings, left: Unfinished) -> str:
    """The claimed spare's filestore into the tenant's place, unless it is there already (the
    kill came after the move): "moved", "in place" or "none"."""
    tenant_fs = settings.filestore(left.tenant)
    if tenant_fs.exists():
        return "in place"
    if left.spare and filestore.rename(settings.filestore(left.spare), tenant_fs):
        return "moved"
    return "none"


def publish(
    settings: Settings, left: Unfinished, *, conn: psycopg2.extensions.connection | None = None
) -> None:
    """The finished tenant under its own name, without its journal, in one commit; files kept
    under the hidden name (a clone's) move in first."""
    hidden_fs = settings.filestore(left.hidden)
    if hidden_fs.exists():
        filestore.rename(hidden_fs, settings.filestore(left.tenant))
    try:
        databases.wait_until_unused(settings, left.hidden, conn=conn)  # our own setup's session
        databases.rename_with_comment(settings, left.hidden, left.tenant, None, conn=conn)
    except psycopg2.Error as exc:
        raise SaasError(
            f"renaming the new {left.hidden} to {left.tenant} failed: {first_line(exc)}"
        ) from exc


def discard(settings: Settings, left: Unfinished) -> None:
    """Drop it with its files, the claimed spare's and the tenant's filestore, unless the
    tenant exists (made meanwhile by other means: those files are its own). Never handed out,
    so nothing of anyone's is lost."""
    databases.drop(settings, left.hidden)
    filestore.remove(settings.filestore(left.hidden))
    if left.spare:
        filestore.remove(settings.filestore(left.spare))
    if not databases.exists(settings, left.tenant):
        filestore.remove(settings.filestore(left.tenant))
