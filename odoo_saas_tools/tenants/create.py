"""A ready tenant in about a second: a copy of the cached template with its own identity.

Only the first tenant of a module set, language and code version waits for Odoo to build the
template; the others are a CREATE DATABASE ... TEMPLATE, hard links and a few UPDATEs, or, when
a spare copy is ready (tenants.spares), a rename and the UPDATEs.
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg2.extensions

from odoo_saas_tools.core import passwords
from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.postgres.connection import connect
from odoo_saas_tools.tenants import filestore, identity, spares, template_cache
from odoo_saas_tools.tenants import setup as tenant_setup
from odoo_saas_tools.tenants.locks import tenant_lock
from odoo_saas_tools.tenants.names import ensure_target_free


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
) -> dict:
    """Create tenant name under its lock; SaasError(exit 3) when it exists already."""
    with tenant_lock(settings, name, operation=operation) as held:
        # the lock's session also checks the name and claims a spare: fewer connections
        ensure_target_free(settings, name, conn=held.conn)
        return create_tenant(
            settings,
            name,
            spec,
            setup,
            base_url=base_url,
            rebuild_template=rebuild_template,
            server=held.conn,
        )


def create_tenant(
    settings: Settings,
    name: str,
    spec: template_cache.Spec,
    setup: tenant_setup.Setup,
    *,
    base_url: str | None = None,
    rebuild_template: bool = False,
    server: psycopg2.extensions.connection | None = None,
) -> dict:
    """Copy the template for spec to name (or claim a spare of it) and set it up; the caller
    holds name's lock (server: its session, used for the claim). setup.admin_password None: a
    generated one, returned as admin_password.

    On any failure the new database and filestore are removed again.
    """
    started = time.monotonic()
    created = False
    fs = settings.filestore(name)
    password = setup.admin_password
    hashing = ThreadPoolExecutor(max_workers=1)
    password_hash: Future[str] | None = None
    if password is not None:
        # pbkdf2 with 600,000 rounds is the slowest step of all (~0.3 s of CPU); hashlib
        # releases the GIL, so it runs while PostgreSQL copies the template
        password_hash = hashing.submit(passwords.hash_password, password)
    try:
        claimed = None
        facts: dict | None = None
        wants_spare = settings.provision_spares and spec == spare_spec(settings)
        if wants_spare and not rebuild_template:  # a spare needs no template lock
            facts = template_cache.describe(settings, spec)
            template = template_cache.template_name(facts)
            claimed = spares.claim(settings, template, name, conn=server)
        copy_started = time.monotonic()
        if claimed is not None:
            created, built, mode, spare = True, False, claimed.filestore, claimed.spare
            if password is None and claimed.password_hash:
                password = claimed.password
                password_hash = Future()
                password_hash.set_result(claimed.password_hash)
        if password is None:
            password = tenant_setup.generate_password()
        if password_hash is None:
            password_hash = hashing.submit(passwords.hash_password, password)
        if claimed is None:
            spare = None
            # the facts of a spare's lookup (no spare left) name the template to copy as well
            with template_cache.checked_out(
                settings, spec, rebuild=rebuild_template, facts=facts
            ) as tpl:
                if rebuild_template:  # copies of the old build are not handed out either
                    spares.discard(settings, tpl.name)
                copy_started = time.monotonic()
                databases.copy_by_template(settings, tpl.name, name)
                created = True
                mode = filestore.copy_tree(settings.filestore(tpl.name), fs)
            template, built = tpl.name, tpl.built
        hashing.shutdown(wait=False)
        values = _write_identity_and_setup(settings, name, setup, password_hash.result(), base_url)
    except BaseException:
        hashing.shutdown(wait=False, cancel_futures=True)
        if created:  # name was free when we started (the caller checked, under its lock)
            databases.drop_quietly(settings, name)
            with contextlib.suppress(OSError, SaasError):
                filestore.remove(fs)
        raise
    return {
        "database": name,
        "uuid": values["database.uuid"],
        "url": base_url,
        "admin_login": setup.admin_login,
        "admin_password": password if setup.admin_password is None else None,
        "template": template,
        "template_built": built,
        "spare": spare,
        "filestore": mode,
        "modules": spec.install_list(),
        "lang": spec.lang,
        "seconds": round(time.monotonic() - started, 2),
        "copy_seconds": round(time.monotonic() - copy_started, 2),
    }


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
