"""/v1/tenants/{name}/domains: a tenant's custom domains, through the very functions the
`odoo-saas domain add|verify|list|remove|primary` commands call (domains.manage).

A bad domain (an IP, a wildcard, the pool's own, over 253 characters, a bad label, another
tenant's) is 422, as the CLI's exit 2; a domain the tenant never added is 404; a verify whose
DNS proof is missing, or a primary not verified yet, is 409 (the detail says what DNS holds);
DNS itself not answering is 503.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from odoo_saas_tools.api import auth, calls, models
from odoo_saas_tools.api.problems import ApiProblem, from_error
from odoo_saas_tools.api.tenants import IdempotencyKey, Name, _checked, _exists
from odoo_saas_tools.control import tenant_view
from odoo_saas_tools.control.tokens import Caller
from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.domains import manage
from odoo_saas_tools.domains.names import normalize
from odoo_saas_tools.tenants import identity

router = APIRouter(prefix="/v1/tenants/{name}/domains", tags=["domains"])

DomainName = Annotated[str, Path(pattern=r"^[^\x00-\x1f\x7f/]+$", min_length=1, max_length=1024)]


def _tenant(request: Request, name: str) -> tuple[Settings, str]:
    """The settings and name's database: 422 for a bad name, 404 when there is none."""
    settings: Settings = request.app.state.settings
    db = _checked("name", tenant_view.database, settings, name)
    if not _exists(settings, db):
        raise ApiProblem(404, f"tenant {name} does not exist")
    return settings, db


def _out(settings: Settings, claim: manage.Claim) -> dict[str, Any]:
    """A claim as the API shows it: its tenant by the API's name."""
    return {**claim.as_dict(), "tenant": identity.tenant_label(settings, claim.row.tenant)}


def _change(
    request: Request,
    caller: Caller,
    key: str | None,
    name: str,
    change: Callable[[Settings, str, str], manage.Claim],
    domain: str,
    status: int = 200,
) -> Response:
    """One manage function on domain through calls.mutate (audited as `domain.<its name>`,
    idempotent): its claim, or nothing (204)."""
    settings, db = _tenant(request, name)

    def accept(cr: Any) -> tuple[int, Any]:
        claim = change(settings, db, domain)
        return status, None if status == 204 else _out(settings, claim)

    action = f"domain.{change.__name__}"
    return calls.mutate(
        request, caller, action=action, tenant=db, body=None, key=key, accept=accept
    )


@router.get("", response_model=models.DomainList, summary="List a tenant's domains")
def list_domains(request: Request, name: Name, caller: Caller = auth.read) -> Any:
    """As `odoo-saas domain list TENANT`: verified or not, each with the record that proves it."""
    settings, db = _tenant(request, name)
    try:
        claims = manage.listing(settings, db)
    except SaasError as exc:
        raise from_error(exc) from None
    return {"items": [_out(settings, claim) for claim in claims]}


@router.post(
    "",
    status_code=201,
    response_model=models.DomainOut,
    responses={200: {"model": models.DomainOut, "description": "the tenant's already: the same"}},
    summary="Add a domain",
)
def add_domain(
    request: Request,
    name: Name,
    body: models.DomainAdd,
    idempotency_key: IdempotencyKey = None,
    caller: Caller = auth.write,
) -> Response:
    """As `odoo-saas domain add TENANT DOMAIN`: claimed (it serves nothing yet), with the DNS
    record `verify` looks for."""
    settings, db = _tenant(request, name)
    _checked("domain", normalize, body.domain, settings)

    def accept(cr: Any) -> tuple[int, Any]:
        claim = manage.add(settings, db, body.domain)
        return (201 if claim.created else 200), _out(settings, claim)

    return calls.mutate(
        request,
        caller,
        action="domain.add",
        tenant=db,
        body=body,
        key=idempotency_key,
        accept=accept,
    )


@router.post("/{domain}/verify", response_model=models.DomainOut, summary="Verify a domain")
def verify_domain(
    request: Request,
    name: Name,
    domain: DomainName,
    idempotency_key: IdempotencyKey = None,
    caller: Caller = auth.write,
) -> Response:
    """As `odoo-saas domain verify`: DNS is asked now; once proven the domain serves the tenant
    (409 with what DNS holds while it does not)."""
    return _change(request, caller, idempotency_key, name, manage.verify, domain)


@router.post("/{domain}/primary", response_model=models.DomainOut, summary="Make it the URL")
def make_primary(
    request: Request,
    name: Name,
    domain: DomainName,
    idempotency_key: IdempotencyKey = None,
    caller: Caller = auth.write,
) -> Response:
    """As `odoo-saas domain primary`: the tenant's web.base.url becomes https://DOMAIN."""
    return _change(request, caller, idempotency_key, name, manage.primary, domain)


@router.delete("/{domain}", status_code=204, summary="Remove a domain")
def remove_domain(
    request: Request,
    name: Name,
    domain: DomainName,
    idempotency_key: IdempotencyKey = None,
    caller: Caller = auth.write,
) -> Response:
    """As `odoo-saas domain remove`: it stops serving the tenant within a second; a primary
    domain gives the tenant's URL back to the pool's."""
    return _change(request, caller, idempotency_key, name, manage.remove, domain, 204)
