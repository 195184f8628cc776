"""Runtime and tenant operations for a multi-tenant Odoo 19.0 image."""

__version__ = "0.1.0"
