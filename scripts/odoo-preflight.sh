#!/bin/sh
# Pre-start checks on demand: odoo-preflight.sh [--fix] [--json] (see --help).
set -eu
exec odoo-saas preflight "$@"
