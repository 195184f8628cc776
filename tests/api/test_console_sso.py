"""The console's single sign-on header mode (docs/console.md): off by default; on, the header
names the operator only from a configured proxy, only without a token, and a mutating call so
signed in needs the console's own header (a cross-site form cannot send it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.requests import Request

from odoo_saas_tools.api import sso
from odoo_saas_tools.api.problems import ApiProblem
from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.settings import Settings
from tests.support.api import ApiServer

HEADER = "X-Forwarded-User"
SSO = {"ODOO_SAAS_CONSOLE_SSO_HEADER": HEADER, "ODOO_SAAS_CONSOLE_SSO_SCOPE": "write"}
PROXY = {"ODOO_SAAS_CONSOLE_SSO_PROXIES": "::1"}


@pytest.fixture(scope="module")
def sso_api(api_env, tmp_path_factory) -> Iterator[ApiServer]:
    env = {**api_env, **SSO, "ODOO_SAAS_CONSOLE_SSO_PROXIES": "127.0.0.1/32"}
    server = ApiServer(env, str(tmp_path_factory.mktemp("sso") / "api.log")).start()
    yield server
    server.stop()


def test_off_by_default_the_header_signs_nobody_in(api):
    answer = api.call("GET", "/v1/me", headers={HEADER: "mallory"})
    assert answer.status == 401


def test_from_a_proxy_the_header_is_the_operator_with_the_configured_scope(sso_api, fake_tenant):
    me = sso_api.call("GET", "/v1/me", headers={HEADER: "alice@hoster.test"})
    assert me.status == 200, me
    assert (me.body["name"], me.body["scope"]) == ("sso:alice@hoster.test", "write")
    # a token sent wins: a bad one is refused, whatever the header says
    bad = sso_api.call("GET", "/v1/me", token="osk_nope", headers={HEADER: "alice"})
    assert bad.status == 401
    # a second line or a control character is no operator's name
    assert sso_api.call("GET", "/v1/me", headers={HEADER: "a b"}).status == 401

    name = fake_tenant("sso")
    path = f"/v1/tenants/{name}/suspend"
    forged = sso_api.call("POST", path, body={"reason": "x"}, headers={HEADER: "alice"})
    assert forged.status == 403 and sso.CONSOLE_HEADER in forged.detail
    console = {HEADER: "alice", sso.CONSOLE_HEADER: "1"}
    done = sso_api.call("POST", path, body={"reason": "unpaid"}, headers=console)
    assert done.status == 200 and done.body["state"] == "suspended", done
    # the scope is the configured one: deleting needs admin
    assert sso_api.call("DELETE", f"/v1/tenants/{name}", headers=console).status == 403
    assert sso_api.call("POST", f"/v1/tenants/{name}/resume", headers=console).status == 200


def _request(peer: str, headers: dict[str, str], method: str = "GET") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request(
        {"type": "http", "method": method, "path": "/v1/me", "headers": raw, "client": (peer, 1)}
    )


def test_the_header_from_any_other_peer_is_ignored():
    settings = Settings.from_env({**SSO, "ODOO_SAAS_CONSOLE_SSO_PROXIES": "10.1.0.0/16, ::1"})
    assert sso.operator(settings, _request("10.1.2.3", {HEADER: "bob"})).name == "sso:bob"
    assert sso.operator(settings, _request("::1", {HEADER: "bob"})) is not None
    assert sso.operator(settings, _request("10.2.0.1", {HEADER: "bob"})) is None
    assert sso.operator(settings, _request("10.1.2.3", {})) is None
    with pytest.raises(ApiProblem):
        sso.operator(settings, _request("10.1.2.3", {HEADER: "bob"}, "POST"))


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"ODOO_SAAS_CONSOLE_SSO_HEADER": HEADER}, "needs ODOO_SAAS_CONSOLE_SSO_PROXIES"),
        ({**SSO, "ODOO_SAAS_CONSOLE_SSO_PROXIES": "proxy.local"}, "no address or network"),
        (
            {
                "ODOO_SAAS_CONSOLE_SSO_HEADER": "Authorization",
                "ODOO_SAAS_CONSOLE_SSO_PROXIES": "::1",
            },
            "is not a header a proxy may set",
        ),
    ],
)
def test_a_header_mode_anyone_could_use_is_refused_at_start(env, problem):
    with pytest.raises(ConfigError, match=problem):
        Settings.from_env(env)
