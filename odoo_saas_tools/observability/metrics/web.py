"""Odoo's own health endpoint, `/web/health`, asked over loopback with a hard timeout."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass

from odoo_saas_tools.core.settings import Settings

ANY_ADDRESS = {"", "0.0.0.0", "::", "[::]"}


def odoo_host(settings: Settings) -> str:
    """Where Odoo answers from inside the container: loopback unless bound to one address."""
    iface = settings.http_interface.strip()
    return "127.0.0.1" if iface in ANY_ADDRESS else iface.strip("[]")


@dataclass(frozen=True)
class WebHealth:
    ok: bool
    status: int | None  # HTTP status, None when nothing answered
    detail: str  # a short reason, for one line of output


def web_health(settings: Settings, *, db_status: bool = False, timeout: float = 2.0) -> WebHealth:
    """GET /web/health (with ?db_server_status=1 Odoo also tries to reach PostgreSQL)."""
    path = "/web/health?db_server_status=1" if db_status else "/web/health"
    conn = http.client.HTTPConnection(odoo_host(settings), settings.http_port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "odoo-saas-health"})
        resp = conn.getresponse()
        body = resp.read(4096)
    except TimeoutError:
        return WebHealth(False, None, f"no answer within {timeout:g} s")
    except (OSError, http.client.HTTPException) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return WebHealth(False, None, reason or type(exc).__name__)
    finally:
        conn.close()
    try:
        payload = json.loads(body)
    except ValueError:
        payload = {}
    status = payload.get("status") if isinstance(payload, dict) else None
    if resp.status == 200 and status == "pass":
        return WebHealth(True, resp.status, "pass")
    detail = f"HTTP {resp.status}"
    if status:
        detail += f", status {status}"
    if isinstance(payload, dict) and payload.get("db_server_status") is False:
        detail += ", database unreachable"
    return WebHealth(False, resp.status, detail)
