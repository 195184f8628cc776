"""The audit trail of the control API: every mutating call, in the catalog and as one JSON log
line (token name, action, tenant, status, result, job, time). Never the token itself, never a
password: only what the caller's name and the outcome say."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from datetime import timezone

import psycopg2.extensions

from odoo_saas_tools.catalog import audit as catalog_audit
from odoo_saas_tools.catalog import store
from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.settings import Settings

log = logging.getLogger(__name__)
_lines = logging.getLogger("odoo_saas.audit")  # one JSON document per line, nothing else


def _line_logger() -> logging.Logger:
    if not _lines.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        _lines.addHandler(handler)
        _lines.propagate = False
        _lines.setLevel(logging.INFO)
    return _lines


def record(
    settings: Settings,
    *,
    token: str | None,
    action: str,
    tenant: str | None,
    status: int,
    result: str,
    job: str | None = None,
    cr: psycopg2.extensions.cursor | None = None,
) -> None:
    """One audit row (in cr's transaction when given) and its JSON line. A failure to write the
    row is logged, never raised: the call it audits has happened."""
    entry = None
    try:
        # in the caller's transaction, or in one of its own (committed at once)
        with contextlib.nullcontext(cr) if cr is not None else store.session(settings) as cr:
            entry = catalog_audit.insert(
                cr, token=token, action=action, tenant=tenant, status=status, result=result, job=job
            )
    except (SaasError, psycopg2.Error) as exc:
        log.error("audit row not written for %s: %s", action, exc)
    line(
        {
            "audit": action,
            "at": (entry.at.astimezone(timezone.utc).isoformat() if entry else None),
            "token": token,
            "tenant": tenant,
            "status": status,
            "result": result,
            "job": job,
        }
    )


def line(data: dict) -> None:
    """One JSON log line (also used for the unauthenticated calls, which get no row)."""
    _line_logger().info(json.dumps(data, sort_keys=True, default=str))
