"""The audit trail: one row and one JSON line per call, in the caller's transaction when it
gives one (rolled back with it), else in one of its own."""

from __future__ import annotations

import json
import uuid

import pytest

from odoo_saas_tools.catalog import audit as catalog_audit
from odoo_saas_tools.catalog import store
from odoo_saas_tools.control import audit
from odoo_saas_tools.core.settings import Settings


def rows(settings: Settings, tenant: str) -> list[catalog_audit.Entry]:
    with store.session(settings) as cr:
        return catalog_audit.recent(cr, tenant=tenant)


def test_a_row_in_its_own_transaction_and_a_line(
    csettings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(audit._lines, "handlers", [])  # its handler writes to this test's stderr
    tenant = f"audited_{uuid.uuid4().hex[:8]}"
    audit.record(
        csettings, token="t1", action="tenant.backup", tenant=tenant, status=202, result="accepted"
    )
    [entry] = rows(csettings, tenant)
    assert (entry.token, entry.action, entry.status, entry.result) == (
        "t1", "tenant.backup", 202, "accepted"
    )  # fmt: skip
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["audit"] == "tenant.backup" and line["tenant"] == tenant and line["at"]


def test_in_the_callers_transaction_it_goes_with_it(csettings: Settings):
    kept, undone = (f"audited_{uuid.uuid4().hex[:8]}" for _ in range(2))
    with store.session(csettings) as cr:
        audit.record(
            csettings, token="t", action="tenant.plan", tenant=kept, status=202, result="x", cr=cr
        )
        assert [e.tenant for e in catalog_audit.recent(cr, tenant=kept)] == [kept]  # same tx
    assert len(rows(csettings, kept)) == 1
    with pytest.raises(RuntimeError), store.session(csettings) as cr:
        audit.record(
            csettings, token="t", action="tenant.plan", tenant=undone, status=202, result="x", cr=cr
        )
        raise RuntimeError("the call failed after auditing")
    assert rows(csettings, undone) == []
