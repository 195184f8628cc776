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
        """
        -- custom domains (domains/): a domain serves its tenant once verified_at is set
        CREATE TABLE domain (
            domain text PRIMARY KEY CHECK (
                domain = lower(domain) AND domain !~ '\\.$' AND length(domain) <= 253
            ),
            tenant text NOT NULL,
            token text NOT NULL,
            verified_at timestamptz,
            is_primary boolean NOT NULL DEFAULT false,
            created_at timestamptz NOT NULL DEFAULT now(),
            CHECK (NOT is_primary OR verified_at IS NOT NULL)
        );
        CREATE INDEX domain_tenant ON domain (tenant);
        CREATE UNIQUE INDEX domain_one_primary ON domain (tenant) WHERE is_primary;
        CREATE VIEW odoo_domain AS
            SELECT domain, tenant FROM domain WHERE verified_at IS NOT NULL;
        GRANT SELECT ON odoo_domain TO {odoo};
        """,
    ),
    (
        3,
        # plans (mirrored from ODOO_SAAS_PLANS_FILE: the limits Odoo and the exporter need),
        # what the lifecycle loop has already acted on, and the events outbox (issue 28)
        """
        CREATE TABLE plan (
            name text PRIMARY KEY,
            max_users int CHECK (max_users > 0),
            max_storage_mb bigint CHECK (max_storage_mb > 0),
            declared boolean NOT NULL DEFAULT true,
            synced_at timestamptz NOT NULL DEFAULT now()
        );
        ALTER TABLE tenant
            ADD COLUMN trial_ended_at timestamptz,
            ADD COLUMN storage_exceeded_at timestamptz;
        CREATE TABLE event (
            id uuid PRIMARY KEY,
            type text NOT NULL,
            tenant text,
            payload jsonb NOT NULL DEFAULT '{}',
            created_at timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        CREATE INDEX event_created_at ON event (created_at);
        -- a tenant without a row is active on the plan `default`
        CREATE OR REPLACE VIEW odoo_tenant AS
            SELECT t.name, t.state, t.state_reason, p.max_users, p.max_storage_mb
              FROM tenant t LEFT JOIN plan p ON p.name = t.plan;
        """,
    ),
    (
        4,
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
    (
        5,
        # webhooks (issue 28): the subscriptions, and one delivery per (subscription, event)
        # for the subscriptions that existed when the event was made, made once by the
        # delivery loop (event.fanned_out; the events before this migration had none). Nothing
        # here is granted to Odoo's role: a subscriber's secret is the management role's only.
        """
        CREATE TABLE webhook (
            id uuid PRIMARY KEY,
            url text NOT NULL,
            events text[] NOT NULL CHECK (cardinality(events) > 0),
            secret text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE delivery (
            id uuid PRIMARY KEY,
            webhook uuid NOT NULL REFERENCES webhook (id) ON DELETE CASCADE,
            event uuid NOT NULL REFERENCES event (id) ON DELETE CASCADE,
            attempts int NOT NULL DEFAULT 0,
            state text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'delivered', 'failed')),
            next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            last_status int,
            last_error text,
            delivered_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            UNIQUE (webhook, event)
        );
        CREATE INDEX delivery_due ON delivery (next_attempt_at) WHERE state = 'pending';
        CREATE INDEX delivery_webhook ON delivery (webhook, created_at DESC);
        ALTER TABLE event ADD COLUMN fanned_out boolean NOT NULL DEFAULT true;
        ALTER TABLE event ALTER COLUMN fanned_out SET DEFAULT false;
        CREATE INDEX event_not_fanned_out ON event (created_at) WHERE NOT fanned_out;
        """,
    ),
    (
        6,
        # each tenant's size, sampled once a day by the lifecycle loop (issue 30: the console's
        # chart), kept 400 days. Nothing here is granted to Odoo's role.
        """
        CREATE TABLE tenant_size (
            tenant text NOT NULL,
            day date NOT NULL,
            db_bytes bigint NOT NULL CHECK (db_bytes >= 0),
            filestore_bytes bigint NOT NULL CHECK (filestore_bytes >= 0),
            PRIMARY KEY (tenant, day)
        );
        CREATE INDEX tenant_size_day ON tenant_size (day);
        """,
    ),
    (
        7,
        # the last scheduled backup's success and failure times the lifecycle loop has told
        # about (backup.succeeded / backup.failed for `backup run`, whose process holds no
        # catalog role). Nothing here is granted to Odoo's role.
        """
        CREATE TABLE backup_seen (
            tenant text PRIMARY KEY,
            last_success double precision,
            last_failure double precision
        );
        """,
    ),
]
