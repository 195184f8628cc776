"""/v1/tenants on fake tenants (no Odoo): every body validated before anything runs, one
operation per tenant, idempotency keys, and the life cycle through jobs."""

from __future__ import annotations

import contextlib
import http.client
import json
from collections.abc import Iterator

import pytest

from odoo_saas_tools.catalog import store
from odoo_saas_tools.postgres import databases
from tests.api.conftest import api_db, exists, unique
from tests.support.pg import PgCluster


def jobs_of(api, token, name):
    return api.call("GET", f"/v1/jobs?tenant={name}", token=token).body["items"]


def jobs_in_catalog(settings, name: str) -> int:
    with store.session(settings) as cr:
        cr.execute("SELECT count(*) FROM job WHERE tenant = %s", (api_db(settings, name),))
        return cr.fetchone()[0]


def one_line_naming(answer, field: str) -> None:
    assert answer.headers["content-type"] == "application/problem+json", answer
    detail = answer.body["detail"]
    assert "\n" not in detail and detail.startswith(f"{field}:"), detail
    assert answer.body["status"] == answer.status and answer.body["title"]


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"name": "okname", "bogus": 1}, "bogus", 422),
        ({"name": 5}, "name", 422),
        ({}, "name", 422),
        ({"name": "-bad"}, "name", 422),
        ({"name": "a" * 51}, "name", 422),
        ({"name": "postgres"}, "name", 422),  # tenants.names: reserved by PostgreSQL
        ({"name": "okname", "plan": "gold"}, "plan", 422),
        ({"name": "okname", "modules": ["Bad Module"]}, "modules.0", 422),
        ({"name": "okname", "admin_password": "short"}, "admin_password", 422),
        ({"name": "okname", "company_name": "two\nlines"}, "company_name", 422),
        ({"name": "okname", "tz": "Mars/Olympus"}, "tz", 422),
        ({"name": "okname", "admin_email": "nobody"}, "admin_email", 422),
        ([1, 2], "body", 422),
    ],
)
def test_a_bad_create_is_one_line_naming_the_field_and_nothing_runs(
    api, tokens, api_settings, body, field, status
):
    answer = api.call("POST", "/v1/tenants", token=tokens["write"], body=body)
    assert answer.status == status, answer
    one_line_naming(answer, field)
    if isinstance(body, dict) and isinstance(body.get("name"), str):
        assert not exists(api_settings, body["name"])
        assert jobs_in_catalog(api_settings, body["name"]) == 0


def test_bodies_that_are_not_json_or_too_large_are_refused_early(api, tokens):
    garbled = api.call(
        "POST",
        "/v1/tenants",
        token=tokens["write"],
        raw=b'{"name": ',
        headers={"Content-Type": "application/json"},
    )
    assert garbled.status == 422
    one_line_naming(garbled, "body")
    # announced (Content-Length) or chunked: refused before 10 MB are read
    for framing in ("Content-Length", "Transfer-Encoding"):
        conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
        conn.putrequest("POST", "/v1/tenants")
        conn.putheader("Authorization", f"Bearer {tokens['write']}")
        conn.putheader("Content-Type", "application/json")
        if framing == "Content-Length":
            conn.putheader("Content-Length", str(10 * 1024 * 1024))
        else:
            conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        with contextlib.suppress(OSError):
            for _ in range(160):  # 10 MB in 64 KiB pieces, unless the server closed first
                piece = b"a" * 65536
                conn.send(
                    b"%x\r\n%s\r\n" % (len(piece), piece) if framing != "Content-Length" else piece
                )
        answer = conn.getresponse()
        assert answer.status == 413, framing
        assert "larger than" in json.loads(answer.read())["detail"]
        conn.close()


def test_an_existing_name_is_409(api, tokens, fake_tenant):
    name = fake_tenant("dup")
    answer = api.call("POST", "/v1/tenants", token=tokens["write"], body={"name": name})
    assert answer.status == 409 and "already exists" in answer.detail
    assert jobs_of(api, tokens["read"], name) == []


@contextlib.contextmanager
def holding_table(pg: PgCluster, db: str, table: str = "ir_attachment") -> Iterator[None]:
    """A superuser's ACCESS EXCLUSIVE lock on a table of db: a backup of db waits for it."""
    with pg.admin(db) as conn:
        conn.autocommit = False
        with conn.cursor() as cr:
            cr.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            yield
        conn.rollback()


