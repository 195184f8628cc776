"""Errors of the control plane that the API answers with their own status (404, 409)."""

from __future__ import annotations

from odoo_saas_tools.core.errors import EXIT_BUSY, EXIT_UNCHANGED, SaasError


class NotFound(SaasError):
    """No such tenant, job or token."""

    exit_code = EXIT_UNCHANGED


class Exists(SaasError):
    """The tenant (or token) to be made exists already."""

    exit_code = EXIT_UNCHANGED


class Held(SaasError):
    """Another job is queued or running on the tenant: one operation at a time."""

    exit_code = EXIT_BUSY

    def __init__(self, tenant: str, job: str) -> None:
        super().__init__(f"{tenant} is busy: job {job} is queued or running on it")
        self.tenant = tenant
        self.job = job
