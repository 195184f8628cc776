"""/v1/me, /v1/plans and /v1/tokens: what the console asks first, and tokens revoked over HTTP
(never made there: no answer holds a token)."""

from __future__ import annotations

import uuid

from tests.support.api import make_token


def test_me_names_the_caller_and_its_scope(api, tokens):
    for scope in ("read", "write", "admin"):
        me = api.call("GET", "/v1/me", token=tokens[scope])
        assert me.status == 200 and me.body["scope"] == scope, me
        assert me.body["name"].startswith(scope)
        assert me.body["backup_period_seconds"] is None  # scheduled backups are off here
    assert api.call("GET", "/v1/me").status == 401


def test_plans_are_listed_to_any_token(api, tokens):
    plans = api.call("GET", "/v1/plans", token=tokens["read"])
    assert plans.status == 200
    assert [p["name"] for p in plans.body["items"]] == ["default"]
    assert plans.body["items"][0]["max_users"] is None


def test_tokens_are_listed_and_revoked_by_admin_only_and_never_shown(api, api_env, tokens):
    name = f"doomed-{uuid.uuid4().hex[:6]}"
    doomed = make_token(api_env, name, "write")
    assert api.call("GET", "/v1/tokens", token=tokens["write"]).status == 403
    listed = api.call("GET", "/v1/tokens", token=tokens["admin"])
    assert listed.status == 200
    row = next(t for t in listed.body["items"] if t["name"] == name)
    assert row["scope"] == "write" and row["revoked_at"] is None
    assert doomed not in str(listed.body) and "secret" not in str(listed.body)

    path = f"/v1/tokens/{name}/revoke"
    assert api.call("POST", path, token=tokens["write"]).status == 403
    revoked = api.call("POST", path, token=tokens["admin"])
    assert revoked.status == 200 and revoked.body["revoked_at"] is not None, revoked
    assert api.call("GET", "/v1/me", token=doomed).detail == "the token was revoked"
    assert api.call("POST", path, token=tokens["admin"]).status == 404  # no live token so named
    assert api.call("POST", "/v1/tokens/nobody/revoke", token=tokens["admin"]).status == 404
    assert doomed not in api.log()
