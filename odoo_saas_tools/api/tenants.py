"""/v1/tenants: list, show, create, clone, back up, restore, delete, change plan, suspend, resume.

Each route validates its input (pydantic, then the domain's own checks: tenants.names, plans),
then calls one control function; long operations become jobs (202 with the job and the tenant).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from starlette.responses import JSONResponse

from odoo_saas_tools.api import auth, calls, models
from odoo_saas_tools.api.problems import ApiProblem, from_error
from odoo_saas_tools.backups import offsite
from odoo_saas_tools.backups.listing import local_rows, remote_rows
from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog import tenants as catalog_tenants
from odoo_saas_tools.control import jobs, plans, suspension, tenant_view
from odoo_saas_tools.control.errors import Exists, NotFound
from odoo_saas_tools.control.tenant_view import TenantView
from odoo_saas_tools.control.tokens import Caller
from odoo_saas_tools.core.errors import ConfigError, SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.tenants import identity
from odoo_saas_tools.tenants.setup import check_tz

router = APIRouter(prefix="/v1/tenants", tags=["tenants"])

Name = Annotated[str, Path(pattern=models.NAME, min_length=2, max_length=models.NAME_MAX)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[!-~]+$",
        max_length=255,
        description="a retry with the same key and body gets the first answer (24 h)",
    ),
]


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _checked(field: str, check: Any, *args: Any) -> Any:
    """check(*args), its ConfigError answered 422 naming field."""
    try:
        return check(*args)
    except SaasError as exc:
        raise from_error(exc, field) from None


def _view(settings: Settings, name: str) -> TenantView:
    try:
        return tenant_view.view(settings, name)
    except SaasError as exc:
        raise from_error(exc, "name") from None


def _new_view(settings: Settings, name: str, db: str, plan: str, job: str) -> TenantView:
    url = identity.default_base_url(settings, db) if settings.tenant_url_template else None
    return TenantView(name, db, "provisioning", None, plan, url=url, job=job)


def _exists(settings: Settings, db: str) -> bool:
    with store.session(settings) as cr:
        return catalog_tenants.database_exists(cr, db)


def _held(view: TenantView, state: str | None = None) -> Callable[[str], TenantView]:
    """view as a job's answer shows it: held by the job (and in state, if one is given)."""

    def held(job_id: str) -> TenantView:
        view.job = job_id
        if state is not None:
            view.state = state
        return view

    return held


def _job(
    request: Request,
    caller: Caller,
    key: str | None,
    body: models.Body | None,
    kind: str,
    params: dict[str, Any],
    view: Callable[[str], TenantView],
    *,
    new: tuple[str, str] | None = None,
    claims: list[str] | None = None,
    secrets: dict[str, str] | None = None,
) -> JSONResponse:
    """A long operation, the one way: a job of `kind` on params["database"] (and claims)
    submitted in the call's transaction, audited as `tenant.<kind>`, answered 202 with the job
    and view(its id); `new` is the (name, database) of a tenant the job makes, refused 409 when
    it exists already."""
    tenant = params["database"]
    settings = _settings(request)
    runner = request.app.state.runner

    def accept(cr: Any) -> tuple[int, Any]:
        if new is not None and catalog_tenants.database_exists(cr, new[1]):
            raise Exists(f"tenant {new[0]} already exists")
        job = jobs.submit(
            cr,
            kind=kind,
            tenant=tenant,
            params=params,
            claims=claims,
            token=caller.name,
            idempotency_key=key,
            runner=runner,
            secrets=secrets,
        )
        return 202, {"job": calls.job_out(settings, job), "tenant": calls.tenant_out(view(job.id))}

    action = f"tenant.{kind}"
    return calls.mutate(
        request, caller, action=action, tenant=tenant, body=body, key=key, accept=accept
    )


