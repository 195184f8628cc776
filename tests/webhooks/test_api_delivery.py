"""Webhooks through the real API server (a subprocess, as `odoo-saas api serve` runs): a
receiver that answers 500 twice, then 200, gets the event accepted once, every try signed and
under one webhook-id, the first retry within 10 s; the API restarted between tries loses
nothing; the ends of jobs (a failed create, a backup) are told too."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from odoo_saas_tools.catalog import store
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from tests.conftest import stack_environment
from tests.support.api import ApiServer, make_token
from tests.support.pg import PgCluster
from tests.support.receiver import Receiver
from tests.tenants.conftest import make_fake_odoo
from tests.webhooks.conftest import fresh_catalog

SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="


@pytest.fixture
def stack(wpg: PgCluster, tmp_path: Path) -> Iterator[dict]:
    env = stack_environment(
        wpg, tmp_path, ODOO_BIN="/bin/false", ODOO_SAAS_ROLE="api", TENANT_DB_PREFIX="odoo_"
    )
    settings = fresh_catalog(Settings.from_env(env))
    servers: list[ApiServer] = []

    def start() -> ApiServer:
        servers.append(ApiServer(env, str(tmp_path / "api.log")).start())
        return servers[-1]

    suffix = uuid.uuid4().hex[:6]
    tenant = f"hook{suffix}"
    make_fake_odoo(settings, "odoo_" + tenant)
    yield {"env": env, "settings": settings, "start": start, "tenant": tenant, "suffix": suffix}
    for server in servers:
        server.stop()
    databases.drop(settings, "odoo_" + tenant)


def test_500_twice_then_200_is_delivered_once_accepted_across_a_restart(stack):
    api = stack["start"]()
    admin = make_token(stack["env"], f"admin-{stack['suffix']}", "admin")
    with Receiver([500, 500, 200]) as rx:
        body = {"url": rx.url, "events": ["tenant.suspended"], "secret": SECRET}
        hook = api.call("POST", "/v1/webhooks", token=admin, body=body)
        assert hook.status == 201, hook
        suspended = api.call(
            "POST", f"/v1/tenants/{stack['tenant']}/suspend", token=admin, body={"reason": "unpaid"}
        )
        assert suspended.status == 200, suspended
        rx.wait(1, 10)
        api.stop()  # SIGTERM between the first try and the retry
        api = stack["start"]()
        got = rx.wait(3, 60)
        time.sleep(1.5)  # nothing more comes once accepted
        assert len(rx.got) == 3
        listed = api.call("GET", "/v1/webhooks", token=admin).body["items"]
    (mine,) = [h for h in listed if h["id"] == hook.body["id"]]
    (delivery,) = mine["deliveries"]
    assert delivery["state"] == "delivered" and delivery["attempts"] == 3
    assert delivery["last_status"] == 200 and delivery["next_attempt_at"] is None
    assert {g.headers["webhook-id"] for g in got} == {delivery["event_id"]}
    for g in got:
        message = Verifier(SECRET).verify(g.body, g.headers)  # an independent check
        assert message["type"] == "tenant.suspended"
        assert message["data"]["name"] == stack["tenant"]
        assert message["data"]["reason"] == "unpaid"
    assert SECRET not in api.log() and SECRET.removeprefix("whsec_") not in api.log()
    first_retry = got[1].at - got[0].at
    print(f"first retry after {first_retry:.1f} s, second after {got[2].at - got[1].at:.1f} s")
    assert first_retry <= 10


def test_the_ends_of_jobs_are_told(stack):
    api = stack["start"]()
    admin = make_token(stack["env"], f"admin-{stack['suffix']}", "admin")
    with Receiver([200]) as rx:
        body = {"url": rx.url, "events": ["job.failed", "backup.succeeded"], "secret": SECRET}
        assert api.call("POST", "/v1/webhooks", token=admin, body=body).status == 201
        backup = api.call("POST", f"/v1/tenants/{stack['tenant']}/backups", token=admin)
        assert api.wait_job(backup.body["job"]["id"], admin)["state"] == "succeeded"
        create = api.call("POST", "/v1/tenants", token=admin, body={"name": "nodoo"})
        assert create.status == 202, create
        failed = api.wait_job(create.body["job"]["id"], admin)  # no Odoo here: it fails
        assert failed["state"] == "failed"
        got = rx.wait(2, 15)
    messages = {m["type"]: m["data"] for m in (json.loads(g.body) for g in got)}
    assert messages["backup.succeeded"]["name"] == stack["tenant"]
    assert messages["backup.succeeded"]["size_bytes"] > 0
    assert messages["job.failed"]["kind"] == "create"
    assert messages["job.failed"]["job"] == failed["id"]
    assert messages["job.failed"]["error"] == failed["error"]


def test_the_api_process_ends_trials_with_a_webhook(wpg, tmp_path):
    """The lifecycle loop runs in `api serve`: a trial whose end passed is suspended and told."""
    plans = tmp_path / "plans.yml"
    plans.write_text("plans:\n  default: {}\n  trial:\n    trial_days: 14\n")
    env = stack_environment(
        wpg,
        tmp_path,
        ODOO_BIN="/bin/false",
        ODOO_SAAS_ROLE="api",
        TENANT_DB_PREFIX="odoo_",
        ODOO_SAAS_PLANS_FILE=str(plans),
        ODOO_SAAS_LIFECYCLE_SECONDS="5",
    )
    settings = fresh_catalog(Settings.from_env(env))
    db = f"odoo_trial{uuid.uuid4().hex[:6]}"
    make_fake_odoo(settings, db)
    with store.session(settings) as cr:
        cr.execute(
            "INSERT INTO tenant (name, plan, trial_ends_at) VALUES (%s, 'trial', now() - "
            "interval '1 minute') ON CONFLICT (name) DO UPDATE SET plan = 'trial', "
            "trial_ends_at = excluded.trial_ends_at",
            (db,),
        )
    api = ApiServer(env, str(tmp_path / "api.log")).start()
    try:
        admin = make_token(env, f"admin-{uuid.uuid4().hex[:6]}", "admin")
        with Receiver([200]) as rx:
            body = {"url": rx.url, "events": ["trial.ended", "tenant.suspended"]}
            secret = api.call("POST", "/v1/webhooks", token=admin, body=body).body["secret"]
            got = rx.wait(2, 30)
        messages = [Verifier(secret).verify(g.body, g.headers) for g in got]
        assert sorted(m["type"] for m in messages) == ["tenant.suspended", "trial.ended"]
        assert all(m["data"]["database"] == db for m in messages)
        shown = api.call("GET", f"/v1/tenants/{db.removeprefix('odoo_')}", token=admin).body
        assert (shown["state"], shown["state_reason"]) == ("suspended", "trial ended")
    finally:
        api.stop()
        databases.drop(settings, db)
