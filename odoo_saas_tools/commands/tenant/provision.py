"""`odoo-saas tenant provision NAME`: a new customer's database, ready to log in, in seconds.

Creates ${TENANT_DB_PREFIX}NAME (prefix default `odoo_`) as a copy of a cached template with
base plus --modules (or PROVISION_MODULES) installed, then sets the admin login and password
(generated and shown once, or read from --admin-password-file), the company's name and
country (with its currency), the admin's language and time zone, and web.base.url from
TENANT_URL_TEMPLATE. Nothing of this starts Odoo: only the first tenant of a module set waits
for the template to be built.

--plan PLAN (ODOO_SAAS_PLANS_FILE; default `default`) adds the plan's modules, gives its language
and country unless --lang/--country are given, records the plan (its user limit applies from
the first request) and the trial's end.

Running it again for an existing tenant changes nothing and exits 3. The tenant takes its name
last, when everything is written: a provisioning killed half-way is never served, and running
it again (same arguments) finishes it and exits 0.
Exit codes: 0 provisioned, 1 failed (nothing left behind), 2 bad name/option, 3 exists, 4 busy.
"""

from __future__ import annotations

import argparse
import sys

from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.commands.db.create import add_create_options, admin_password, print_result
from odoo_saas_tools.control import plans
from odoo_saas_tools.core.errors import EXIT_UNCHANGED, SaasError
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.tenants import setup as tenant_setup
from odoo_saas_tools.tenants.provision import tenant_database


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "provision",
        "create a tenant database with admin, company and locale set",
        __doc__,
    )
    p.add_argument("name", metavar="NAME", help="tenant name (the database gets the prefix)")
    add_create_options(p)
    p.add_argument("--admin-email", help="admin's e-mail (default: the login if it is one)")
    p.add_argument("--company-name", help="name of the main company")
    p.add_argument("--country", help="ISO country code of the company, e.g. BE (sets currency)")
    p.add_argument("--tz", help="admin's time zone, e.g. Europe/Brussels")
    p.add_argument("--plan", help="plan of ODOO_SAAS_PLANS_FILE (default: default)")
    # the plan's language unless --lang names one (then en_US)
    p.set_defaults(func=run, lang=None)


def run(args: argparse.Namespace, settings: Settings) -> int:
    setup = tenant_setup.Setup(
        admin_login=args.admin_login,
        admin_password=admin_password(args),
        admin_email=args.admin_email,
        company_name=args.company_name,
        lang=args.lang,
        country=args.country,
        tz=args.tz,
    )
    result = plans.provision(
        settings,
        tenant_database(settings, args.name),
        setup,
        plan=args.plan,
        modules=tuple(args.modules.split(",")),
        demo=args.demo,
        rebuild_template=args.rebuild_template,
    )
    if not result["created"]:
        if args.json:
            print_json(result)
        sys.stdout.flush()
        raise SaasError(
            f"tenant {result['database']} already exists: nothing changed", EXIT_UNCHANGED
        )
    print_result(result, args.json)
    return 0
