"""`odoo-saas db create NAME`: a ready Odoo database (base installed, log-in works) in ~1 s.

The database is a copy of a cached template (built by Odoo once per module set, language and
code version: the first create takes as long as `odoo db init`, the next ones ~1 s), then gets
its own identity (uuid, secret), its filestore (hard links to the template's) and an admin
password: a generated one shown once, or the one in --admin-password-file.

Exit codes: 0 created, 1 failed (nothing left behind), 2 bad name/option, 3 NAME exists,
4 NAME busy.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

from odoo_saas_tools.core.errors import EXIT_UNCHANGED, SaasError
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.tenants import filestore, identity, template_cache
from odoo_saas_tools.tenants import setup as tenant_setup
from odoo_saas_tools.tenants.names import check_name, tenant_lock


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "create",
        help="create a ready Odoo database from the template cache",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", metavar="NAME", help="database name")
    add_create_options(p)
    p.set_defaults(func=run)


def add_create_options(p: argparse.ArgumentParser) -> None:
    """Options shared with `tenant provision`."""
    p.add_argument(
        "--modules",
        default="",
        help="comma-separated modules to install besides base (and PROVISION_MODULES for "
        "provisioning)",
    )
    p.add_argument("--lang", default="en_US", help="language loaded and given to the admin")
    p.add_argument("--demo", action="store_true", help="load demo data")
    p.add_argument("--admin-login", default="admin", help="admin user's login (default admin)")
    p.add_argument(
        "--admin-password-file",
        type=Path,
        metavar="FILE",
        help="read the admin password from FILE instead of generating one",
    )
    p.add_argument(
        "--rebuild-template",
        action="store_true",
        help="rebuild the cached template first (e.g. after changing a module without a "
        "version bump)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def spec_from_args(
    args: argparse.Namespace, extra_modules: tuple[str, ...] = ()
) -> template_cache.Spec:
    modules = {m.strip() for m in args.modules.split(",") if m.strip()} | set(extra_modules)
    return template_cache.Spec(
        modules=tuple(sorted(modules | {"base"})), lang=args.lang, demo=args.demo
    )


def create_tenant(
    settings: Settings,
    name: str,
    spec: template_cache.Spec,
    setup: tenant_setup.Setup,
    *,
    base_url: str | None = None,
    rebuild_template: bool = False,
) -> dict:
    """Copy the template for spec to name and set it up; the caller holds name's lock.

    On any failure the new database and filestore are removed again.
    """
    started = time.monotonic()
    created_db = created_fs = False
    fs = settings.filestore(name)
    try:
        with template_cache.checked_out(settings, spec, rebuild=rebuild_template) as tpl:
            copy_started = time.monotonic()
            databases.copy_by_template(settings, tpl.name, name)
            created_db = True
            mode = filestore.copy_tree(settings.filestore(tpl.name), fs)
            created_fs = mode != "none"
        values = identity.renew(settings, name, base_url=base_url)
        tenant_setup.apply(settings, name, setup)
    except BaseException:
        if created_db:
            databases.drop_quietly(settings, name)
        if created_fs:
            with contextlib.suppress(OSError):
                filestore.remove(fs)
        raise
    return {
        "database": name,
        "uuid": values["database.uuid"],
        "url": base_url,
        "admin_login": setup.admin_login,
        "template": tpl.name,
        "template_built": tpl.built,
        "filestore": mode,
        "modules": spec.install_list(),
        "lang": spec.lang,
        "seconds": round(time.monotonic() - started, 2),
        "copy_seconds": round(time.monotonic() - copy_started, 2),
    }


def admin_password(args: argparse.Namespace) -> tuple[str, bool]:
    """(password, generated?)"""
    if args.admin_password_file:
        return tenant_setup.read_password_file(args.admin_password_file), False
    return tenant_setup.generate_password(), True


def print_result(result: dict, password: str, generated: bool, as_json: bool) -> None:
    """The admin password is printed only when generated, and only here (shown once)."""
    if as_json:
        print_json({**result, "admin_password": password if generated else None})
        return
    how = "built a new template" if result["template_built"] else "from the template cache"
    print(f"created {result['database']} in {result['seconds']:.1f} s ({how})")
    if result.get("url"):
        print(f"url:            {result['url']}")
    print(f"admin login:    {result['admin_login']}")
    if generated:
        print(f"admin password: {password}  (shown once: store it now)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    name = check_name(args.name, settings)
    spec = spec_from_args(args)
    password, generated = admin_password(args)
    setup = tenant_setup.Setup(
        admin_login=args.admin_login, admin_password=password, lang=args.lang
    )
    with tenant_lock(settings, name, operation="create"):
        if databases.exists(settings, name):
            raise SaasError(f"{name} already exists: nothing changed", EXIT_UNCHANGED)
        if settings.filestore(name).exists():
            raise SaasError(
                f"a filestore for {name} exists without its database ({settings.filestore(name)})"
                ": remove or restore it first"
            )
        result = create_tenant(
            settings,
            name,
            spec,
            setup,
            base_url=identity.default_base_url(settings, name)
            if settings.tenant_url_template
            else None,
            rebuild_template=args.rebuild_template,
        )
    print_result(result, password, generated, args.json)
    return 0
