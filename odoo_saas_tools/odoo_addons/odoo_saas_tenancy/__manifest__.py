{  # noqa: B018 - an Odoo manifest is a bare dict literal
    "name": "Tenant roles and database list (odoo-saas)",
    "summary": "Serve each tenant database as its own PostgreSQL role; list the tenants "
    "odoo-saas manages",
    "version": "19.0.1.0.0",
    "category": "Hidden/Tools",
    "author": "odoo-saas",
    "license": "LGPL-3",
    "depends": ["base"],
    "data": [],
    "installable": True,
    "auto_install": False,
    "post_load": "post_load",
}
