"""The `job` table: what the control API was asked to do, and how far it got.

Plain reads and writes on the caller's cursor (control.jobs decides when). A queued or running
job holds each tenant it touches in `job_claim`, so two operations on one tenant cannot be
accepted together: the second insert finds the claim taken (Claimed) in the same transaction.
"""

from __future__ import annotations

import functools
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg2.extensions
from psycopg2.extras import Json

from odoo_saas_tools.catalog.events import _json_value

ACTIVE = ("queued", "running")
# a result may hold times (a plan change's trial end): ISO 8601, as in events
_dumps = functools.partial(json.dumps, default=_json_value)
STATES = ("queued", "running", "succeeded", "failed")
_COLUMNS = (
    "id::text, kind, tenant, state, params, result, error, progress, token, idempotency_key, "
    "attempts, created_at, started_at, finished_at"
)


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    tenant: str | None
    state: str
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    progress: str
    token: str | None
    idempotency_key: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class Claimed(Exception):
    """A tenant is held by another queued or running job (its id)."""

    def __init__(self, tenant: str, job: str) -> None:
        super().__init__(f"{tenant} is held by job {job}")
        self.tenant = tenant
        self.job = job


def _row(row: tuple) -> Job:
    return Job(*row)


def insert(
    cr: psycopg2.extensions.cursor,
    *,
    kind: str,
    tenant: str | None,
    params: dict[str, Any],
    claims: list[str],
    token: str | None = None,
    idempotency_key: str | None = None,
) -> Job:
    """A new queued job holding claims; Claimed (nothing inserted) when one is taken."""
    job_id = str(uuid.uuid4())
    cr.execute(
        f"INSERT INTO job (id, kind, tenant, params, token, idempotency_key) "
        f"VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
        (job_id, kind, tenant, Json(params), token, idempotency_key),
    )
    job = _row(cr.fetchone())
    for name in sorted(set(claims)):
        # a concurrent claim of the same tenant waits for the other transaction, then yields
        cr.execute(
            "INSERT INTO job_claim (tenant, job) VALUES (%s, %s) ON CONFLICT DO NOTHING "
            "RETURNING job",
            (name, job_id),
        )
        if cr.fetchone() is None:
            cr.execute("SELECT job::text FROM job_claim WHERE tenant = %s", (name,))
            holder = cr.fetchone()
            cr.execute("DELETE FROM job WHERE id = %s", (job_id,))
            raise Claimed(name, holder[0] if holder else "unknown")
    return job


def get(cr: psycopg2.extensions.cursor, job_id: str) -> Job | None:
    cr.execute(f"SELECT {_COLUMNS} FROM job WHERE id = %s", (job_id,))
    row = cr.fetchone()
    return _row(row) if row else None


def holder(cr: psycopg2.extensions.cursor, tenant: str) -> Job | None:
    """The queued or running job holding tenant, if any."""
    cr.execute(
        f"SELECT {_COLUMNS} FROM job WHERE id = (SELECT job FROM job_claim WHERE tenant = %s)",
        (tenant,),
    )
    row = cr.fetchone()
    return _row(row) if row else None


def holders(cr: psycopg2.extensions.cursor) -> dict[str, Job]:
    """Every claimed tenant and the job holding it."""
    cr.execute(
        f"SELECT c.tenant, {', '.join('j.' + c.strip() for c in _COLUMNS.split(','))} "
        "FROM job_claim c JOIN job j ON j.id = c.job"
    )
    return {row[0]: _row(row[1:]) for row in cr.fetchall()}


def search(
    cr: psycopg2.extensions.cursor,
    *,
    tenant: str | None = None,
    state: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Job]:
    """Newest first."""
    where, args = [], []
    if tenant is not None:
        where.append("tenant = %s")
        args.append(tenant)
    if state is not None:
        where.append("state = %s")
        args.append(state)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    cr.execute(
        f"SELECT {_COLUMNS} FROM job {clause} ORDER BY created_at DESC, id LIMIT %s OFFSET %s",
        (*args, limit, offset),
    )
    return [_row(r) for r in cr.fetchall()]


def next_queued(cr: psycopg2.extensions.cursor, instance: str) -> Job | None:
    """The oldest queued job instance may run (any job without `_instance` in its params, and
    its own), row-locked for this transaction; others' locked rows skipped (several API
    processes share the queue)."""
    cr.execute(
        f"SELECT {_COLUMNS} FROM job WHERE state = 'queued' "
        "AND coalesce(params ->> '_instance', %s) = %s ORDER BY created_at "
        "LIMIT 1 FOR UPDATE SKIP LOCKED",
        (instance, instance),
    )
    row = cr.fetchone()
    return _row(row) if row else None


def queued_with_instance(cr: psycopg2.extensions.cursor) -> list[Job]:
    """Queued jobs only one process may run (it holds their secrets)."""
    cr.execute(
        f"SELECT {_COLUMNS} FROM job WHERE state = 'queued' AND params ? '_instance' "
        "ORDER BY created_at"
    )
    return [_row(r) for r in cr.fetchall()]


def running(cr: psycopg2.extensions.cursor) -> list[Job]:
    cr.execute(f"SELECT {_COLUMNS} FROM job WHERE state = 'running' ORDER BY created_at")
    return [_row(r) for r in cr.fetchall()]


def mark_running(cr: psycopg2.extensions.cursor, job_id: str) -> None:
    cr.execute(
        "UPDATE job SET state = 'running', started_at = now(), attempts = attempts + 1, "
        "progress = 'started' WHERE id = %s",
        (job_id,),
    )


def requeue(cr: psycopg2.extensions.cursor, job_id: str, progress: str) -> None:
    cr.execute(
        "UPDATE job SET state = 'queued', progress = %s WHERE id = %s AND state = 'running'",
        (progress, job_id),
    )


def set_progress(cr: psycopg2.extensions.cursor, job_id: str, progress: str) -> None:
    cr.execute("UPDATE job SET progress = %s WHERE id = %s", (progress, job_id))


def finish(
    cr: psycopg2.extensions.cursor,
    job_id: str,
    *,
    state: str,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """The job's end, and its claims given up, in the caller's transaction."""
    assert state in ("succeeded", "failed")
    cr.execute(
        "UPDATE job SET state = %s, result = %s, error = %s, finished_at = now(), "
        "progress = %s WHERE id = %s",
        (state, Json(result, dumps=_dumps) if result is not None else None, error, state, job_id),
    )
    cr.execute("DELETE FROM job_claim WHERE job = %s", (job_id,))


def take_secret(cr: psycopg2.extensions.cursor, job_id: str, key: str) -> str | None:
    """A secret of the job's result (a generated password), removed as it is read: shown once."""
    cr.execute("SELECT result ->> %s FROM job WHERE id = %s FOR UPDATE", (key, job_id))
    row = cr.fetchone()
    if row is None or row[0] is None:
        return None
    cr.execute("UPDATE job SET result = result - %s WHERE id = %s", (key, job_id))
    return row[0]
