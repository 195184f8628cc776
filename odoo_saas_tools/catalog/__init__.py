"""odoo-saas's own database (the catalog): what PostgreSQL's catalogs do not know about tenants
(plan, suspension, custom domains), and the control plane's state (jobs, API tokens, audit,
webhooks)."""
