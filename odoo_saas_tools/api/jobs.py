"""/v1/jobs: what became of an operation the API accepted."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from odoo_saas_tools.api import auth, calls, models
from odoo_saas_tools.api.problems import from_error
from odoo_saas_tools.control import jobs, tenant_view
from odoo_saas_tools.control.tokens import Caller
from odoo_saas_tools.core.errors import SaasError

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=models.JobOut, summary="Show a job")
def show_job(request: Request, job_id: uuid.UUID, caller: Caller = auth.read) -> Any:
    """A create's generated admin password is in `result.admin_password` once, for the token
    that asked for the tenant: the first time it reads the finished job."""
    settings = request.app.state.settings
    try:
        job = jobs.get(settings, str(job_id))
        password = None
        if job.state == "succeeded" and job.token == caller.name and job.kind == "create":
            password = jobs.take_password(settings, job.id)
    except SaasError as exc:
        raise from_error(exc) from None
    return calls.job_out(settings, job, password=password)


@router.get("", response_model=models.JobPage, summary="List jobs")
def list_jobs(
    request: Request,
    caller: Caller = auth.read,
    tenant: Annotated[
        str | None, Query(pattern=models.NAME, min_length=2, max_length=models.NAME_MAX)
    ] = None,
    state: models.JobState | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Any:
    """Newest first; `tenant` is the API's tenant name."""
    settings = request.app.state.settings
    try:
        db = tenant_view.database(settings, tenant) if tenant is not None else None
        found = jobs.search(settings, tenant=db, state=state, limit=limit + 1, offset=offset)
    except SaasError as exc:
        raise from_error(exc, "tenant") from None
    more = len(found) > limit
    return {
        "items": [calls.job_out(settings, j) for j in found[:limit]],
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if more else None,
    }
