"""A ready tenant in about a second: a copy of the cached template with its own identity.

Only the first tenant of a module set, language and code version waits for Odoo to build the
template; the others are a CREATE DATABASE ... TEMPLATE, hard links and a few UPDATEs, or, when
a spare copy is ready (tenants.spares), a rename and the UPDATEs. Either is made under a hidden
name and renamed to its own last (tenants.unfinished): Odoo never serves it half-made.
"""

from __future__ import annotations

import contextlib
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import psycopg2
import psycopg2.extensions

from odoo_saas_tools.catalog import plans as catalog_plans
from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog import tenants as catalog_tenants
from odoo_saas_tools.core import passwords
from odoo_saas_tools.core.errors import SaasError, first_line
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import copies, databases
from odoo_saas_tools.postgres.connection import connect
from odoo_saas_tools.tenants import filestore, identity, spares, template_cache, unfinished
from odoo_saas_tools.tenants import setup as tenant_setup
from odoo_saas_tools.tenants.locks import tenant_locks
from odoo_saas_tools.tenants.names import ensure_target_free

log = logging.getLogger(__name__)


def spec_for(modules: str | tuple[str, ...], lang: str, demo: bool) -> template_cache.Spec:
    """The template a tenant is copied from: base plus the modules, in one language."""
    wanted = modules.split(",") if isinstance(modules, str) else list(modules)
    names = {m.strip() for m in wanted if m.strip()}
    return template_cache.Spec(modules=tuple(sorted(names | {"base"})), lang=lang, demo=demo)


def spare_spec(settings: Settings) -> template_cache.Spec:
    """The one module set spares are kept of (tenants.spares): base, PROVISION_MODULES, en_US."""
    return spec_for(settings.provision_modules, "en_US", False)


def create(
    settings: Settings,
    name: str,
    spec: template_cache.Spec,
    setup: tenant_setup.Setup,
    *,
    base_url: str | None = None,
    rebuild_template: bool = False,
    operation: str = "create",
    entry: catalog_tenants.NewTenant | None = None,
) -> dict:
    """Create tenant name under its lock; SaasError(exit 3) when it exists already.

    A create or provisioning of name that was killed half-way (tenants.unfinished) is finished
    when it is a copy of the template spec names now, else made anew. entry: its row in the
    catalog (plan, trial), by default the plan `default`; written before it is published.
    """
    entry = entry or catalog_tenants.NewTenant()
    hidden = unfinished.new_name()
    with tenant_locks(settings, name, hidden, operation=operation) as held:
        # the locks' session also checks the name and claims a spare: fewer connections
        session = held.session
        left = unfinished.of_tenant(settings, name, conn=session)
        if left is not None and not databases.exists(settings, name, conn=session):
            if _resumable(settings, left, spec, rebuild_template):
                log.info("%s: finishing what a killed %s left as %s", name, operation, left.hidden)
                return create_tenant(
                    settings,
                    name,
                    spec,
                    setup,
                    left=left,
                    base_url=base_url,
                    server=session,
                    entry=entry,
                )
            log.info("%s: discarding %s, left unfinished by a killed run", name, left.hidden)
            unfinished.discard(settings, left)
        ensure_target_free(settings, name, conn=session)
        return create_tenant(
            settings,
            name,
            spec,
            setup,
            hidden=hidden,
            base_url=base_url,
            rebuild_template=rebuild_template,
            server=session,
            entry=entry,
        )


def _resumable(
    settings: Settings, left: unfinished.Unfinished, spec: template_cache.Spec, rebuild: bool
) -> bool:
    """Whether left can be finished as spec's tenant: a copy of the very template spec names now
    (same modules, code and language). A copy killed before its files were in place is made
    anew instead: as quick, and its template's files may be gone."""
    if rebuild or left.operation != unfinished.PROVISION:
        return False
    if left.spare is None and not settings.filestore(left.tenant).exists():
        return False
    return left.template == template_cache.template_name(template_cache.describe(settings, spec))


@dataclass
class _Made:
    """What one create_tenant run has made or taken so far: its cleanup discards `made`."""

    made: unfinished.Unfinished | None
    template: str = ""
    built: bool = False  # the template was built by this run
    spare: str | None = None
    filestore: str = "none"
    claimed: spares.Claimed | None = None
    facts: dict | None = None  # the template's, when a spare was looked for
    copy_started: float = 0.0


