"""GET /v1/tenants/{name}/sizes: the daily figures the lifecycle loop keeps, the last `days`
days, oldest first."""

from __future__ import annotations

import datetime as dt
import uuid

from odoo_saas_tools.catalog import sizes as catalog_sizes
from odoo_saas_tools.catalog import store
from tests.api.conftest import api_db


def test_the_last_days_oldest_first(api, tokens, api_settings, fake_tenant):
    name = fake_tenant()
    db = api_db(api_settings, name)
    today = dt.datetime.now(dt.timezone.utc).date()
    days_ago = [0, 1, 2, 29, 30, 45]
    with store.session(api_settings) as cr:
        catalog_sizes.put(
            cr,
            [catalog_sizes.Size(db, today - dt.timedelta(days=n), 1000 + n, n) for n in days_ago],
        )
    answer = api.call("GET", f"/v1/tenants/{name}/sizes?days=30", token=tokens["read"])
    assert answer.status == 200, answer
    assert answer.body["items"] == [
        {
            "day": (today - dt.timedelta(days=n)).isoformat(),
            "db_bytes": 1000 + n,
            "filestore_bytes": n,
        }
        for n in (29, 2, 1, 0)
    ]
    default = api.call("GET", f"/v1/tenants/{name}/sizes", token=tokens["read"])
    assert default.body == answer.body  # 30 days unless asked
    longer = api.call("GET", f"/v1/tenants/{name}/sizes?days=400", token=tokens["read"])
    assert [i["db_bytes"] for i in longer.body["items"]] == [1045, 1030, 1029, 1002, 1001, 1000]


def test_bad_days_unknown_tenants_and_missing_tokens_are_refused(api, tokens, fake_tenant):
    name = fake_tenant()
    for days in ("0", "401", "x"):
        answer = api.call("GET", f"/v1/tenants/{name}/sizes?days={days}", token=tokens["read"])
        assert answer.status == 422 and answer.body["detail"].startswith("days:"), answer
    fresh = api.call("GET", f"/v1/tenants/{name}/sizes", token=tokens["read"])
    assert fresh.status == 200 and fresh.body == {"items": []}  # not sampled yet
    ghost = api.call("GET", f"/v1/tenants/g{uuid.uuid4().hex[:8]}/sizes", token=tokens["read"])
    assert ghost.status == 404 and "does not exist" in ghost.body["detail"]
    assert api.call("GET", f"/v1/tenants/{name}/sizes").status == 401
