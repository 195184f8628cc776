"""The webhook delivery loop, run in each API process: events fanned out to the subscriptions
that existed when they were made, then each due delivery POSTed, at least once.

Several API processes share the work through the catalog: an event is fanned out, and a
delivery attempted, by whichever process locks its row first (FOR UPDATE SKIP LOCKED). An
attempt holds its delivery's row lock until its outcome is recorded, so a process killed during
an attempt leaves the delivery pending and due: another process (or the next start) sends it
again, under the same `webhook-id` (the event's id), which is what "at least once" means for a
receiver that must deduplicate.

An attempt is one POST with a short timeout, redirects not followed (a 3xx is a failure: the
subscriber's admin gives the URL that answers); 2xx is delivered, anything else is tried again
on webhooks.Schedule until a day after the event, then `failed`. The clock and the schedule are
given in, so tests need not wait for them.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import psycopg2

from odoo_saas_tools import __version__
from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog import webhooks as catalog_webhooks
from odoo_saas_tools.catalog.webhooks import Due
from odoo_saas_tools.control.webhooks import Schedule, sign
from odoo_saas_tools.core.errors import SaasError, first_line
from odoo_saas_tools.core.settings import Settings

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5.0  # connect, and each read
POLL_SECONDS = 1.0
WORKERS = 4  # attempts at once per process: a slow receiver holds up one of them
FAN_OUT_BATCH = 100
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def body_of(due: Due) -> bytes:
    """The JSON a delivery sends, the same bytes on every attempt (what was signed)."""
    data = {"database": due.tenant, **due.payload}
    message = {"type": due.event_type, "timestamp": due.event_created_at.isoformat(), "data": data}
    return json.dumps(message, sort_keys=True, separators=(",", ":")).encode()


def headers_of(due: Due, body: bytes, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": f"odoo-saas/{__version__}",
        "webhook-id": due.event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(due.secret, due.event_id, timestamp, body),
    }


def post(url: str, headers: dict[str, str], body: bytes, timeout: float) -> tuple[int | None, str]:
    """One POST, no redirect followed: (status or None, what went wrong or '')."""
    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname or "", parts.port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("POST", target, body=body, headers=headers)
        answer = conn.getresponse()  # its body is never read: only the status counts
    except (OSError, http.client.HTTPException) as exc:
        return None, first_line(exc) or type(exc).__name__
    finally:
        conn.close()
    if 200 <= answer.status < 300:
        return answer.status, ""
    if 300 <= answer.status < 400:
        return answer.status, f"HTTP {answer.status}: redirects are not followed"
    return answer.status, f"HTTP {answer.status}"


class Deliverer:
    """The loop: WORKERS threads, each fanning out and attempting due deliveries."""

    def __init__(
        self,
        settings: Settings,
        *,
        schedule: Schedule | None = None,
        clock: Clock = utc_now,
        workers: int = WORKERS,
        poll_seconds: float = POLL_SECONDS,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.settings = settings
        self.schedule = schedule or Schedule()
        self.clock = clock
        self.workers = workers
        self.poll_seconds = poll_seconds
        self.timeout = timeout
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for n in range(self.workers):
            thread = threading.Thread(target=self._loop, name=f"webhooks-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, wait_seconds: float = 2 * TIMEOUT_SECONDS) -> None:
        """No new attempt; one under way may end (else it is sent again by the next start)."""
        self._stop.set()
        deadline = time.monotonic() + wait_seconds
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.turn()
            except (SaasError, psycopg2.Error, OSError) as exc:
                log.error("webhook deliveries: %s", first_line(exc))
            self._stop.wait(self.poll_seconds)

    def turn(self) -> int:
        """Fan out what is new, then attempt what is due until nothing is; attempts made."""
        with store.session(self.settings) as cr:
            while catalog_webhooks.fan_out(cr, FAN_OUT_BATCH) == FAN_OUT_BATCH:
                pass
        made = 0
        while not self._stop.is_set() and self.attempt():
            made += 1
        return made

    def attempt(self) -> bool:
        """One due delivery attempted and its outcome recorded; False when none is due."""
        with store.session(self.settings) as cr:
            due = catalog_webhooks.claim_due(cr, self.clock())
            if due is None:
                return False
            body = body_of(due)
            headers = headers_of(due, body, int(self.clock().timestamp()))
            status, error = post(due.url, headers, body, self.timeout)
            now = self.clock()
            attempts = due.attempts + 1
            following = None
            if error:
                following = self.schedule.next_attempt(due.event_created_at, attempts, now)
                state = "pending" if following is not None else "failed"
                log.warning(
                    "webhook delivery %s (%s), attempt %d: %s%s",
                    due.id,
                    due.event_type,
                    attempts,
                    error,
                    "" if following else ": given up",
                )
            else:
                state = "delivered"
            catalog_webhooks.record(
                cr,
                due.id,
                state=state,
                status=status,
                error=error or None,
                next_attempt_at=following,
                now=now,
            )
        return True