def wait_state(api, token, job_id: str, state: str) -> None:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if api.call("GET", f"/v1/jobs/{job_id}", token=token).body["state"] == state:
            return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never {state}")


def test_one_operation_per_tenant_a_second_is_409_with_the_first_jobs_id(
    api, tokens, fake_tenant, pg, api_settings
):
    name = fake_tenant("busy")
    with holding_table(pg, api_db(api_settings, name)):
        first = api.call("POST", f"/v1/tenants/{name}/backups", token=tokens["write"])
        assert first.status == 202, first
        job = first.body["job"]["id"]
        wait_state(api, tokens["read"], job, "running")  # waiting for the table
        shown = api.call("GET", f"/v1/tenants/{name}", token=tokens["read"]).body
        assert shown["job"] == job
        for method, path, token, body in (
            ("POST", f"/v1/tenants/{name}/backups", "write", None),
            ("DELETE", f"/v1/tenants/{name}", "admin", None),
            ("POST", f"/v1/tenants/{name}/suspend", "write", {"reason": "unpaid"}),
            ("PATCH", f"/v1/tenants/{name}", "write", {"plan": "default"}),
        ):
            answer = api.call(method, path, token=tokens[token], body=body)
            assert answer.status == 409, (method, path, answer)
            assert answer.body["job"] == job and job in answer.detail
    assert api.wait_job(job, tokens["write"])["state"] == "succeeded"
    assert exists(api_settings, name)


def test_an_idempotency_key_replays_the_first_outcome_and_refuses_another_body(
    api, tokens, fake_tenant
):
    name = fake_tenant("idem")
    key = {"Idempotency-Key": f"key-{unique()}"}
    body = {"format": "zip"}
    first = api.call(
        "POST", f"/v1/tenants/{name}/backups", token=tokens["write"], body=body, headers=key
    )
    again = api.call(
        "POST", f"/v1/tenants/{name}/backups", token=tokens["write"], body=body, headers=key
    )
    assert first.status == again.status == 202
    assert again.body["job"]["id"] == first.body["job"]["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    other = api.call(
        "POST",
        f"/v1/tenants/{name}/backups",
        token=tokens["write"],
        body={"format": "dump"},
        headers=key,
    )
    assert other.status == 422 and other.detail.startswith("Idempotency-Key")
    # the key is the token's own: another token's same key is another request
    admins = api.call(
        "POST", f"/v1/tenants/{name}/backups", token=tokens["admin"], body=body, headers=key
    )
    assert admins.status in (202, 409)
    assert admins.body.get("job") != first.body["job"]
    assert api.wait_job(first.body["job"]["id"], tokens["read"])["state"] == "succeeded"
    assert len([j for j in jobs_of(api, tokens["read"], name) if j["kind"] == "backup"]) <= 2


def test_a_create_without_odoo_fails_its_job_in_one_line_and_leaves_nothing(
    api, tokens, api_settings, api_env
):
    name = unique("noodoo")
    answer = api.call(
        "POST",
        "/v1/tenants",
        token=tokens["write"],
        body={"name": name, "admin_email": "boss@acme.test", "country": "BE"},
    )
    assert answer.status == 202, answer
    assert answer.headers["location"] == f"/v1/jobs/{answer.body['job']['id']}"
    assert answer.body["tenant"]["state"] == "provisioning"
    job = api.wait_job(answer.body["job"]["id"], tokens["write"])
    assert job["state"] == "failed" and job["error"] and "\n" not in job["error"]
    assert not exists(api_settings, name)
    assert api.call("GET", f"/v1/tenants/{name}", token=tokens["read"]).status == 404
    from tests.support.cli import run_cli

    listed = json.loads(run_cli(api_env, "db", "list", "--json").stdout)
    assert not [r for r in listed if name in r["name"]]


