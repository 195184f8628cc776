#!/bin/sh
set -eu
exec odoo-saas backup run "$@"