def create_tenant(
    settings: Settings,
    name: str,
    spec: template_cache.Spec,
    setup: tenant_setup.Setup,
    *,
    hidden: str | None = None,
    left: unfinished.Unfinished | None = None,
    base_url: str | None = None,
    rebuild_template: bool = False,
    server: psycopg2.extensions.connection | None = None,
    entry: catalog_tenants.NewTenant | None = None,
) -> dict:
    """Copy the template for spec (or claim a spare of it) as hidden, or finish left (what a
    killed run left), and set it up; the caller holds name's and hidden's locks (server: their
    session, used for the claim and the publication) and has checked that name is free.
    setup.admin_password None: a generated one, returned as admin_password.

    The tenant takes its name only once everything is written (tenants.unfinished), its
    catalog row (entry: plan and trial; a row a former tenant of that name left is replaced)
    included: on any failure the hidden database and the files it took are removed again.
    """
    started = time.monotonic()
    hidden = hidden or unfinished.new_name()
    got = _Made(left)
    password = setup.admin_password
    # beside the copy: the password's hash and the catalog row (a connection's authentication
    # is most of a spare's signup)
    hashing = ThreadPoolExecutor(max_workers=2)
    registering = hashing.submit(_register, settings, name, entry or catalog_tenants.NewTenant())
    password_hash: Future[str] | None = None
    if password is not None:
        # pbkdf2 with 600,000 rounds is the slowest step of all (~0.3 s of CPU); hashlib
        # releases the GIL, so it runs while PostgreSQL copies the template
        password_hash = hashing.submit(passwords.hash_password, password)
    try:
        _finish_or_claim(settings, name, spec, got, hidden, password, rebuild_template, server)
        got.copy_started = time.monotonic()
        password, password_hash = _password(hashing, got.claimed, password, password_hash)
        if got.made is None:
            _copy_template(settings, name, spec, got, hidden, rebuild_template, server)
        assert got.made is not None
        hashing.shutdown(wait=False)
        values = _write_identity_and_setup(
            settings, got.made.hidden, setup, password_hash.result(), base_url
        )
        registering.result()
        unfinished.publish(settings, got.made, conn=server)
    except BaseException:
        hashing.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(OSError, SaasError):
            # what this run made or took over, or a claim stopped before it returned
            made = got.made or unfinished.read(settings, hidden)
            if made is not None:
                unfinished.discard(settings, made)
        raise
    return {
        "database": name,
        "uuid": values["database.uuid"],
        "url": base_url,
        "admin_login": setup.admin_login,
        "admin_password": password if setup.admin_password is None else None,
        "template": got.template,
        "template_built": got.built,
        "spare": got.spare,
        "filestore": got.filestore,
        "finished_unfinished": left is not None,
        "modules": spec.install_list(),
        "lang": spec.lang,
        "seconds": round(time.monotonic() - started, 2),
        "copy_seconds": round(time.monotonic() - got.copy_started, 2),
    }


def _finish_or_claim(
    settings: Settings,
    name: str,
    spec: template_cache.Spec,
    got: _Made,
    hidden: str,
    password: str | None,
    rebuild_template: bool,
    server: psycopg2.extensions.connection | None,
) -> None:
    """What a killed run left (got.made) brought back, or a spare of spec claimed as hidden
    when spares are kept of it; got.made stays None when neither (the template is copied)."""
    if got.made is not None:
        got.template, got.spare = got.made.template, got.made.spare
        got.filestore = unfinished.bring_files(settings, got.made)
        if got.spare and password is None:
            secret = spares.take_secret(settings, got.spare)
            got.claimed = spares.Claimed(got.spare, got.made, got.filestore, *secret)
    elif settings.provision_spares and spec == spare_spec(settings) and not rebuild_template:
        # a spare needs no template lock
        got.facts = template_cache.describe(settings, spec)
        got.template = template_cache.template_name(got.facts)
        got.claimed = spares.claim(settings, got.template, name, hidden=hidden, conn=server)
        if got.claimed is not None:
            got.made, got.filestore = got.claimed.made, got.claimed.filestore
            got.spare = got.claimed.spare


def _password(
    hashing: ThreadPoolExecutor,
    claimed: spares.Claimed | None,
    password: str | None,
    password_hash: Future[str] | None,
) -> tuple[str, Future[str]]:
    """The admin password and its hash: the one given (already hashing), else the one hashed
    in the claimed spare, else a new one (its hash started now)."""
    if claimed is not None and password is None and claimed.password_hash:
        password = claimed.password
        password_hash = Future()
        password_hash.set_result(claimed.password_hash)
    if password is None:
        password = tenant_setup.generate_password()
    if password_hash is None:
        password_hash = hashing.submit(passwords.hash_password, password)
    return password, password_hash


def _copy_template(
    settings: Settings,
    name: str,
    spec: template_cache.Spec,
    got: _Made,
    hidden: str,
    rebuild_template: bool,
    server: psycopg2.extensions.connection | None,
) -> None:
    """The template of spec (built first if needed) copied as hidden, journaled, with its
    files; got is filled in as each step is done (the caller's cleanup needs got.made)."""
    got.spare = None
    # the facts of a spare's lookup (no spare left) name the template to copy as well
    with template_cache.checked_out(
        settings, spec, rebuild=rebuild_template, facts=got.facts
    ) as tpl:
        if rebuild_template:  # copies of the old build are not handed out either
            spares.discard(settings, tpl.name)
        got.copy_started = time.monotonic()
        copies.copy_by_template(settings, tpl.name, hidden)
        got.made = unfinished.Unfinished(hidden, name, tpl.name)
        databases.set_comment(settings, hidden, got.made.journal(), conn=server)
        got.filestore = filestore.copy_tree(settings.filestore(tpl.name), settings.filestore(name))
    got.template, got.built = tpl.name, tpl.built


def _register(settings: Settings, name: str, entry: catalog_tenants.NewTenant) -> None:
    """name's catalog row, before Odoo may serve it: its plan's user limit applies from its
    first request, and a suspension of a former tenant of that name does not."""
    try:
        with store.session(settings) as cr:
            if entry.limits is not None:
                catalog_plans.ensure(cr, entry.limits)
            catalog_tenants.put_new(cr, name, entry.plan, entry.trial_ends_at)
            store.bump(cr)
    except psycopg2.Error as exc:
        raise SaasError(f"recording {name} in the catalog failed: {first_line(exc)}") from exc


def _write_identity_and_setup(
    settings: Settings,
    name: str,
    setup: tenant_setup.Setup,
    password_hash: str,
    base_url: str | None,
) -> dict[str, str]:
    """The new tenant's own uuid and secret, then its admin and company: one transaction."""
    with connect(settings, name, autocommit=False) as conn:
        with conn.cursor() as cr:
            values = identity.write(cr, base_url=base_url)
            tenant_setup.write(cr, setup, password_hash)
        conn.commit()
    return values