def test_suspend_resume_and_plan_change_the_catalog_odoo_reads(
    api, tokens, fake_tenant, api_settings
):
    name = fake_tenant("life")
    db = api_db(api_settings, name)

    def routed() -> tuple[str, str, int]:
        with store.session(api_settings) as cr:
            cr.execute("SELECT state, state_reason FROM odoo_tenant WHERE name = %s", (db,))
            state, reason = cr.fetchone()
            cr.execute("SELECT version FROM odoo_version")
            return state, reason, cr.fetchone()[0]

    answer = api.call(
        "POST", f"/v1/tenants/{name}/suspend", token=tokens["write"], body={"reason": "unpaid"}
    )
    assert answer.status == 200 and answer.body["state"] == "suspended"
    assert answer.body["state_reason"] == "unpaid"
    state, reason, version = routed()
    assert (state, reason) == ("suspended", "unpaid")
    listed = api.call("GET", "/v1/tenants?state=suspended", token=tokens["read"]).body
    assert name in [t["name"] for t in listed["items"]]
    answer = api.call("POST", f"/v1/tenants/{name}/resume", token=tokens["write"])
    assert answer.status == 200 and answer.body["state"] == "active"
    state, _, later = routed()
    assert state == "active" and later > version
    answer = api.call("PATCH", f"/v1/tenants/{name}", token=tokens["write"], body={"plan": "x1"})
    assert answer.status == 422 and answer.detail.startswith("plan:")
    answer = api.call(
        "PATCH", f"/v1/tenants/{name}", token=tokens["write"], body={"plan": "default"}
    )  # a job: a plan's modules are installed first (with Odoo: minutes)
    assert answer.status == 202, answer
    done = api.wait_job(answer.body["job"]["id"], tokens["write"])
    assert done["state"] == "succeeded" and done["result"]["changed"] is False, done
    assert (
        api.call(
            "POST", "/v1/tenants/nosuch1/suspend", token=tokens["write"], body={"reason": "x"}
        ).status
        == 404
    )


def test_backup_restore_delete_and_restore_of_the_dropped(api, tokens, fake_tenant, api_settings):
    name = fake_tenant("cycle", admin=True)
    db = api_db(api_settings, name)
    done = api.wait_job(
        api.call("POST", f"/v1/tenants/{name}/backups", token=tokens["write"]).body["job"]["id"],
        tokens["write"],
    )
    assert done["state"] == "succeeded", done
    backups = api.call("GET", f"/v1/tenants/{name}/backups", token=tokens["read"]).body["items"]
    assert len(backups) == 1 and backups[0]["verified"] and backups[0]["where"] == "local"
    shown = api.call("GET", f"/v1/tenants/{name}", token=tokens["read"]).body
    assert shown["last_backup"]["verified"] is True
    assert shown["last_backup"]["size_bytes"] == backups[0]["size_bytes"]
    # a change after the backup, which the restore takes back
    with databases_connect(api_settings, db) as cr:
        cr.execute("INSERT INTO ir_attachment (name) VALUES ('after the backup')")
    for wrong in ("local:../../etc/passwd", "/etc/passwd", "local:other.zip"):
        refused = api.call(
            "POST", f"/v1/tenants/{name}/restore", token=tokens["admin"], body={"backup": wrong}
        )
        assert refused.status == 422 and refused.detail.startswith("backup:"), refused
    restored = api.call(
        "POST",
        f"/v1/tenants/{name}/restore",
        token=tokens["admin"],
        body={"backup": backups[0]["id"]},
    )
    assert restored.status == 202, restored
    job = api.wait_job(restored.body["job"]["id"], tokens["admin"])
    assert job["state"] == "succeeded", job
    assert job["result"]["replaced_backup"]  # the replaced tenant's last backup, as the CLI
    with databases_connect(api_settings, db) as cr:
        cr.execute("SELECT count(*) FROM ir_attachment WHERE name = 'after the backup'")
        assert cr.fetchone()[0] == 0
    deleted = api.call("DELETE", f"/v1/tenants/{name}", token=tokens["admin"])
    assert deleted.status == 202 and deleted.body["tenant"]["state"] == "deleting"
    job = api.wait_job(deleted.body["job"]["id"], tokens["admin"])
    assert job["state"] == "succeeded" and job["result"]["backup"], job
    assert not databases.exists(api_settings, db)
    assert api.call("GET", f"/v1/tenants/{name}", token=tokens["read"]).status == 404
    kept = api.call("GET", f"/v1/tenants/{name}/backups", token=tokens["read"]).body["items"]
    dropped = [b for b in kept if b["where"] == "dropped"]
    assert len(dropped) == 1
    back = api.call(
        "POST",
        f"/v1/tenants/{name}/restore",
        token=tokens["admin"],
        body={"backup": dropped[0]["id"]},
    )
    assert back.status == 202, back
    assert api.wait_job(back.body["job"]["id"], tokens["admin"])["state"] == "succeeded"
    assert api.call("GET", f"/v1/tenants/{name}", token=tokens["read"]).body["state"] == "active"


