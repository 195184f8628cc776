"""Who calls: a bearer token (control.tokens), and whether its scope allows the call.

401 without a token or with a bad, revoked or expired one (and a WWW-Authenticate header); 403
for a live token whose scope is below the call's (read < write < admin). A refused mutating call
leaves a JSON audit line, never the token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from odoo_saas_tools.api import sso
from odoo_saas_tools.api.problems import ApiProblem
from odoo_saas_tools.control import audit, tokens
from odoo_saas_tools.control.tokens import Caller

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="`odoo-saas api token create NAME --scope read|write|admin`",
)
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def caller(scope: str) -> Callable[..., Caller]:
    """A dependency: the caller, with at least scope."""

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Caller:
        settings = request.app.state.settings
        presented = credentials.credentials if credentials else None
        found, why = tokens.authenticate(settings, presented)
        if found is None and presented is None:
            found = sso.operator(settings, request)
        if found is None:
            if request.method in MUTATING:
                audit.line({"audit": "refused", "path": request.url.path, "status": 401})
            raise ApiProblem(401, why, headers={"WWW-Authenticate": 'Bearer realm="odoo-saas"'})
        if not found.allows(scope):
            if request.method in MUTATING:
                refused = {"audit": "refused", "path": request.url.path, "status": 403}
                audit.line({**refused, "token": found.name})
            raise ApiProblem(
                403, f"the token {found.name} has scope {found.scope}; this call needs {scope}"
            )
        return found

    return dependency


read = Depends(caller("read"))
write = Depends(caller("write"))
admin = Depends(caller("admin"))
