"""The console behind the hoster's own single sign-on: off unless ODOO_SAAS_CONSOLE_SSO_HEADER
is set (docs/console.md).

The proxy signs the operator in and sets that header to their name on every request it
forwards. The API believes it only from a peer in ODOO_SAAS_CONSOLE_SSO_PROXIES and only when no
token is sent; the operator then has ODOO_SAAS_CONSOLE_SSO_SCOPE. Because the proxy adds the
header to whatever the browser sends (a cross-site form too), a mutating call of such an
operator must also carry `X-Odoo-Saas-Console: 1`, a header no other site can make a browser
send here without a CORS preflight, which the API never grants.
"""

from __future__ import annotations

import ipaddress
import re

from fastapi import Request

from odoo_saas_tools.api.problems import ApiProblem
from odoo_saas_tools.control.tokens import Caller
from odoo_saas_tools.core.settings import Settings

CONSOLE_HEADER = "X-Odoo-Saas-Console"
PREFIX = "sso:"
OPERATOR = re.compile(r"[^\x00-\x1f\x7f\s]{1,128}")  # one printable word: an email, a login
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def from_proxy(settings: Settings, request: Request) -> bool:
    """Whether the request's peer is one of the proxies allowed to set the header."""
    if not settings.console_sso_header or request.client is None:
        return False
    try:
        peer = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    return any(peer in net for net in settings.console_sso_networks)


def operator(settings: Settings, request: Request) -> Caller | None:
    """The operator the proxy signed in, or None (mode off, another peer, no header)."""
    if not from_proxy(settings, request):
        return None
    name = request.headers.get(settings.console_sso_header, "").strip()
    if not OPERATOR.fullmatch(name):
        return None
    if request.method in MUTATING and request.headers.get(CONSOLE_HEADER) != "1":
        raise ApiProblem(403, f"a single sign-on call that changes anything needs {CONSOLE_HEADER}")
    return Caller(PREFIX + name, settings.console_sso_scope)
