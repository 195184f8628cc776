"""/v1/plans: the plans of the hoster's file (control.plans), as the CLI shows them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from odoo_saas_tools.api import auth, models
from odoo_saas_tools.api.problems import from_error
from odoo_saas_tools.control import plans
from odoo_saas_tools.control.tokens import Caller
from odoo_saas_tools.core.errors import SaasError

router = APIRouter(prefix="/v1/plans", tags=["plans"])


@router.get("", response_model=models.PlanList, summary="List plans")
def list_plans(request: Request, caller: Caller = auth.read) -> Any:
    """Every plan by name, `default` among them (ODOO_SAAS_PLANS_FILE)."""
    try:
        found = plans.available(request.app.state.settings)
    except SaasError as exc:
        raise from_error(exc) from None
    return {"items": [found[name].public() for name in sorted(found)]}
