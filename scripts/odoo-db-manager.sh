#!/bin/sh
# Tenant databases: create, backup, restore, clone, drop, list, rename (see `odoo-saas db --help`).
set -eu
exec odoo-saas db "$@"
