"""Plans applied to tenants without Odoo: provisioning on a plan (modules, language, country,
trial) through the one provisioning there is, and `tenant plan` (catalog, event, exit codes; a
failed install changes nothing). The install itself with real Odoo: test_odoo_suspension."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog import tenants as catalog_tenants
from odoo_saas_tools.control import plans
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.postgres.connection import connect
from odoo_saas_tools.tenants import filestore, template_cache
from odoo_saas_tools.tenants import setup as tenant_setup
from tests.control.conftest import events_of, row
from tests.support.cli import run_cli
from tests.tenants.conftest import make_fake_odoo

NOW = dt.datetime(2031, 5, 1, 12, 0, tzinfo=dt.UTC)


def test_a_plan_change_records_plan_trial_and_event(cenv, csettings, tenant):
    name = tenant("chg")
    done = run_cli(cenv, "tenant", "plan", name, "small", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result == {
        "tenant": name,
        "database": name,
        "plan": "small",
        "previous_plan": "default",
        "changed": True,
        "modules_installed": [],
        "trial_ends_at": None,
    }
    assert row(csettings, name).plan == "small"
    assert events_of(csettings, name) == [
        (
            "tenant.plan_changed",
            {
                "name": name,
                "plan": "small",
                "previous_plan": "default",
                "modules_installed": [],
                "trial_ends_at": None,
            },
        )
    ]
    with store.session(csettings) as cr:  # what Odoo now reads
        assert catalog_tenants.routing(cr)[name].max_users == 2
    again = run_cli(cenv, "tenant", "plan", name, "small")
    assert again.returncode == 3
    assert "already: nothing changed" in again.stderr

    # a trial starts on a trial plan, and ends on a plan without one
    before = dt.datetime.now(dt.UTC)
    plans.change(csettings, name, "trial")
    ends = row(csettings, name).trial_ends_at
    assert events_of(csettings, name)[-1][1]["trial_ends_at"] == ends.isoformat()  # ISO 8601
    assert before + dt.timedelta(days=14) <= ends <= dt.datetime.now(dt.UTC) + dt.timedelta(14)
    assert plans.change(csettings, name, "big")["trial_ends_at"] is None
    assert row(csettings, name).trial_ends_at is None


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["{name}", "gold"], 2, "unknown plan 'gold' (plans: belgian, big, crm, default, "),
        (["ct_nobody", "small"], 3, "tenant ct_nobody does not exist"),
        (["{name}", "crm"], 1, ""),  # the plan's module cannot be installed: nothing changes
    ],
)
def test_a_refused_change_is_one_line_and_changes_nothing(
    cenv, csettings, tenant, args, code, message
):
    name = tenant("refused")
    env = {**cenv, "ODOO_BIN": "/nonexistent/odoo"}
    done = run_cli(env, "tenant", "plan", *[a.replace("{name}", name) for a in args])
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("odoo-saas: error: ") and message in lines[0]
    assert row(csettings, name) is None or row(csettings, name).plan == "default"
    assert events_of(csettings, name) == []


@pytest.fixture
def template(csettings):
    """A fake cached template (as tenants/test_unfinished.py makes them) that also knows
    Belgium and French, and the template_cache key every spec maps to in this test."""
    facts = {"fake_template": uuid.uuid4().hex}
    name = template_cache.template_name(facts)
    make_fake_odoo(csettings, name, admin=True)
    with connect(csettings, name) as conn, conn.cursor() as cr:
        cr.execute(
            "CREATE TABLE res_country (id serial PRIMARY KEY, code varchar, currency_id int);"
            "INSERT INTO res_country (code) VALUES ('BE');"
            "INSERT INTO res_lang (code, active) VALUES ('fr_BE', true);"
        )
    meta = {**facts, "created": NOW.isoformat(), "used": NOW.isoformat(), "filestore": True}
    databases.set_template(csettings, name, json.dumps(meta))
    yield facts
    databases.drop(csettings, name)
    filestore.remove(csettings.filestore(name))


def test_provisioning_on_a_plan_takes_its_modules_locale_and_trial(
    csettings, template, monkeypatch
):
    asked: list[template_cache.Spec] = []

    def describe(settings, spec, **kwargs):
        asked.append(spec)
        return template

    monkeypatch.setattr(template_cache, "describe", describe)
    name = f"ct_prov_{uuid.uuid4().hex[:8]}"
    try:
        result = plans.provision(
            csettings, name, tenant_setup.Setup(), plan="belgian", modules=("sale",), now=NOW
        )  # the tenant prefix is empty here: the name is the database
        assert result["created"] and result["plan"] == "belgian"
        assert result["trial_ends_at"] == NOW + dt.timedelta(days=30)
        assert asked[-1] == template_cache.Spec(("base", "crm", "sale"), "fr_BE", False)
        found = row(csettings, name)
        assert (found.plan, found.trial_ends_at, found.state) == (
            "belgian",
            NOW + dt.timedelta(30),
            "active",
        )
        with connect(csettings, name) as conn, conn.cursor() as cr:
            cr.execute("SELECT lang FROM res_partner WHERE id = 3")
            assert cr.fetchone() == ("fr_BE",)
            cr.execute("SELECT c.code FROM res_partner p JOIN res_country c ON c.id = p.country_id")
            assert cr.fetchall() == [("BE",)]
        # --lang and --country win over the plan's; the plan's limits are recorded with the
        # tenant's row, even when the catalog had others for it
        other = f"ct_prov_{uuid.uuid4().hex[:8]}"
        with store.session(csettings) as cr:
            cr.execute("UPDATE plan SET max_users = 99 WHERE name = 'small'")
        try:
            plans.provision(csettings, other, tenant_setup.Setup(lang="en_US"), plan="small")
            assert asked[-1].lang == "en_US"
            with store.session(csettings) as cr:
                assert catalog_tenants.routing(cr)[other].max_users == 2
        finally:
            databases.drop(csettings, other)
            filestore.remove(csettings.filestore(other))
        with pytest.raises(Exception, match="unknown plan 'gold'"):
            plans.provision(
                csettings, f"ct_{uuid.uuid4().hex[:6]}", tenant_setup.Setup(), plan="gold"
            )
    finally:
        databases.drop(csettings, name)
        filestore.remove(csettings.filestore(name))
