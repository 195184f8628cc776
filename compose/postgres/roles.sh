#!/bin/sh
# The two PostgreSQL roles odoo-saas needs (docs/security.md), made by a superuser; idempotent.
#   odoo_saas: the management role (CREATEDB CREATEROLE): owns the tenants, creates their roles.
#   odoo:      Odoo's own role: owns nothing, creates nothing.
# The postgres image runs it once, on an empty data directory (/docker-entrypoint-initdb.d).
# A stack made before this (where `odoo` was the superuser) runs it once by hand, then starts
# again (the `manage` service's pre-flight moves the tenants over and says what it changed):
#   docker compose -f compose/multi-tenant.yml exec db sh /docker-entrypoint-initdb.d/10-odoo-saas-roles.sh odoo
# Passwords come from the secret files, never from the command line.
set -eu
superuser=${1:-${POSTGRES_USER:-postgres}}
secrets=${2:-/run/secrets}
run() {
    psql -v ON_ERROR_STOP=1 -X -q -U "$1" -d postgres \
        -v manager_pw="$(cat "$secrets/saas_db_password")" \
        -v odoo_pw="$(cat "$secrets/db_password")" \
        -v postgres_pw="$(cat "$secrets/postgres_password")"
}
run "$superuser" <<'SQL'
SELECT format('CREATE ROLE postgres LOGIN SUPERUSER PASSWORD %L', :'postgres_pw')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'postgres') \gexec
SELECT format('CREATE ROLE odoo_saas LOGIN CREATEDB CREATEROLE PASSWORD %L', :'manager_pw')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'odoo_saas') \gexec
SELECT format('CREATE ROLE odoo LOGIN PASSWORD %L', :'odoo_pw')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'odoo') \gexec
ALTER ROLE odoo_saas LOGIN CREATEDB CREATEROLE;
SQL
# Odoo's role loses every power (as another superuser: `odoo` may be the one running this);
# the management role may take over its databases (pre-flight's migration).
run postgres <<'SQL'
ALTER ROLE odoo NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
GRANT odoo TO odoo_saas;
SQL
echo "odoo-saas roles: odoo_saas (management) and odoo (Odoo's, no powers) are ready"