def test_clone_copies_under_the_target_and_a_failed_clone_leaves_nothing(
    api, tokens, fake_tenant, api_settings
):
    name = fake_tenant("src", admin=True)
    # a fake tenant has no module to neutralize it with (needs Odoo's modules): the job fails
    # in one line and no target is left behind
    target = unique("stage")
    answer = api.call(
        "POST", f"/v1/tenants/{name}/clone", token=tokens["write"], body={"target": target}
    )
    assert answer.status == 202 and answer.body["tenant"]["name"] == target
    assert answer.body["job"]["params"]["neutralize"] is True
    job = api.wait_job(answer.body["job"]["id"], tokens["write"])
    assert job["state"] == "failed" and "\n" not in job["error"], job
    assert not job["error"].startswith("internal error"), job
    assert not exists(api_settings, target)
    answer = api.call(
        "POST",
        f"/v1/tenants/{name}/clone",
        token=tokens["write"],
        body={"target": target, "neutralize": False},
    )
    job = api.wait_job(answer.body["job"]["id"], tokens["write"])
    assert job["state"] == "succeeded", job
    shown = api.call("GET", f"/v1/tenants/{target}", token=tokens["read"]).body
    assert shown["state"] == "active" and shown["db_state"] == "ready"
    again = api.call(
        "POST", f"/v1/tenants/{name}/clone", token=tokens["write"], body={"target": target}
    )
    assert again.status == 409
    databases.drop(api_settings, api_db(api_settings, target))


def test_listing_pages_and_filters(api, tokens, fake_tenant):
    names = sorted(fake_tenant("pg") for _ in range(3))
    first = api.call("GET", "/v1/tenants?limit=2", token=tokens["read"]).body
    assert first["limit"] == 2 and len(first["items"]) <= 2 and first["total"] >= 3
    seen, offset = [], 0
    while offset is not None:
        page = api.call("GET", f"/v1/tenants?limit=2&offset={offset}", token=tokens["read"]).body
        seen += [t["name"] for t in page["items"]]
        offset = page["next_offset"]
    assert seen == sorted(seen) and set(names) <= set(seen)
    none = api.call("GET", "/v1/tenants?plan=gold", token=tokens["read"]).body
    assert none["items"] == [] and none["total"] == 0
    bad = api.call("GET", "/v1/tenants?limit=0", token=tokens["read"])
    assert bad.status == 422 and bad.detail.startswith("limit:")


def test_the_list_counts_each_tenants_active_internal_users(api, tokens, fake_tenant, api_settings):
    """What a plan's max_users counts (active, not `share`), learnt by the listing's own look
    into each tenant, so a page of 500 tenants costs no extra connection per row."""
    name = fake_tenant("us", admin=True)
    with databases_connect(api_settings, api_db(api_settings, name)) as cr:
        cr.execute(
            "ALTER TABLE res_users ADD COLUMN active boolean DEFAULT true, "
            "ADD COLUMN share boolean DEFAULT false"
        )
        cr.execute(
            "INSERT INTO res_users (id, login, active, share) VALUES "
            "(10, 'u1', true, false), (11, 'u2', false, false), (12, 'portal', true, true)"
        )
    listed = api.call("GET", "/v1/tenants?limit=500", token=tokens["read"]).body["items"]
    assert [t["active_users"] for t in listed if t["name"] == name] == [2]  # admin and u1
    shown = api.call("GET", f"/v1/tenants/{name}", token=tokens["read"]).body
    assert shown["active_users"] == 2


@contextlib.contextmanager
def databases_connect(settings, db):
    from odoo_saas_tools.postgres.connection import connect

    with connect(settings, db) as conn, conn.cursor() as cr:
        yield cr
