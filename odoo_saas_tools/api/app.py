"""The control API's application: routes, errors as problem details, the body limit, and the
OpenAPI document (served at /openapi.json, kept in docs/api/openapi.json)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.routing import Route

from odoo_saas_tools import __version__
from odoo_saas_tools.api import (
    domains,
    jobs,
    plans,
    problems,
    sizes,
    tenants,
    tls,
    tokens,
    webhooks,
)
from odoo_saas_tools.api.body_limit import BodyLimit
from odoo_saas_tools.api.console import pages as console_pages
from odoo_saas_tools.api.problems import ApiProblem, Problem
from odoo_saas_tools.core.settings import Settings

log = logging.getLogger(__name__)

TITLE = "odoo-saas control API"
# what every operation may answer besides its success (documented once, for every operation)
ERRORS = {
    400: "the request is malformed",
    401: "no token, or a bad, revoked or expired one",
    403: "the token's scope does not allow this call",
    404: "no such tenant, job or custom domain",
    409: "the tenant exists, another job is queued or running on it (`job`), or a domain's DNS "
    "proof is missing",
    413: "the body is too large",
    422: "a field is wrong (`detail` names it)",
    503: "PostgreSQL or a tool the operation needs failed (one line)",
}


def create_app(settings: Settings, runner: Any = None) -> Any:
    """The ASGI app: FastAPI behind the body limit. runner: the job runner (control.jobs)."""
    app = FastAPI(
        title=TITLE,
        version=__version__,
        description="Tenants, jobs, suspension and plans of an odoo-saas pool (docs/api.md).",
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.runner = runner
    app.include_router(tenants.router)
    app.include_router(jobs.router)
    app.include_router(webhooks.router)
    app.include_router(domains.router)
    app.include_router(sizes.router)
    app.include_router(plans.router)
    app.include_router(tokens.router)
    app.include_router(console_pages.router)  # the hoster's console (docs/console.md)
    # Caddy's on-demand TLS `ask`: no token (Caddy sends none), yes or no only (domains/)
    app.router.routes.insert(
        0, Route(tls.PATH, tls.TlsAsk(settings), methods=["GET", "HEAD"], include_in_schema=False)
    )
    app.add_exception_handler(ApiProblem, _problem)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
    app.openapi = lambda: document(app)  # type: ignore[method-assign]
    guarded = BodyLimit(app)
    guarded.fastapi = app  # type: ignore[attr-defined]
    return guarded


def _problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiProblem)
    return exc.response(request.url.path)


def _invalid(request: Request, exc: Exception) -> JSONResponse:
    """The first error, in one line naming the field: `name: String should match pattern …`."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    where = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(where) or "body"
    if first.get("type") == "json_invalid":
        field = "body"
    message = str(first.get("msg", "is not valid"))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ApiProblem(422, f"{field}: {message}{more}").response(request.url.path)


def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "refused"
    status = exc.status_code if exc.status_code in (404, 405) else 400
    return ApiProblem(status, detail, headers=dict(exc.headers or {})).response(request.url.path)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path)
    return ApiProblem(500, "internal error: see the API's log").response(request.url.path)


def document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document: FastAPI's, with every error answered as a problem detail."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    doc = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = Problem.model_json_schema()
    ref = {"$ref": "#/components/schemas/Problem"}
    for path in doc["paths"].values():
        for operation in path.values():
            responses = operation["responses"]
            for status, why in ERRORS.items():
                responses[str(status)] = {
                    "description": why,
                    "content": {problems.MEDIA_TYPE: {"schema": ref}},
                }
            if status_of_success := [s for s in responses if s.startswith("2")]:
                for success in status_of_success:
                    if success in ("202",):
                        responses[success].setdefault("headers", {})["Location"] = {
                            "description": "the job: /v1/jobs/{id}",
                            "schema": {"type": "string"},
                        }
    doc["paths"] = dict(sorted(doc["paths"].items()))
    app.openapi_schema = doc
    return doc
