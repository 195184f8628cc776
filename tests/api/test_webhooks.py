"""/v1/webhooks through the real server, and `odoo-saas webhook` calling the same functions:
admin scope, the shapes the console builds on, what is refused (422, one line naming the
field), a generated secret shown once and never listed."""

from __future__ import annotations

import json
import uuid

from tests.support.cli import run_cli

SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="  # 32 bytes
HOOK_KEYS = {"id", "url", "events", "created_at", "deliveries"}


def test_add_list_deliveries_remove(api, tokens):
    body = {"url": "https://hooks.example.com/odoo", "events": ["tenant.created", "job.failed"]}
    assert api.call("POST", "/v1/webhooks", body=body).status == 401
    refused = api.call("POST", "/v1/webhooks", token=tokens["write"], body=body)
    assert refused.status == 403 and "needs admin" in refused.detail
    assert api.call("GET", "/v1/webhooks", token=tokens["read"]).status == 403
    made = api.call("POST", "/v1/webhooks", token=tokens["admin"], body=body)
    assert made.status == 201, made
    assert set(made.body) == HOOK_KEYS | {"secret"}
    assert made.body["secret"].startswith("whsec_") and made.body["deliveries"] == []
    assert made.body["events"] == ["job.failed", "tenant.created"]
    given = api.call("POST", "/v1/webhooks", token=tokens["admin"], body={**body, "secret": SECRET})
    assert given.status == 201 and "secret" not in given.body
    listed = api.call("GET", "/v1/webhooks", token=tokens["admin"])
    assert listed.status == 200
    mine = {h["id"]: h for h in listed.body["items"]}
    assert {made.body["id"], given.body["id"]} <= set(mine)
    assert all(set(h) == HOOK_KEYS for h in listed.body["items"])  # never a secret
    assert SECRET not in json.dumps(listed.body) and made.body["secret"] not in json.dumps(
        listed.body
    )
    hook = made.body["id"]
    shown = api.call("GET", f"/v1/webhooks/{hook}/deliveries?limit=5", token=tokens["admin"])
    assert shown.status == 200 and shown.body == {"items": []}
    assert api.call("DELETE", f"/v1/webhooks/{hook}", token=tokens["admin"]).status == 204
    gone = api.call("DELETE", f"/v1/webhooks/{hook}", token=tokens["admin"])
    assert gone.status == 404 and "no webhook" in gone.detail
    missing = api.call("GET", f"/v1/webhooks/{uuid.uuid4()}/deliveries", token=tokens["admin"])
    assert missing.status == 404
    assert api.call("GET", "/v1/webhooks/x/deliveries", token=tokens["admin"]).status == 422
    api.call("DELETE", f"/v1/webhooks/{given.body['id']}", token=tokens["admin"])


def test_what_is_refused(api, tokens):
    good = {"url": "http://127.0.0.1:9/in", "events": ["backup.failed"]}
    for change, field in (
        ({"url": "ftp://h/x"}, "url"),
        ({"url": "https://user:pw@h.example/x"}, "url"),
        ({"url": "https://h.example:99999/x"}, "url"),
        ({"events": ["tenant.exploded"]}, "events"),
        ({"events": []}, "events"),
        ({"secret": "not-a-secret"}, "secret"),
        ({"secret": "whsec_QUJD"}, "secret"),  # 3 bytes
        ({"extra": 1}, "extra"),
    ):
        answer = api.call("POST", "/v1/webhooks", token=tokens["admin"], body={**good, **change})
        assert answer.status == 422, (change, answer)
        assert answer.detail.startswith(field), (change, answer.detail)
        assert answer.headers["content-type"] == "application/problem+json"


def test_the_cli_is_the_api(api, api_env, tokens, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    url = "https://billing.example.com/hooks"
    proc = run_cli(
        api_env, "webhook", "add", url, "--events", "tenant.deleted,backup.succeeded",
        "--secret-file", str(secret_file), "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    made = json.loads(proc.stdout)
    assert made["events"] == ["backup.succeeded", "tenant.deleted"] and "secret" not in made
    assert SECRET not in proc.stdout + proc.stderr
    stdin = run_cli(
        api_env, "webhook", "add", url, "--events", "job.failed", "--secret-file", "-", "--json",
        input=SECRET + "\n",
    )  # fmt: skip
    assert stdin.returncode == 0, stdin.stderr
    generated = run_cli(api_env, "webhook", "add", url, "--events", "job.failed", "--json")
    assert json.loads(generated.stdout)["secret"].startswith("whsec_")
    made_ids = [json.loads(p.stdout)["id"] for p in (proc, stdin, generated)]
    listed = api.call("GET", "/v1/webhooks", token=tokens["admin"]).body["items"]
    assert set(made_ids) <= {h["id"] for h in listed}
    cli_list = json.loads(run_cli(api_env, "webhook", "list", "--json").stdout)
    assert {h["id"] for h in cli_list} == {h["id"] for h in listed}
    assert "whsec_" not in json.dumps(cli_list)
    shown = run_cli(api_env, "webhook", "deliveries", made["id"], "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout) == []
    bad = run_cli(api_env, "webhook", "add", "ftp://x/y", "--events", "job.failed")
    assert bad.returncode == 2 and "url: must be http:// or https://" in bad.stderr
    unknown = run_cli(api_env, "webhook", "add", url, "--events", "nope")
    assert unknown.returncode == 2 and "events: unknown nope" in unknown.stderr
    for hook in made_ids:
        assert run_cli(api_env, "webhook", "remove", hook).returncode == 0
    again = run_cli(api_env, "webhook", "remove", made["id"])
    assert again.returncode == 3 and "no webhook" in again.stderr


def test_a_retry_with_the_same_key_makes_one_webhook(api, tokens):
    body = {"url": "https://hooks.example.com/retry", "events": ["backup.failed"]}
    key = {"Idempotency-Key": f"hook-{uuid.uuid4().hex}"}
    first = api.call("POST", "/v1/webhooks", token=tokens["admin"], body=body, headers=key)
    again = api.call("POST", "/v1/webhooks", token=tokens["admin"], body=body, headers=key)
    assert (first.status, again.status) == (201, 201)
    assert again.body == first.body and again.headers["idempotent-replayed"] == "true"
    listed = api.call("GET", "/v1/webhooks", token=tokens["admin"]).body["items"]
    assert [h["id"] for h in listed if h["url"] == body["url"]] == [first.body["id"]]
    path = f"/v1/webhooks/{first.body['id']}"
    gone = api.call("DELETE", path, token=tokens["admin"], headers={"Idempotency-Key": "d1"})
    replay = api.call("DELETE", path, token=tokens["admin"], headers={"Idempotency-Key": "d1"})
    assert (gone.status, replay.status) == (204, 204) and replay.body is None
