"""Errors as RFC 9457 problem details (`application/problem+json`): type, title, status, a
one-line detail (naming the field for a validation error) and the request's path as instance."""

from __future__ import annotations

import http
import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from odoo_saas_tools.control.errors import Exists, Held, NotFound
from odoo_saas_tools.core.errors import BusyError, ConfigError, SaasError, first_line
from odoo_saas_tools.domains.dns_check import NotProven
from odoo_saas_tools.domains.manage import NotVerified, Unclaimed

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"


class Problem(BaseModel):
    """What went wrong, in one line."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field("about:blank", description="always about:blank: the status says it all")
    title: str = Field(description="the HTTP status phrase")
    status: int = Field(description="the HTTP status code")
    detail: str = Field(description="one line: what is wrong (and which field)")
    instance: str | None = Field(None, description="the request's path")
    job: str | None = Field(None, description="409: the job queued or running on the tenant")


class ApiProblem(Exception):
    """Answer with this problem."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        job: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = " ".join(detail.split())  # one line, whatever a message held
        self.job = job
        self.headers = headers or {}

    def body(self, instance: str | None) -> dict[str, Any]:
        data = Problem(
            title=http.HTTPStatus(self.status).phrase,
            status=self.status,
            detail=self.detail,
            instance=instance,
            job=self.job,
        ).model_dump()
        return {k: v for k, v in data.items() if v is not None}

    def response(self, instance: str | None) -> JSONResponse:
        return JSONResponse(
            self.body(instance), self.status, headers=self.headers, media_type=MEDIA_TYPE
        )


def from_error(exc: SaasError, field: str | None = None) -> ApiProblem:
    """The status a domain error stands for: 404 none such (a domain no tenant claimed), 409
    exists, busy, or a domain whose DNS proof is missing, 422 bad input, 503 anything else
    (PostgreSQL or DNS away, a tool that failed)."""
    text = first_line(exc)
    if isinstance(exc, (NotFound, Unclaimed)):
        return ApiProblem(404, text)
    if isinstance(exc, Held):
        return ApiProblem(409, text, job=exc.job)
    if isinstance(exc, (Exists, BusyError, NotProven, NotVerified)):
        return ApiProblem(409, text)
    if isinstance(exc, ConfigError):
        return ApiProblem(422, f"{field}: {text}" if field else text)
    log.error("%s", text)
    return ApiProblem(503, text)
