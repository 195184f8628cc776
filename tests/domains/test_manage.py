"""add / verify / list / remove / primary against the real catalog and a real DNS server, through
the CLI where what a user sees (one line, the exit code) is the point."""

from __future__ import annotations

import json

import pytest

from odoo_saas_tools.catalog import domains as rows
from odoo_saas_tools.catalog import store
from odoo_saas_tools.core.errors import ConfigError, SaasError
from odoo_saas_tools.domains import manage
from odoo_saas_tools.tenants.drop import drop
from odoo_saas_tools.tenants.rename import rename
from tests.domains.conftest import POOL, POOL_HOST, make_tenant, params
from tests.support.cli import run_cli


def challenge(name: str) -> str:
    return f"_odoo-saas-challenge.{name}"


def one_line(proc) -> str:
    err = proc.stderr.strip()
    assert "Traceback" not in proc.stderr and len(err.splitlines()) == 1, proc.stderr
    return err


def verified_map(settings) -> dict[str, str]:
    with store.session(settings) as cr:
        return {r.domain: r.tenant for r in rows.of_tenants(cr) if r.verified}


def test_add_prints_the_record_verify_needs_it_then_the_domain_serves(
    denv, dsettings, dnsd, tenant, domain
):
    acme, name = tenant(), domain()
    added = run_cli(denv, "domain", "add", acme, name.upper() + ".", "--json")
    assert added.returncode == 0, added.stderr
    claim = json.loads(added.stdout)
    assert claim["domain"] == name and claim["tenant"] == acme and claim["verified"] is False
    record = claim["record"]
    assert record["type"] == "TXT" and record["name"] == challenge(name)
    assert len(record["value"]) >= 32
    assert claim["alternative"] == {"type": "CNAME", "name": name, "value": POOL_HOST}
    human = run_cli(denv, "domain", "add", acme, name)  # again: the same claim, for people
    assert human.returncode == 0 and f'{challenge(name)}.  TXT  "{record["value"]}"' in human.stdout

    before = run_cli(denv, "domain", "verify", acme, name)
    assert before.returncode == 1
    assert f"TXT {challenge(name)} is absent" in one_line(before)
    assert name not in verified_map(dsettings)

    dnsd.set(txt={challenge(name): "another-token"})
    wrong = run_cli(denv, "domain", "verify", acme, name)
    assert wrong.returncode == 1 and "holds 'another-token'" in one_line(wrong)

    dnsd.set(txt={challenge(name): record["value"]})
    ok = run_cli(denv, "domain", "verify", acme, name, "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["verified"] is True
    assert json.loads(ok.stdout)["proof"] == f"TXT {challenge(name)}"
    assert verified_map(dsettings)[name] == acme

    listed = run_cli(denv, "domain", "list", acme, "--json")
    assert [c["domain"] for c in json.loads(listed.stdout)] == [name]
    assert f"{acme}  {name}  verified" in run_cli(denv, "domain", "list").stdout


def test_a_cname_to_the_pool_host_proves_it_too(dsettings, dnsd, tenant, domain):
    acme, name = tenant(), domain("shop")
    manage.add(dsettings, acme, name)
    dnsd.set(cname={name: "elsewhere.hoster.test"})
    with pytest.raises(SaasError, match=f"is a CNAME to elsewhere.hoster.test, not {POOL_HOST}"):
        manage.verify(dsettings, acme, name)
    dnsd.set(cname={name: POOL_HOST})
    assert manage.verify(dsettings, acme, name).proof == f"CNAME {name}"


def test_another_tenants_domain_is_refused_everywhere(denv, dsettings, dnsd, tenant, domain):
    acme, globex, name = tenant(), tenant(), domain()
    token = manage.add(dsettings, acme, name).row.token
    for action in ("add", "verify", "remove", "primary"):
        proc = run_cli(denv, "domain", action, globex, name)
        assert proc.returncode == 2, (action, proc.stderr)
        assert one_line(proc).endswith(f"{name} is another tenant's domain"), action
    # globex cannot take it over by publishing acme's token either: the claim stays acme's
    dnsd.set(txt={challenge(name): token})
    assert run_cli(denv, "domain", "verify", globex, name).returncode == 2
    with store.session(dsettings) as cr:
        assert rows.get(cr, name).tenant == acme


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("203.0.113.7", "is an IP address"),
        ("*.acme.test", "is a wildcard"),
        (POOL, "is the pool's own domain"),
        ("globex." + POOL, "is the pool's own domain"),
        ("a" * 250 + ".test", "is longer than 253 characters"),
        ("bad_label.acme.test", "has an invalid label"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(denv, dsettings, tenant, raw, says):
    acme = tenant()
    proc = run_cli(denv, "domain", "add", acme, raw)
    assert proc.returncode == 2 and says in one_line(proc), proc.stderr
    with store.session(dsettings) as cr:
        assert rows.of_tenants(cr, acme) == []


def test_unknown_tenant_and_missing_management_role_are_refused(denv, domain):
    proc = run_cli(denv, "domain", "add", "nosuchtenant", domain())
    assert proc.returncode == 2 and "there is no tenant nosuchtenant" in one_line(proc)
    odoo_only = {k: v for k, v in denv.items() if k != "ODOO_SAAS_DB_PASSWORD"}
    proc = run_cli(odoo_only, "domain", "add", "nosuchtenant", domain())
    assert proc.returncode == 2 and "management role" in one_line(proc)


def test_dns_that_does_not_answer_is_one_line(denv, tenant, domain):
    """dnsmasq knows only .test and forwards nothing: for any other zone it refuses to answer."""
    acme, name = tenant(), domain().replace(".test", ".example")
    assert run_cli(denv, "domain", "add", acme, name).returncode == 0
    proc = run_cli(denv, "domain", "verify", acme, name)
    assert proc.returncode == 1 and "DNS gave no answer for TXT" in one_line(proc)


def test_primary_freezes_web_base_url_and_removing_it_falls_back(
    denv, dsettings, dnsd, tenant, domain
):
    acme, name, other = tenant(), domain(), domain("www")
    for n in (name, other):
        dnsd.set(txt={challenge(n): manage.add(dsettings, acme, n).row.token})
    early = run_cli(denv, "domain", "primary", acme, name)
    assert early.returncode == 2 and "is not verified yet" in one_line(early)
    manage.verify(dsettings, acme, name)
    manage.verify(dsettings, acme, other)

    assert run_cli(denv, "domain", "primary", acme, name).returncode == 0
    assert params(dsettings, acme)["web.base.url"] == f"https://{name}"
    assert params(dsettings, acme)["web.base.url.freeze"] == "True"
    manage.primary(dsettings, acme, other)  # one primary at a time
    assert [c.row.domain for c in manage.listing(dsettings, acme) if c.row.is_primary] == [other]
    assert params(dsettings, acme)["web.base.url"] == f"https://{other}"

    manage.remove(dsettings, acme, name)  # not the primary: the URL stays
    assert params(dsettings, acme)["web.base.url"] == f"https://{other}"
    removed = run_cli(denv, "domain", "remove", acme, other)
    assert removed.returncode == 0, removed.stderr
    assert params(dsettings, acme)["web.base.url"] == f"https://{acme}.{POOL}"
    assert verified_map(dsettings).get(other) is None
    again = run_cli(denv, "domain", "remove", acme, other)
    assert again.returncode == 3 and "nothing removed" in one_line(again)


def test_every_change_moves_the_counter_odoo_polls(dsettings, dnsd, tenant, domain):
    acme, name = tenant(), domain()

    def version() -> int:
        with store.session(dsettings) as cr:
            cr.execute("SELECT version FROM change_counter")
            return cr.fetchone()[0]

    seen = [version()]
    dnsd.set(txt={challenge(name): manage.add(dsettings, acme, name).row.token})
    seen.append(version())
    manage.verify(dsettings, acme, name)
    seen.append(version())
    manage.primary(dsettings, acme, name)
    seen.append(version())
    manage.remove(dsettings, acme, name)
    seen.append(version())
    assert seen == sorted(set(seen)), seen


def test_a_dropped_tenants_domains_never_serve_a_new_tenant_of_its_name(
    dsettings, dnsd, tenant, domain
):
    """A later signup under a dropped tenant's name must not receive the customers' traffic
    that still points at the pool (the attack: sign up as the dropped name)."""
    acme, name = tenant(), domain()
    dnsd.set(txt={challenge(name): manage.add(dsettings, acme, name).row.token})
    manage.verify(dsettings, acme, name)
    drop(dsettings, acme, last_backup=None)
    make_tenant(dsettings, acme)  # the attacker's signup, same name
    try:
        assert name not in verified_map(dsettings)
        with pytest.raises(ConfigError, match="add it first"):
            manage.verify(dsettings, acme, name)
    finally:
        drop(dsettings, acme, last_backup=None)


def test_a_renamed_tenant_keeps_its_domains(dsettings, dnsd, tenant, domain):
    acme, name = tenant(), domain()
    dnsd.set(txt={challenge(name): manage.add(dsettings, acme, name).row.token})
    manage.verify(dsettings, acme, name)
    new = acme + "x"
    rename(dsettings, acme, new)
    try:
        assert verified_map(dsettings)[name] == new
    finally:
        drop(dsettings, new, last_backup=None)
