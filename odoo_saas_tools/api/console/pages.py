"""/console: the hoster's console, served on the API's port (docs/console.md).

The pages are shells (Jinja, autoescaped): they hold no data and need no token. console.js
reads the token from the tab's sessionStorage (or relies on the single sign-on proxy) and calls
the API's own routes, so every action is the API's, with its scopes and audit. Every answer here
carries a Content-Security-Policy without inline scripts or styles.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Path, Request
from starlette.responses import HTMLResponse, Response

from odoo_saas_tools import __version__
from odoo_saas_tools.api import models

router = APIRouter(prefix="/console", include_in_schema=False)
PACKAGE = resources.files("odoo_saas_tools.api.console")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
STATIC = {"console.js": "text/javascript", "console.css": "text/css"}
PAGES = {"tenants": "Tenants", "plans": "Plans", "webhooks": "Webhooks", "tokens": "Tokens"}
_env = jinja2.Environment(
    loader=jinja2.FunctionLoader(lambda name: (PACKAGE / "templates" / name).read_text()),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
Name = Annotated[str, Path(pattern=models.NAME, min_length=2, max_length=models.NAME_MAX)]


def _page(request: Request, page: str, **context: Any) -> HTMLResponse:
    settings = request.app.state.settings
    html = _env.get_template(f"{page}.html").render(
        page=page,
        pages=PAGES,
        sso=bool(settings.console_sso_header),
        version=__version__,
        **context,
    )
    return HTMLResponse(html, headers=HEADERS)


@router.get("")
def tenants_page(request: Request) -> HTMLResponse:
    return _page(request, "tenants", title="Tenants")


@router.get("/tenants/{name}")
def tenant_page(request: Request, name: Name) -> HTMLResponse:
    return _page(request, "tenant", title=name, tenant=name)


@router.get("/{page}")
def other_page(request: Request, page: str) -> Response:
    if page not in PAGES or page == "tenants":
        return Response("not found", 404, headers=HEADERS, media_type="text/plain")
    return _page(request, page, title=PAGES[page])


@router.get("/static/{file}")
def static(file: str) -> Response:
    """The console's own script and style sheet (no third-party code, no build step)."""
    if file not in STATIC:
        return Response("not found", 404, headers=HEADERS, media_type="text/plain")
    text = (PACKAGE / "static" / file).read_bytes()
    return Response(text, media_type=STATIC[file], headers={**HEADERS, "Cache-Control": "no-cache"})
