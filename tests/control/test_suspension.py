"""Suspension through the CLI (no Odoo): the catalog's state, the counter Odoo polls and the
event change in one transaction; `db list` shows it; the tenant's data is untouched; bad input
is one line. What Odoo does with it is tests/tenants/test_odoo_suspension.py."""

from __future__ import annotations

import json

import psycopg2
import pytest

from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog import tenants as catalog_tenants
from odoo_saas_tools.control import events, suspension
from odoo_saas_tools.control.errors import NotFound
from odoo_saas_tools.tenants import listing
from odoo_saas_tools.tenants.drop import drop
from odoo_saas_tools.tenants.rename import rename
from tests.control.conftest import counter, events_of, row
from tests.support.cli import run_cli


def test_suspend_and_resume_change_state_counter_and_events_together(cenv, csettings, tenant):
    name = tenant("s")
    files = sorted(p.name for p in csettings.filestore(name).rglob("*") if p.is_file())
    before = counter(csettings)
    done = run_cli(cenv, "tenant", "suspend", name, "--reason", "unpaid invoice 7", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "tenant": name,
        "database": name,
        "state": "suspended",
        "reason": "unpaid invoice 7",
        "changed": True,
    }
    found = row(csettings, name)
    assert (found.state, found.state_reason) == ("suspended", "unpaid invoice 7")
    assert found.state_changed_at is not None
    assert counter(csettings) > before
    assert events_of(csettings, name) == [
        ("tenant.suspended", {"name": name, "reason": "unpaid invoice 7", "cause": "manual"})
    ]
    states = {r.name: r.state for r in listing.tenants(csettings)}
    assert states[name] == "suspended"
    listed = run_cli(cenv, "db", "list")
    assert any(
        line.split()[0] == name and line.endswith("suspended")
        for line in listed.stdout.splitlines()
    )

    again = run_cli(cenv, "tenant", "suspend", name, "--reason", "another")
    assert again.returncode == 3
    assert (
        again.stderr.strip()
        == f"odoo-saas: error: tenant {name} is already suspended: nothing changed"
    )
    assert row(csettings, name).state_reason == "unpaid invoice 7"  # kept
    assert len(events_of(csettings, name)) == 1

    back = run_cli(cenv, "tenant", "resume", name)
    assert back.returncode == 0, back.stderr
    assert back.stdout.strip() == f"tenant {name} ({name}) is now active"
    assert (row(csettings, name).state, row(csettings, name).state_reason) == ("active", "")
    assert [t for t, _ in events_of(csettings, name)] == ["tenant.suspended", "tenant.resumed"]
    assert {r.name: r.state for r in listing.tenants(csettings)}[name] == "ready"
    assert run_cli(cenv, "tenant", "resume", name).returncode == 3
    # the data was never touched
    assert sorted(p.name for p in csettings.filestore(name).rglob("*") if p.is_file()) == files


def test_the_event_commits_with_the_change_or_neither_does(csettings, tenant, monkeypatch):
    name = tenant("atomic")

    def broken(cr, *args, **kwargs):
        cr.execute("SELECT 1/0")  # the outbox write fails: the state must not change alone

    monkeypatch.setattr(events.events, "insert", broken)
    with pytest.raises(Exception, match="catalog refused the change: division by zero"):
        suspension.suspend(csettings, name, "abuse")
    assert row(csettings, name) is None or row(csettings, name).state == "active"
    assert events_of(csettings, name) == []


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["suspend", "ct_no_such_tenant", "--reason", "x"],
            3,
            "tenant ct_no_such_tenant does not exist",
        ),
        (["suspend", "a/b", "--reason", "x"], 2, "is not valid"),
        (["suspend", "odoo_saas_catalog", "--reason", "x"], 2, "uses the prefix odoo_saas_"),
        (["suspend", "{name}", "--reason", "   "], 2, "the reason must not be empty"),
        (["suspend", "{name}", "--reason", "a\x1b[2Jb"], 2, "one line of printable text"),
        (["suspend", "{name}", "--reason", "x" * 501], 2, "longer than 500 characters"),
        (["resume", "ct_no_such_tenant"], 3, "tenant ct_no_such_tenant does not exist"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(cenv, csettings, tenant, args, code, message):
    name = tenant("bad")
    done = run_cli(cenv, "tenant", *[a.replace("{name}", name) for a in args])
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("odoo-saas: error: ") and message in lines[0]
    assert row(csettings, name) is None
    with pytest.raises(NotFound, match="tenant ct_absent does not exist"):
        suspension.suspend(csettings, "ct_absent", "x")


def test_a_rename_carries_the_suspension_and_a_drop_forgets_it(csettings, tenant):
    old, new = tenant("old"), tenant("new")
    drop(csettings, new, last_backup=None)  # its name is free again (a stale row is not)
    with store.session(csettings) as cr:
        catalog_tenants.put_new(cr, new, "small", None)
        cr.execute("UPDATE tenant SET state = 'suspended' WHERE name = %s", (new,))
    suspension.suspend(csettings, old, "abuse")
    rename(csettings, old, new)
    assert row(csettings, old) is None
    moved = row(csettings, new)
    assert (moved.state, moved.state_reason, moved.plan) == ("suspended", "abuse", "default")
    drop(csettings, new, last_backup=None)
    assert row(csettings, new) is None


def test_odoos_role_reads_the_state_and_limits_only(csettings, tenant):
    import dataclasses

    name = tenant("view")
    suspension.suspend(csettings, name, "abuse")
    odoo = dataclasses.replace(csettings, saas_db_password="")  # what Odoo's processes hold
    with store.session(odoo) as cr:
        routing = catalog_tenants.routing(cr)
        assert routing[name] == catalog_tenants.Routing("suspended", "abuse", None, None)
        with pytest.raises(psycopg2.Error, match="permission denied"):
            cr.execute("SELECT * FROM event")
    with store.session(csettings) as cr:
        assert (
            suspension.set_state(csettings, cr, name, "suspended", "x", cause="manual")[0] is False
        )
