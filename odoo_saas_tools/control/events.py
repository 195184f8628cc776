"""Events: what the control plane tells a hoster's systems, written to the catalog's outbox in
the transaction of the change (a webhook delivery loop sends them, at least once).

An event names its tenant by the database (the catalog's key for it); its payload carries the
tenant's short name (`name`, without TENANT_DB_PREFIX) and what changed.
"""

from __future__ import annotations

import psycopg2.extensions

from odoo_saas_tools.catalog import events

TENANT_SUSPENDED = "tenant.suspended"
TENANT_RESUMED = "tenant.resumed"
TENANT_PLAN_CHANGED = "tenant.plan_changed"
QUOTA_EXCEEDED = "quota.exceeded"
TRIAL_ENDED = "trial.ended"
# the ends of the API's jobs (control.operations.events_of)
TENANT_CREATED = "tenant.created"
TENANT_DELETED = "tenant.deleted"
BACKUP_SUCCEEDED = "backup.succeeded"
BACKUP_FAILED = "backup.failed"
JOB_FAILED = "job.failed"
# every type issue 28 names
TYPES = frozenset(
    {
        TENANT_CREATED,
        TENANT_DELETED,
        TENANT_SUSPENDED,
        TENANT_RESUMED,
        TENANT_PLAN_CHANGED,
        BACKUP_SUCCEEDED,
        BACKUP_FAILED,
        QUOTA_EXCEEDED,
        TRIAL_ENDED,
        JOB_FAILED,
    }
)


def emit(cr: psycopg2.extensions.cursor, type: str, tenant: str | None, payload: dict) -> str:
    """Record an event in the caller's transaction (the change it tells about); its id."""
    if type not in TYPES:
        raise ValueError(f"unknown event type {type!r}")  # a programming error, not input
    return events.insert(cr, type, tenant, payload)
