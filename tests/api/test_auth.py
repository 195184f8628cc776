"""Tokens: 401 without one or with a bad, revoked or expired one, 403 below the call's scope,
stored hashed, compared in constant time, never logged."""

from __future__ import annotations

import json
import secrets
import statistics
import time

from odoo_saas_tools.catalog import store
from tests.support.api import make_token
from tests.support.cli import run_cli


def test_no_token_or_a_bad_one_is_401_with_a_bearer_challenge(api, tokens):
    lookup = tokens["read"].split("_")[1]
    for presented in (
        None,
        "",
        "not-a-token",
        f"osk_{lookup}_{'A' * 43}",  # the right lookup, a wrong secret
        tokens["read"] + "x",
        f"Basic {tokens['read']}",
    ):
        headers = {}
        if presented is not None:
            headers["Authorization"] = (
                presented if presented.startswith("Basic") else f"Bearer {presented}"
            )
        answer = api.call("GET", "/v1/tenants", headers=headers)
        assert answer.status == 401, (presented, answer)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert answer.body["status"] == 401 and "\n" not in answer.body["detail"]


def test_a_revoked_token_stops_at_once(api, api_env):
    token = make_token(api_env, "revoke-me", "read")
    assert api.call("GET", "/v1/tenants", token=token).status == 200
    assert run_cli(api_env, "api", "token", "revoke", "revoke-me").returncode == 0
    answer = api.call("GET", "/v1/tenants", token=token)
    assert answer.status == 401 and "revoked" in answer.detail
    again = run_cli(api_env, "api", "token", "revoke", "revoke-me")
    assert again.returncode == 3 and "no live token" in again.stderr


def test_an_expired_token_is_401(api, api_env, api_settings):
    token = make_token(api_env, "short-lived", "read", "--expires", "1")
    assert api.call("GET", "/v1/tenants", token=token).status == 200
    with store.session(api_settings) as cr:
        cr.execute(
            "UPDATE api_token SET expires_at = now() - interval '1 second' "
            "WHERE name = 'short-lived'"
        )
    answer = api.call("GET", "/v1/tenants", token=token)
    assert answer.status == 401 and "expired" in answer.detail


def test_a_scope_below_the_call_is_403_and_nothing_runs(api, tokens, fake_tenant):
    name = fake_tenant("scope")
    refused = [
        ("POST", "/v1/tenants", "read", {"name": "scopeprobe"}),
        ("POST", f"/v1/tenants/{name}/suspend", "read", {"reason": "unpaid"}),
        ("DELETE", f"/v1/tenants/{name}", "write", None),
        ("POST", f"/v1/tenants/{name}/restore", "write", {"backup": "local:x.zip"}),
    ]
    for method, path, scope, body in refused:
        answer = api.call(method, path, token=tokens[scope], body=body)
        assert answer.status == 403, (method, path, answer)
        assert scope in answer.detail and "\n" not in answer.detail
    shown = api.call("GET", f"/v1/tenants/{name}", token=tokens["read"]).body
    assert shown["state"] == "active" and shown["job"] is None
    assert api.call("GET", "/v1/jobs?tenant=scopeprobe", token=tokens["read"]).body["items"] == []


def test_tokens_are_stored_hashed_listed_without_secret_and_never_logged(
    api, api_env, api_settings, tokens
):
    listed = json.loads(run_cli(api_env, "api", "token", "list", "--json").stdout)
    assert {s for t in listed for s in [t["scope"]]} >= {"read", "write", "admin"}
    fields = {"name", "scope", "created_at", "expires_at", "revoked_at", "last_used_at"}
    assert all(set(t) == fields for t in listed)
    text = json.dumps(listed)
    with store.session(api_settings) as cr:
        cr.execute("SELECT string_agg(encode(secret_sha256, 'hex') || lookup, '') FROM api_token")
        stored = cr.fetchone()[0]
    for token in tokens.values():
        secret = token.rsplit("_", 1)[1]
        assert secret not in text and secret not in stored
        assert secret not in api.log()
    taken = run_cli(
        api_env, "api", "token", "create", sorted(tokens.values())[0][:3], "--scope", "x"
    )
    assert taken.returncode == 2  # argparse: the scope is one of read, write, admin
    again = run_cli(api_env, "api", "token", "create", listed[0]["name"], "--scope", "read")
    assert again.returncode == 3 and "exists already" in again.stderr


def test_a_wrong_token_and_a_right_lookup_cost_the_same(api, tokens):
    """Constant time: medians of many interleaved attempts of a token whose lookup exists
    (wrong secret) and one whose lookup does not differ by less than the noise of a call."""
    lookup = tokens["admin"].split("_")[1]
    right_lookup = f"osk_{lookup}_{secrets.token_urlsafe(32)}"
    unknown = f"osk_{secrets.token_hex(8)}_{secrets.token_urlsafe(32)}"
    samples: dict[str, list[float]] = {"right": [], "unknown": []}
    for _ in range(20):  # warm up connections and caches
        api.call("GET", "/v1/jobs?limit=1", token=unknown)
    for _ in range(150):
        for label, token in (("right", right_lookup), ("unknown", unknown)):
            started = time.perf_counter()
            answer = api.call("GET", "/v1/jobs?limit=1", token=token)
            samples[label].append(time.perf_counter() - started)
            assert answer.status == 401
    right, unknown_median = (statistics.median(samples[k]) for k in ("right", "unknown"))
    # each attempt is compared with its neighbour of the other kind (paired, so the load of a
    # shared machine, which drifts over the run, falls out of the difference)
    pairs = zip(samples["right"], samples["unknown"], strict=True)
    paired = statistics.median(r - u for r, u in pairs)
    print(
        f"median right lookup {right * 1000:.2f} ms, unknown {unknown_median * 1000:.2f} ms, "
        f"paired difference {paired * 1000:.3f} ms"
    )
    assert abs(paired) < max(0.0005, 0.1 * min(right, unknown_median))
