"""`odoo-saas db create NAME`: a ready Odoo database (base installed, log-in works) in ~1 s.

The database is a copy of a cached template (built by Odoo once per module set, language and
code version: the first create takes as long as `odoo db init`, the next ones ~1 s), then gets
its own identity (uuid, secret), its filestore (hard links to the template's) and an admin
password: a generated one shown once, or the one in --admin-password-file. It takes its name
last, when all of this is written: one killed half-way is never served, and running the same
command again finishes it.

Exit codes: 0 created, 1 failed (nothing left behind), 2 bad name/option, 3 NAME exists,
4 NAME busy.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.tenants import identity, template_cache
from odoo_saas_tools.tenants import setup as tenant_setup
from odoo_saas_tools.tenants.create import create, spec_for
from odoo_saas_tools.tenants.names import check_name


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "create",
        "create a ready Odoo database from the template cache",
        __doc__,
        func=run,
    )
    p.add_argument("name", metavar="NAME", help="database name")
    add_create_options(p)


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


def spec_from_args(args: argparse.Namespace) -> template_cache.Spec:
    return spec_for(args.modules, args.lang, args.demo)


def admin_password(args: argparse.Namespace) -> str | None:
    """The password in --admin-password-file, or None: a generated one."""
    if args.admin_password_file:
        return tenant_setup.read_password_file(args.admin_password_file)
    return None


def print_result(result: dict, as_json: bool) -> None:
    """The admin password is printed only when generated, and only here (shown once)."""
    if as_json:
        print_json(result)
        return
    how = "built a new template" if result["template_built"] else "from the template cache"
    if result.get("spare"):
        how = "a spare copy of the template"
    if result.get("finished_unfinished"):
        how = "finishing what a killed run had left"
    print(f"created {result['database']} in {result['seconds']:.1f} s ({how})")
    if result.get("url"):
        print(f"url:            {result['url']}")
    print(f"admin login:    {result['admin_login']}")
    if result.get("admin_password"):
        print(f"admin password: {result['admin_password']}  (shown once: store it now)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    name = check_name(args.name, settings)
    setup = tenant_setup.Setup(
        admin_login=args.admin_login, admin_password=admin_password(args), lang=args.lang
    )
    result = create(
        settings,
        name,
        spec_from_args(args),
        setup,
        base_url=identity.default_base_url(settings, name)
        if settings.tenant_url_template
        else None,
        rebuild_template=args.rebuild_template,
    )
    print_result(result, args.json)
    return 0
