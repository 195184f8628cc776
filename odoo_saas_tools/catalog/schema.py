"""The catalog's tables, as numbered migrations applied once each, in order.

A migration is appended, never edited once released: a pool's catalog is at the version of the
last one it ran (`schema_version`). Odoo's own role reads only what the `odoo_*` views show it
(the tenancy addon's routing: suspension, plans' user limits, domains); every table belongs to
the management role.
"""

from __future__ import annotations

# (version, SQL). {odoo} is Odoo's role, quoted by the caller.
MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE tenant (
            name text PRIMARY KEY,
            plan text NOT NULL DEFAULT 'default',
            state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'suspended')),
            state_reason text NOT NULL DEFAULT '',
            state_changed_at timestamptz,
            trial_ends_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE change_counter (id int PRIMARY KEY CHECK (id = 1), version bigint NOT NULL);
        INSERT INTO change_counter VALUES (1, 0);
        -- what Odoo's processes may read: nothing but the routing of requests and crons
        CREATE VIEW odoo_tenant AS SELECT name, state, state_reason FROM tenant;
        CREATE VIEW odoo_version AS SELECT version FROM change_counter;
        GRANT USAGE ON SCHEMA public TO {odoo};
        GRANT SELECT ON odoo_tenant, odoo_version TO {odoo};
        """,
    ),
    (
        2,
        # the control API (issue 28): jobs, the tenants each active job holds, API tokens,
        # the audit trail and idempotency keys. Nothing here is granted to Odoo's role.
        """
        CREATE TABLE job (
            id uuid PRIMARY KEY,
            kind text NOT NULL,
            tenant text,
            state text NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
            params jsonb NOT NULL DEFAULT '{}',
            result jsonb,
            error text,
            progress text NOT NULL DEFAULT '',
            token text,
            idempotency_key text,
            attempts int NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now(),
            started_at timestamptz,
            finished_at timestamptz
        );
        CREATE INDEX job_tenant ON job (tenant, created_at DESC);
        CREATE INDEX job_active ON job (created_at) WHERE state IN ('queued', 'running');
        -- one operation per tenant: a queued or running job holds each tenant it touches
        CREATE TABLE job_claim (
            tenant text PRIMARY KEY,
            job uuid NOT NULL REFERENCES job (id) ON DELETE CASCADE
        );
        CREATE TABLE api_token (
            name text PRIMARY KEY,
            lookup text NOT NULL UNIQUE,
            secret_sha256 bytea NOT NULL,
            scope text NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz,
            revoked_at timestamptz,
            last_used_at timestamptz
        );
        CREATE TABLE audit (
            id bigserial PRIMARY KEY,
            at timestamptz NOT NULL DEFAULT now(),
            token text,
            action text NOT NULL,
            tenant text,
            status int NOT NULL,
            result text NOT NULL,
            job uuid
        );
        CREATE INDEX audit_at ON audit (at);
        CREATE TABLE idempotency (
            token text NOT NULL,
            key text NOT NULL,
            request_sha256 text NOT NULL,
            status int NOT NULL,
            body jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (token, key)
        );
        """,
    ),
]
