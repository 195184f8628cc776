"""/v1/me and /v1/tokens: who is calling, and the API's tokens (listed, revoked; made by the
CLI only, so a token's secret is never in an HTTP answer)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.encoders import jsonable_encoder
from starlette.responses import JSONResponse

from odoo_saas_tools.api import auth, calls, models
from odoo_saas_tools.api.problems import from_error
from odoo_saas_tools.api.tenants import IdempotencyKey
from odoo_saas_tools.catalog.tokens import Token
from odoo_saas_tools.control import tokens
from odoo_saas_tools.control.errors import NotFound
from odoo_saas_tools.control.tokens import Caller
from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.observability.metrics.backups import schedule_period_seconds

router = APIRouter(tags=["tokens"])
TokenName = Annotated[str, Path(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")]


def _out(token: Token) -> dict[str, Any]:
    return jsonable_encoder(
        {
            "name": token.name,
            "scope": token.scope,
            "created_at": token.created_at,
            "expires_at": token.expires_at,
            "revoked_at": token.revoked_at,
            "last_used_at": token.last_used_at,
        }
    )


@router.get("/v1/me", response_model=models.MeOut, summary="Who is calling")
def me(request: Request, caller: Caller = auth.read) -> Any:
    """The caller's name and scope (the console shows only what the scope allows), and the
    backup schedule's period (how old a tenant's last backup may be)."""
    settings = request.app.state.settings
    return {
        "name": caller.name,
        "scope": caller.scope,
        "backup_period_seconds": schedule_period_seconds(settings),
    }


@router.get("/v1/tokens", response_model=models.TokenList, summary="List tokens")
def list_tokens(request: Request, caller: Caller = auth.admin) -> Any:
    """Names, scopes and dates, never a token (`odoo-saas api token list`)."""
    try:
        found = tokens.list_tokens(request.app.state.settings)
    except SaasError as exc:
        raise from_error(exc) from None
    return {"items": [_out(t) for t in found]}


@router.post("/v1/tokens/{name}/revoke", response_model=models.TokenOut, summary="Revoke a token")
def revoke_token(
    request: Request,
    name: TokenName,
    idempotency_key: IdempotencyKey = None,
    caller: Caller = auth.admin,
) -> JSONResponse:
    """It stops working at once (`odoo-saas api token revoke`); 404 for no such live token."""
    settings = request.app.state.settings

    def accept(cr: Any) -> tuple[int, Any]:
        tokens.revoke(settings, name)
        for token in tokens.list_tokens(settings):
            if token.name == name:
                return 200, _out(token)
        raise NotFound(f"no token named {name}")

    return calls.mutate(
        request,
        caller,
        action="token.revoke",
        tenant=None,
        body=None,
        key=idempotency_key,
        accept=accept,
    )