@router.get("", response_model=models.TenantPage, summary="List tenants")
def list_tenants(
    request: Request,
    caller: Caller = auth.read,
    state: Annotated[str | None, Query(pattern=r"^[a-z-]{1,40}$")] = None,
    plan: Annotated[str | None, Query(pattern=models.PLAN)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Any:
    """One page of tenants by name; `total` counts every one that matches the filters."""
    settings = _settings(request)
    try:
        views, total = tenant_view.search(
            settings, state=state, plan=plan, limit=limit, offset=offset
        )
    except SaasError as exc:
        raise from_error(exc) from None
    following = offset + len(views)
    return {
        "items": [calls.tenant_out(v) for v in views],
        "total": total,
        "limit": limit,
        "offset": offset,
        "next_offset": following if following < total else None,
    }


@router.get("/{name}", response_model=models.TenantOut, summary="Show a tenant")
def show_tenant(request: Request, name: Name, caller: Caller = auth.read) -> Any:
    return calls.tenant_out(_view(_settings(request), name))


@router.post(
    "",
    status_code=202,
    response_model=models.Accepted,
    summary="Create a tenant (job)",
)
def create_tenant(
    request: Request,
    body: models.TenantCreate,
    idempotency_key: IdempotencyKey = None,
    caller: Caller = auth.write,
) -> JSONResponse:
    """As `odoo-saas tenant provision` (a spare when they are kept and the module set is the
    default one). Without admin_password, a generated one is in the job's result, once."""
    settings = _settings(request)
    db = _checked("name", tenant_view.database, settings, body.name)
    plan = _checked("plan", plans.get, settings, body.plan)
    if body.tz:
        _checked("tz", check_tz, body.tz)
    params = body.model_dump(mode="json", exclude={"admin_password"})
    params.update(database=db, plan=plan.name, password_given=body.admin_password is not None)
    return _job(
        request,
        caller,
        idempotency_key,
        body,
        "create",
        params,
        lambda job: _new_view(settings, body.name, db, plan.name, job),
        new=(body.name, db),
        secrets={"admin_password": body.admin_password} if body.admin_password else None,
    )


@router.post(
    "/{name}/clone", status_code=202, response_model=models.Accepted, summary="Clone (job)"
)
def clone_tenant(
    request: Request,
    name: Name,
    body: models.CloneRequest,
    idempotency_key: IdempotencyKey = None,
    caller: Caller = auth.write,
) -> JSONResponse:
    """As `odoo-saas db clone`: a copy under `target`, neutralized unless asked otherwise."""
    settings = _settings(request)
    source = _view(settings, name)
    target = _checked("target", tenant_view.database, settings, body.target)
    if source.db_state is None:
        raise ApiProblem(409, f"tenant {name} has no database to copy (state {source.state})")
    params = {
        "database": source.database,
        "source": source.database,
        "target": target,
        "neutralize": body.neutralize,
    }
    return _job(
        request,
        caller,
        idempotency_key,
        body,
        "clone",
        params,
        lambda job: _new_view(settings, body.target, target, source.plan, job),
        new=(body.target, target),
        claims=[target],
    )


@router.get("/{name}/backups", response_model=models.BackupList, summary="List backups")
def list_backups(
    request: Request,
    name: Name,
    caller: Caller = auth.read,
    remote: Annotated[bool, Query(description="also the off-site copies or snapshots")] = False,
) -> Any:
    """Backups here (the tenant's folder; the last backups of a drop or a replacing restore),
    and with remote=true those off-site: each with the `id` a restore takes."""
    settings = _settings(request)
    db = _checked("name", tenant_view.database, settings, name)
    try:
        items = _backups(settings, db, remote=remote)
    except SaasError as exc:
        raise from_error(exc, "remote" if remote else None) from None
    if not items and not _exists(settings, db):
        raise ApiProblem(404, f"tenant {name} does not exist and has no backups")
    return {"items": items}


def _backups(settings: Settings, db: str, *, remote: bool) -> list[dict[str, Any]]:
    items = [
        {
            "id": f"{row['where']}:{row['file'].rsplit('/', 1)[-1]}",
            "where": row["where"],
            "taken_at": row["taken_at"],
            "format": row["format"],
            "size_bytes": row["size_bytes"],
            "verified": row["sha256"] is not None,
            "file": row["file"],
        }
        for row in local_rows(settings, [db], last_backups=True)
    ]
    if remote:
        for row in remote_rows(settings, [db]):
            items.append(
                {
                    "id": row["url"],
                    "where": row["where"],
                    "taken_at": row["taken_at"],
                    "format": None,
                    "size_bytes": row["size_bytes"],
                    "verified": True,  # uploads are read back; snapshots are restic's own
                }
            )
    return items


def _restore_source(settings: Settings, db: str, backup: str) -> str:
    """The restore source `backup` names, if it is one of db's own; ConfigError otherwise."""
    owner = offsite.tenant_of(settings, backup)
    if owner is not None:  # an off-site source: only the tenant's own
        if owner != db:
            raise ConfigError(f"{backup!r} is not an off-site backup of {db}")
        return backup
    for item in _backups(settings, db, remote=False):
        if item["id"] == backup:
            return item["file"]
    raise ConfigError(f"{backup!r} is not a backup of {db} (see GET /v1/tenants/{{name}}/backups)")


@router.post(
    "/{name}/backups", status_code=202, response_model=models.Accepted, summary="Back up (job)"
)
def back_up_tenant(
    request: Request,
    name: Name,
    body: models.BackupRequest | None = None,
    idempotency_key: IdempotencyKey = None,
    caller: Caller = auth.write,
) -> JSONResponse:
    """As `odoo-saas db backup NAME`: a verified file in the tenant's folder of BACKUP_DIR."""
    settings = _settings(request)
    body = body or models.BackupRequest()
    view = _view(settings, name)
    if view.db_state is None:
        raise ApiProblem(409, f"tenant {name} has no database to back up (state {view.state})")
    params = {"database": view.database, "format": body.format}
    return _job(request, caller, idempotency_key, body, "backup", params, _held(view))


@router.post(
    "/{name}/restore", status_code=202, response_model=models.Accepted, summary="Restore (job)"
)
def restore_tenant(
    request: Request,
    name: Name,
    body: models.RestoreRequest,
    idempotency_key: IdempotencyKey = None,
    caller: Caller = auth.admin,
) -> JSONResponse:
    """As `odoo-saas db restore NAME SOURCE --force`: the backup is loaded beside the tenant,
    which is replaced only once the load succeeded, after a last backup of it."""
    settings = _settings(request)
    db = _checked("name", tenant_view.database, settings, name)
    try:
        source = _restore_source(settings, db, body.backup)
    except SaasError as exc:
        if not _exists(settings, db):
            raise ApiProblem(404, f"tenant {name} does not exist and has no such backup") from None
        raise from_error(exc, "backup") from None
    try:
        view = tenant_view.view(settings, name)
    except NotFound:
        view = _new_view(settings, name, db, plans.DEFAULT, "")
    params = {"database": db, "backup": body.backup, "source": source}
    return _job(request, caller, idempotency_key, body, "restore", params, _held(view))


@router.delete("/{name}", status_code=202, response_model=models.Accepted, summary="Delete (job)")
def delete_tenant(
    request: Request,
    name: Name,
    idempotency_key: IdempotencyKey = None,
    caller: Caller = auth.admin,
) -> JSONResponse:
    """As `odoo-saas db drop NAME`: a last backup in BACKUP_DIR/dropped first."""
    settings = _settings(request)
    view = _view(settings, name)
    params = {"database": view.database}
    return _job(request, caller, idempotency_key, None, "delete", params, _held(view, "deleting"))


def _sync(
    request: Request,
    caller: Caller,
    key: str | None,
    body: models.SuspendRequest | models.ResumeRequest,
    name: str,
    change: Callable[[Settings, str, str], Any],
) -> JSONResponse:
    """A change made at once (no job), audited as `tenant.<change's name>`: the tenant as it is
    afterwards."""
    settings = _settings(request)
    db = _checked("name", tenant_view.database, settings, name)

    def accept(cr: Any) -> tuple[int, Any]:
        change(settings, db, body.reason)
        return 200, calls.tenant_out(tenant_view.view(settings, name))

    action = f"tenant.{change.__name__}"
    return calls.mutate(
        request, caller, action=action, tenant=db, body=body, key=key, accept=accept
    )


@router.patch(
    "/{name}", status_code=202, response_model=models.Accepted, summary="Change the plan (job)"
)
def patch_tenant(
    request: Request,
    name: Name,
    body: models.TenantPatch,
    idempotency_key: IdempotencyKey = None,
    caller: Caller = auth.write,
) -> JSONResponse:
    """As `odoo-saas tenant plan NAME PLAN`: the plan's modules the tenant lacks are installed
    first (with Odoo: minutes, so a job), then its plan, limits and trial change together."""
    settings = _settings(request)
    _checked("plan", plans.get, settings, body.plan)
    view = _view(settings, name)
    if view.db_state is None:
        raise ApiProblem(409, f"tenant {name} has no database (state {view.state})")
    params = {"database": view.database, "plan": body.plan}
    return _job(request, caller, idempotency_key, body, "plan", params, _held(view))


@router.post("/{name}/suspend", response_model=models.TenantOut, summary="Suspend")
def suspend_tenant(
    request: Request,
    name: Name,
    body: models.SuspendRequest,
    idempotency_key: IdempotencyKey = None,
    caller: Caller = auth.write,
) -> JSONResponse:
    """Its users get the suspended page; data, backups untouched (the Odoo side: see
    docs/api.md)."""
    return _sync(request, caller, idempotency_key, body, name, suspension.suspend)


@router.post("/{name}/resume", response_model=models.TenantOut, summary="Resume")
def resume_tenant(
    request: Request,
    name: Name,
    body: models.ResumeRequest | None = None,
    idempotency_key: IdempotencyKey = None,
    caller: Caller = auth.write,
) -> JSONResponse:
    body = body or models.ResumeRequest()
    return _sync(request, caller, idempotency_key, body, name, suspension.resume)
