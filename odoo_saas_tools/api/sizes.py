"""/v1/tenants/{name}/sizes: a tenant's database and filestore size, one figure a day (the
lifecycle loop samples them into the catalog; the console draws them)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from odoo_saas_tools.api import auth, models
from odoo_saas_tools.api.problems import ApiProblem
from odoo_saas_tools.api.tenants import Name, _checked
from odoo_saas_tools.catalog import sizes as catalog_sizes
from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog import tenants as catalog_tenants
from odoo_saas_tools.control import lifecycle, tenant_view
from odoo_saas_tools.control.tokens import Caller

router = APIRouter(prefix="/v1/tenants", tags=["tenants"])


@router.get("/{name}/sizes", response_model=models.SizeList, summary="Size history")
def size_history(
    request: Request,
    name: Name,
    caller: Caller = auth.read,
    days: Annotated[int, Query(ge=1, le=lifecycle.KEEP_DAYS)] = 30,
) -> Any:
    """The last `days` days (today, UTC, included), oldest first; a day the loop did not run
    has no item."""
    settings = request.app.state.settings
    db = _checked("name", tenant_view.database, settings, name)
    since = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=days - 1)
    with store.session(settings) as cr:
        if not catalog_tenants.database_exists(cr, db):
            raise ApiProblem(404, f"tenant {name} does not exist")
        found = catalog_sizes.history(cr, db, since)
    return {
        "items": [
            {"day": s.day, "db_bytes": s.db_bytes, "filestore_bytes": s.filestore_bytes}
            for s in found
        ]
    }
