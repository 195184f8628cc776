"""The delivery loop in this process against a real receiver and the real catalog: who gets
what (types, subscriptions made later), retries under one webhook-id until accepted, giving
up, redirects not followed, several loops at once delivering once."""

from __future__ import annotations

import dataclasses
import json
import threading
import time

import psycopg2
import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog import webhooks as catalog_webhooks
from odoo_saas_tools.control import events, lifecycle, webhooks
from odoo_saas_tools.control.webhook_delivery import Deliverer
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.connection import connect
from tests.support.receiver import Receiver

FAST = webhooks.Schedule(first=0.2, factor=2, cap=0.5, window=60)


def emit(settings: Settings, kind: str, name: str = "acme") -> str:
    with store.session(settings) as cr:
        return events.emit(cr, kind, f"db_{name}", {"name": name})


def run_until(deliverer: Deliverer, done, turns: int = 200) -> None:
    for _ in range(turns):
        deliverer.turn()
        if done():
            return
        deliverer._stop.wait(0.05)
    raise AssertionError("the deliveries did not end")


def states(settings: Settings, webhook_id: str) -> list[catalog_webhooks.Delivery]:
    return webhooks.deliveries(settings, webhook_id)


def test_500_500_200_is_delivered_once_accepted_under_one_id_signed(wsettings):
    with Receiver([500, 500, 200]) as rx:
        hook, secret = webhooks.subscribe(wsettings, rx.url, ["tenant.suspended"], None)
        event_id = emit(wsettings, events.TENANT_SUSPENDED)
        deliverer = Deliverer(wsettings, schedule=FAST)
        run_until(deliverer, lambda: states(wsettings, hook.id)[0].state != "pending")
        got = rx.wait(3, 5)
        (delivery,) = states(wsettings, hook.id)
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 3, 200)
    assert delivery.event_id == event_id and delivery.delivered_at is not None
    assert len(rx.got) == 3  # nothing after it was accepted
    assert {g.headers["webhook-id"] for g in got} == {event_id}
    for g in got:
        message = Verifier(secret).verify(g.body, g.headers)
        assert message["type"] == "tenant.suspended"
        assert message["data"] == {"database": "db_acme", "name": "acme"}
    assert got[0].body == got[2].body  # the same message on every try


def test_only_the_types_subscribed_and_only_subscriptions_older_than_the_event(wsettings):
    with Receiver([200]) as rx, Receiver([200]) as later:
        hook, _ = webhooks.subscribe(wsettings, rx.url, ["job.failed", "trial.ended"], None)
        emit(wsettings, events.TENANT_SUSPENDED)
        failed = emit(wsettings, events.JOB_FAILED)
        webhooks.subscribe(wsettings, later.url, ["job.failed"], None)
        Deliverer(wsettings, schedule=FAST).turn()
        got = rx.wait(1, 5)
        assert [g.headers["webhook-id"] for g in got] == [failed]
        assert later.got == [] and len(rx.got) == 1
        assert [d.event_type for d in states(wsettings, hook.id)] == ["job.failed"]


def test_a_receiver_that_keeps_failing_is_given_up_at_the_windows_end(wsettings):
    with Receiver([503]) as rx:
        hook, _ = webhooks.subscribe(wsettings, rx.url, ["backup.failed"], None)
        emit(wsettings, events.BACKUP_FAILED)
        short = webhooks.Schedule(first=0.1, factor=2, cap=0.3, window=1.5)
        run_until(
            Deliverer(wsettings, schedule=short),
            lambda: rx.got and (states(wsettings, hook.id)[0].state == "failed"),
        )
        (delivery,) = states(wsettings, hook.id)
    assert delivery.last_status == 503 and delivery.last_error == "HTTP 503"
    assert delivery.attempts == len(rx.got) >= 3


def test_a_redirect_is_not_followed(wsettings):
    with Receiver([200]) as target, Receiver([302], location="") as rx:
        rx.location = target.url
        hook, _ = webhooks.subscribe(wsettings, rx.url, ["quota.exceeded"], None)
        emit(wsettings, events.QUOTA_EXCEEDED)
        Deliverer(wsettings, schedule=FAST).turn()
        (delivery,) = states(wsettings, hook.id)
    assert (delivery.state, delivery.last_status) == ("pending", 302)
    assert "redirects are not followed" in (delivery.last_error or "")
    assert target.got == [] and len(rx.got) == 1


