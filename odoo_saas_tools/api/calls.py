"""A mutating call, the one way: its idempotency key, its audit row and line, its outcome.

`mutate` runs `accept` in one catalog transaction that also holds the Idempotency-Key (if any):
the first outcome of a key (an accepted job, or a 4xx problem) is stored with it and answered
again to a retry of the same request; a domain error becomes its problem (api.problems) and is
audited like a success.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg2.extensions
from fastapi import Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from odoo_saas_tools.api import problems
from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog.jobs import Job
from odoo_saas_tools.control import audit, idempotency
from odoo_saas_tools.control.tenant_view import TenantView
from odoo_saas_tools.control.tokens import Caller
from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.tenants import identity

Accept = Callable[[psycopg2.extensions.cursor], tuple[int, Any]]
HIDDEN_PARAMS = ("_instance",)


def job_out(settings: Settings, job: Job, *, password: str | None = None) -> dict[str, Any]:
    """A job as the API shows it: no secret but a password handed out this once."""
    result = dict(job.result) if job.result is not None else None
    if result is not None:
        result.pop("admin_password", None)
        if password:
            result["admin_password"] = password
    return jsonable_encoder(
        {
            "id": job.id,
            "kind": job.kind,
            "tenant": identity.tenant_label(settings, job.tenant) if job.tenant else None,
            "database": job.tenant,
            "state": job.state,
            "progress": job.progress,
            "error": job.error,
            "result": result,
            "params": {k: v for k, v in job.params.items() if k not in HIDDEN_PARAMS},
            "attempts": job.attempts,
            "created_at": job.created_at,
            "started_at": job.started_at,
            "finished_at": job.finished_at,
        }
    )


def tenant_out(view: TenantView) -> dict[str, Any]:
    return jsonable_encoder(view.as_dict())


def mutate(
    request: Request,
    caller: Caller,
    *,
    action: str,
    tenant: str | None,
    body: BaseModel | None,
    key: str | None,
    accept: Accept,
) -> Response:
    """Answer a mutating call (see the module's docstring)."""
    settings: Settings = request.app.state.settings
    path = request.url.path
    data = body.model_dump(mode="json") if body is not None else None
    digest = idempotency.request_sha256(request.method, path, data)
    replayed = False
    job_id = None
    try:
        if key is not None:
            idempotency.check_key(key)
        with store.session(settings) as cr:
            prior = idempotency.replay(cr, caller.name, key, digest) if key else None
            if prior is not None:
                status, payload, replayed = prior.status, prior.body, True
            else:
                cr.execute("SAVEPOINT accept")
                try:
                    status, payload = accept(cr)
                except SaasError as exc:
                    cr.execute("ROLLBACK TO SAVEPOINT accept")
                    problem = problems.from_error(exc)
                    status, payload = problem.status, problem.body(path)
                if key is not None and status < 500:
                    idempotency.remember(cr, caller.name, key, digest, status, payload)
                job_id = _job_of(payload)
                audit.record(
                    settings,
                    token=caller.name,
                    action=action,
                    tenant=tenant,
                    status=status,
                    result=_outcome(status, payload),
                    job=job_id,
                    cr=cr,
                )
    except SaasError as exc:  # a reused key, or the catalog away
        problem = problems.from_error(exc)
        audit.record(
            settings,
            token=caller.name,
            action=action,
            tenant=tenant,
            status=problem.status,
            result=problem.detail,
        )
        raise problem from None
    if job_id and not replayed:
        request.app.state.runner.wake()
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    if job_id:
        headers["Location"] = f"/v1/jobs/{job_id}"
    if status == 204:
        return Response(status_code=204, headers=headers)
    media = problems.MEDIA_TYPE if status >= 400 else "application/json"
    return JSONResponse(payload, status, headers=headers, media_type=media)


def _outcome(status: int, payload: Any) -> str:
    """What the audit keeps of an answer: the problem's line, or what was done."""
    if status >= 400:
        return str(payload.get("detail", "refused")) if isinstance(payload, dict) else "refused"
    return "accepted" if status == 202 else "done"


def _job_of(payload: Any) -> str | None:
    job = payload.get("job") if isinstance(payload, dict) else None
    return job.get("id") if isinstance(job, dict) else None
