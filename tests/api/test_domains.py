"""/v1/tenants/{name}/domains against the real API, its catalog and a real DNS server: the
calls run domains.manage (what `odoo-saas domain ...` runs), are audited, and answer a bad
domain 422, an unknown one 404 and a missing DNS proof 409, each in one line."""

from __future__ import annotations

import uuid

import pytest

from odoo_saas_tools.catalog import store
from odoo_saas_tools.postgres.connection import connect
from tests.api.conftest import api_db
from tests.domains.conftest import POOL, POOL_HOST


def fresh(label: str = "erp") -> str:
    return f"{label}.c{uuid.uuid4().hex[:10]}.test"


def path(name: str, *rest: str) -> str:
    return "/".join([f"/v1/tenants/{name}/domains", *rest])


def problem(answer, status: int) -> str:
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/problem+json", answer
    detail = answer.body["detail"]
    assert detail and "\n" not in detail and answer.body["status"] == status
    return detail


def base_url(settings, name: str) -> tuple[str, str | None]:
    """web.base.url and web.base.url.freeze in the tenant's database."""
    with connect(settings, api_db(settings, name)) as conn, conn.cursor() as cr:
        cr.execute("SELECT key, value FROM ir_config_parameter WHERE key LIKE 'web.base.url%'")
        found = dict(cr.fetchall())
    return found["web.base.url"], found.get("web.base.url.freeze")


def audited(settings, name: str) -> list[tuple[str, int]]:
    with store.session(settings) as cr:
        cr.execute(
            "SELECT action, status FROM audit WHERE tenant = %s ORDER BY id",
            (api_db(settings, name),),
        )
        return cr.fetchall()


def test_add_verify_primary_remove_through_the_api(api, tokens, api_settings, dnsd, fake_tenant):
    name, domain, token = fake_tenant(), fresh(), tokens["write"]
    added = api.call("POST", path(name), token=token, body={"domain": domain.upper() + "."})
    assert added.status == 201, added
    item = added.body
    assert (item["domain"], item["tenant"], item["verified"], item["primary"]) == (
        domain,
        name,
        False,
        False,
    )
    record = item["record"]
    assert record["type"] == "TXT" and record["name"] == f"_odoo-saas-challenge.{domain}"
    assert len(record["value"]) >= 32 and item["created_at"] and item["verified_at"] is None
    assert item["alternative"] == {"type": "CNAME", "name": domain, "value": POOL_HOST}
    again = api.call("POST", path(name), token=token, body={"domain": domain})
    assert again.status == 200 and again.body["record"] == record

    listed = api.call("GET", path(name), token=tokens["read"])
    assert listed.status == 200 and [i["domain"] for i in listed.body["items"]] == [domain]
    assert listed.body["items"][0]["record"] == record

    early = api.call("POST", path(name, domain, "primary"), token=token)
    assert "is not verified yet" in problem(early, 409)
    missing = api.call("POST", path(name, domain, "verify"), token=token)
    assert f"TXT {record['name']} is absent" in problem(missing, 409)

    dnsd.set(txt={record["name"]: record["value"]})
    verified = api.call("POST", path(name, domain, "verify"), token=token)
    assert verified.status == 200, verified
    assert verified.body["verified"] is True and verified.body["verified_at"]
    assert verified.body["proof"] == f"TXT {record['name']}"

    primary = api.call("POST", path(name, domain, "primary"), token=token)
    assert primary.status == 200 and primary.body["primary"] is True, primary
    assert base_url(api_settings, name) == (f"https://{domain}", "True")

    removed = api.call("DELETE", path(name, domain), token=token)
    assert removed.status == 204 and removed.body is None, removed
    assert api.call("GET", path(name), token=token).body == {"items": []}
    # no TENANT_URL_TEMPLATE here: unfrozen, Odoo learns it again at the next login
    assert base_url(api_settings, name)[1] is None
    assert "nothing removed" in problem(api.call("DELETE", path(name, domain), token=token), 404)
    assert audited(api_settings, name) == [
        ("domain.add", 201),
        ("domain.add", 200),
        ("domain.primary", 409),
        ("domain.verify", 409),
        ("domain.verify", 200),
        ("domain.primary", 200),
        ("domain.remove", 204),
        ("domain.remove", 404),
    ]


