#!/bin/sh
set -eu
exec odoo-saas health "$@"
