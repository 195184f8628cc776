"""The name prefix of everything odoo-saas keeps for itself on a shared server: template,
scratch, spare and replaced databases, load roles, their filestores. Tenant commands refuse it,
listings skip it, and the rendered dbfilter keeps Odoo from serving it."""

RESERVED_PREFIX = "odoo_saas_"