@pytest.mark.parametrize(
    ("domain", "says"),
    [
        ("192.0.2.7", "is an IP address"),
        ("*.acme.test", "is a wildcard"),
        (f"shop.{POOL}", "is the pool's own domain"),
        (POOL_HOST, "is the pool's own host name"),
        (".".join(["a" * 60] * 5) + ".test", "longer than 253"),
        ("bad_label.acme.test", "has an invalid label"),
        ("", "domain: String should have at least 1 character"),
    ],
)
def test_a_bad_domain_is_422_in_one_line_and_nothing_is_claimed(
    api, tokens, fake_tenant, domain, says
):
    name = fake_tenant()
    answer = api.call("POST", path(name), token=tokens["write"], body={"domain": domain})
    assert says in problem(answer, 422)
    assert answer.body["detail"].startswith("domain: ")
    assert api.call("GET", path(name), token=tokens["read"]).body == {"items": []}


def test_another_tenants_domain_is_422_and_stays_theirs(api, tokens, fake_tenant):
    owner, other, domain = fake_tenant(), fake_tenant(), fresh("shop")
    claimed = api.call("POST", path(owner), token=tokens["write"], body={"domain": domain})
    assert claimed.status == 201, claimed
    for method, where, body in (
        ("POST", path(other), {"domain": domain}),
        ("POST", path(other, domain, "verify"), None),
        ("POST", path(other, domain, "primary"), None),
        ("DELETE", path(other, domain), None),
    ):
        answer = api.call(method, where, token=tokens["write"], body=body)
        assert "is another tenant's domain" in problem(answer, 422), (method, where)
    listed = api.call("GET", path(owner), token=tokens["read"]).body["items"]
    assert [i["domain"] for i in listed] == [domain]


def test_unknown_tenants_and_domains_are_404_scopes_are_checked(api, tokens, fake_tenant):
    name, domain = fake_tenant(), fresh()
    ghost = f"ghost{uuid.uuid4().hex[:8]}"
    assert "does not exist" in problem(api.call("GET", path(ghost), token=tokens["read"]), 404)
    answer = api.call("POST", path(ghost), token=tokens["write"], body={"domain": domain})
    assert "does not exist" in problem(answer, 404)
    verify = api.call("POST", path(name, domain, "verify"), token=tokens["write"])
    assert "add it first" in problem(verify, 404)
    assert problem(api.call("GET", path("-bad"), token=tokens["read"]), 422).startswith("name")

    assert api.call("GET", path(name)).status == 401
    assert api.call("POST", path(name), body={"domain": domain}).status == 401
    refused = api.call("POST", path(name), token=tokens["read"], body={"domain": domain})
    assert problem(refused, 403)
    assert api.call("GET", path(name), token=tokens["read"]).body == {"items": []}


def test_a_retried_call_with_its_key_gets_the_first_answer(api, tokens, fake_tenant):
    name, domain = fake_tenant(), fresh()
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = api.call(
        "POST", path(name), token=tokens["write"], body={"domain": domain}, headers=key
    )
    retry = api.call(
        "POST", path(name), token=tokens["write"], body={"domain": domain}, headers=key
    )
    assert (first.status, retry.status) == (201, 201)
    assert retry.headers["idempotent-replayed"] == "true" and retry.body == first.body
    gone_key = {"Idempotency-Key": uuid.uuid4().hex}
    for _ in range(2):
        removed = api.call("DELETE", path(name, domain), token=tokens["write"], headers=gone_key)
        assert removed.status == 204 and removed.body is None
    assert removed.headers["idempotent-replayed"] == "true"
