#!/bin/sh
# Provision a tenant: odoo-provision-tenant.sh NAME [--modules ...] (see --help).
set -eu
exec odoo-saas tenant provision "$@"