def test_a_receiver_slower_than_the_timeout_is_a_failed_attempt(wsettings):
    with Receiver([200], delay=3) as rx:
        hook, _ = webhooks.subscribe(wsettings, rx.url, ["tenant.deleted"], None)
        emit(wsettings, events.TENANT_DELETED)
        started = time.monotonic()
        Deliverer(wsettings, schedule=webhooks.Schedule(first=60), timeout=0.5).turn()
        waited = time.monotonic() - started
        (delivery,) = states(wsettings, hook.id)
    assert waited < 2, waited
    assert delivery.state == "pending" and delivery.last_status is None
    assert "timed out" in (delivery.last_error or "")


def test_a_receiver_that_is_not_there_is_a_failed_attempt(wsettings):
    with Receiver([200]) as rx:
        url = rx.url
    hook, _ = webhooks.subscribe(wsettings, url, ["tenant.deleted"], None)
    emit(wsettings, events.TENANT_DELETED)
    Deliverer(wsettings, schedule=FAST, timeout=2).turn()
    (delivery,) = states(wsettings, hook.id)
    assert delivery.state == "pending" and delivery.last_status is None
    assert "refused" in (delivery.last_error or "").lower()


def test_several_loops_at_once_deliver_each_event_once(wsettings):
    with Receiver([200]) as rx:
        webhooks.subscribe(wsettings, rx.url, ["tenant.resumed"], None)
        sent = {emit(wsettings, events.TENANT_RESUMED, f"t{n}") for n in range(30)}
        loops = [Deliverer(wsettings, schedule=FAST) for _ in range(4)]
        threads = [threading.Thread(target=d.turn) for d in loops]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        got = rx.wait(30, 10)
    assert sorted(g.headers["webhook-id"] for g in got) == sorted(sent)
    assert len(rx.got) == 30
    assert all(json.loads(g.body)["type"] == "tenant.resumed" for g in got)


def test_odoos_role_reads_no_subscription_and_no_delivery(wsettings):
    webhooks.subscribe(wsettings, "https://hooks.example.com/x", ["job.failed"], None)
    odoo = dataclasses.replace(wsettings, saas_db_password="")  # what Odoo's processes hold
    for table in ("webhook", "delivery", "event"):
        with connect(odoo, store.NAME) as conn, conn.cursor() as cr:
            cr.execute("SELECT current_user")
            assert cr.fetchone() == (wsettings.db_user,)
            with pytest.raises(psycopg2.Error, match="permission denied"):
                cr.execute(f"SELECT * FROM {table}")


def test_a_lifecycle_turn_forgets_old_events_whose_deliveries_ended(wsettings):
    """The outbox does not grow for ever: after EVENTS_KEEP_DAYS an event goes with its
    deliveries once they ended (delivered or given up); one still being delivered stays, and
    so does a recent one."""
    with Receiver([200]) as rx:
        hook, _ = webhooks.subscribe(wsettings, rx.url, ["tenant.suspended"], None)
        delivered = emit(wsettings, events.TENANT_SUSPENDED, "old")
        run_until(Deliverer(wsettings, schedule=FAST), lambda: rx.got)
    pending, recent = (emit(wsettings, events.TENANT_SUSPENDED, n) for n in ("busy", "new"))
    with store.session(wsettings) as cr:
        catalog_webhooks.fan_out(cr, 10)
        cr.execute(
            "UPDATE event SET created_at = now() - interval '100 days' WHERE id = ANY(%s::uuid[])",
            ([delivered, pending],),
        )
    result = lifecycle.tick(wsettings)
    assert result["events_forgotten"] == 1, result
    with store.session(wsettings) as cr:
        cr.execute(
            "SELECT id::text FROM event WHERE id = ANY(%s::uuid[])", ([delivered, pending, recent],)
        )
        left = {row[0] for row in cr.fetchall()}
        cr.execute("SELECT event::text, state FROM delivery WHERE webhook = %s", (hook.id,))
        deliveries = dict(cr.fetchall())
    assert left == {pending, recent}
    assert deliveries == {pending: "pending", recent: "pending"}
