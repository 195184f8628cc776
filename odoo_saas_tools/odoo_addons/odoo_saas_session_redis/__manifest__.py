{  # noqa: B018 - an Odoo manifest is a bare dict literal
    "name": "Redis HTTP sessions (odoo-saas)",
    "summary": "Keep Odoo 19 HTTP sessions in Redis so several Odoo replicas share logins",
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
