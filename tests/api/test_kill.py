"""kill -9 of the API during a create, a restore and a delete: after a restart every job ends
succeeded or failed, no tenant is half-made, nothing is lost (the kill recovery of
control.jobs: the job's own lock tells a lost job, `db sweep` puts its leftovers right)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg2.errors
import pytest

from odoo_saas_tools.catalog import events as catalog_events
from odoo_saas_tools.catalog import store
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.postgres.connection import connect
from tests.conftest import stack_environment
from tests.support.api import ApiServer, make_token
from tests.support.cli import run_cli
from tests.support.pg import PgCluster
from tests.tenants.conftest import make_fake_odoo

# The first run of "Odoo" waits (the API is killed meanwhile); the next ones fail at once.
FAKE_ODOO = """#!/bin/sh
if [ ! -e "{marker}" ]; then echo $$ > "{marker}"; exec sleep 120; fi
exit 1
"""


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A cluster of this module's own: no other API server shares its job queue."""
    pg = PgCluster().init()
    root = tmp_path_factory.mktemp("kill")
    odoo = root / "fake-odoo"
    odoo.write_text(FAKE_ODOO.format(marker=root / "odoo-ran"))
    odoo.chmod(0o755)
    env = stack_environment(pg, root, ODOO_BIN=str(odoo), ODOO_SAAS_ROLE="api")
    store.forget_migrated()
    yield {"pg": pg, "env": env, "root": root, "settings": Settings.from_env(env)}
    store.forget_migrated()
    pg.destroy()


@pytest.fixture
def server(own) -> Iterator[Callable[[], ApiServer]]:
    started: list[ApiServer] = []

    def start() -> ApiServer:
        srv = ApiServer(own["env"], str(own["root"] / "api.log")).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture(scope="module")
def token(own) -> str:
    return make_token(own["env"], "killer", "admin")


def wait_for(condition: Callable[[], object], what: str, timeout: float = 30) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def hidden(settings: Settings, prefix: str) -> list[str]:
    return sorted(databases.comments(settings, prefix))


def leftovers(env: dict) -> list[dict]:
    listed = json.loads(run_cli(env, "db", "list", "--json", "--fresh").stdout)
    return [r for r in listed if r["state"].startswith(("orphaned-", "in-progress-"))]


def job_row(settings: Settings, job_id: str) -> tuple[str, int, str | None]:
    with store.session(settings) as cr:
        cr.execute("SELECT state, attempts, error FROM job WHERE id = %s", (job_id,))
        return cr.fetchone()


@contextlib.contextmanager
def holding_table(pg: PgCluster, db: str) -> Iterator[None]:
    """A superuser's ACCESS EXCLUSIVE lock on db's ir_attachment, so a backup of db waits.

    When the backup already holds the table (its snapshot session, then pg_dump), the lock
    would queue ahead of pg_dump's own request and wait for a session that waits for pg_dump:
    a deadlock PostgreSQL cannot see. So it gives up after a moment and the caller goes on
    with the backup under way, which is as good a moment for the kill."""
    with pg.admin(db) as conn:
        conn.autocommit = False
        with conn.cursor() as cr:
            cr.execute("SET lock_timeout = '2s'")
            try:
                cr.execute("LOCK TABLE ir_attachment IN ACCESS EXCLUSIVE MODE")
            except psycopg2.errors.LockNotAvailable:
                conn.rollback()
            yield
        conn.rollback()


def test_kill_during_a_create_resumes_it_and_it_ends(own, server, token):
    settings, marker = own["settings"], own["root"] / "odoo-ran"
    api = server()
    answer = api.call("POST", "/v1/tenants", token=token, body={"name": "killedcreate"})
    assert answer.status == 202, answer
    job = answer.body["job"]["id"]
    wait_for(marker.exists, "the create to reach Odoo")
    assert job_row(settings, job)[0] == "running"
    api.kill()
    with contextlib.suppress(ProcessLookupError, ValueError):
        os.kill(int(marker.read_text()), signal.SIGKILL)  # the "Odoo" it started
    assert job_row(settings, job)[0] == "running"  # nobody ended it: its process is gone

    again = server()
    ended = again.wait_job(job, token, timeout=60)
    assert ended["state"] == "failed" and "\n" not in ended["error"], ended
    assert ended["attempts"] == 2  # resumed once (the create is resumable), then failed
    assert not databases.exists(settings, "odoo_killedcreate")
    assert hidden(settings, "odoo_saas_newtenant_") == []
    assert leftovers(own["env"]) == []
    assert again.call("GET", "/v1/tenants/killedcreate", token=token).status == 404


def fake_with_backup(own, api: ApiServer, token: str, name: str) -> tuple[str, str]:
    settings = own["settings"]
    db = settings.tenant_db_prefix + name
    make_fake_odoo(settings, db, admin=True)
    job = api.call("POST", f"/v1/tenants/{name}/backups", token=token).body["job"]["id"]
    assert api.wait_job(job, token)["state"] == "succeeded"
    backup = api.call("GET", f"/v1/tenants/{name}/backups", token=token).body["items"][0]["id"]
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute("INSERT INTO ir_attachment (name) VALUES ('made after the backup')")
    return db, backup


def marked(settings: Settings, db: str) -> int:
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute("SELECT count(*) FROM ir_attachment WHERE name = 'made after the backup'")
        return cr.fetchone()[0]


def test_kill_during_a_restore_leaves_the_tenant_as_it_was(own, server, token):
    settings, pg = own["settings"], own["pg"]
    api = server()
    db, backup = fake_with_backup(own, api, token, "killedrestore")
    replaced = settings.backup_dir / "replaced"
    with holding_table(pg, db):  # the replaced tenant's last backup waits for the table
        answer = api.call(
            "POST", "/v1/tenants/killedrestore/restore", token=token, body={"backup": backup}
        )
        assert answer.status == 202, answer
        job = answer.body["job"]["id"]
        wait_for(lambda: hidden(settings, "odoo_saas_restore_"), "the scratch database")
        wait_for(lambda: replaced.is_dir() and any(replaced.iterdir()), "the last backup")
        api.kill()
    assert job_row(settings, job)[0] == "running"

    again = server()
    ended = again.wait_job(job, token, timeout=60)
    assert ended["state"] == "failed" and "\n" not in ended["error"], ended
    assert marked(settings, db) == 1  # as it was before the restore: nothing lost
    assert hidden(settings, "odoo_saas_restore_") == []
    assert hidden(settings, "odoo_saas_replaced_") == []
    assert not [p for p in replaced.iterdir() if p.name.endswith(".partial")]
    assert leftovers(own["env"]) == []
    shown = again.call("GET", "/v1/tenants/killedrestore", token=token).body
    assert shown["state"] == "active" and shown["job"] is None
    with store.session(settings) as cr:  # its end is told (webhooks) as any job's
        told = [e.payload for e in catalog_events.recent(cr, tenant=db) if e.type == "job.failed"]
    assert [(t["job"], t["kind"], t["error"]) for t in told] == [(job, "restore", ended["error"])]


def test_kill_during_a_delete_puts_the_tenant_back_or_finishes(own, server, token):
    settings, pg = own["settings"], own["pg"]
    api = server()
    db, _ = fake_with_backup(own, api, token, "killeddelete")
    with connect(settings, db) as conn, conn.cursor() as cr:  # a last backup that takes a while
        cr.execute(
            "CREATE TABLE bulk AS SELECT md5(i::text) AS v FROM generate_series(1, 200000) i"
        )
    answer = api.call("DELETE", "/v1/tenants/killeddelete", token=token)
    assert answer.status == 202, answer
    job = answer.body["job"]["id"]
    dropping = wait_for(lambda: hidden(settings, "odoo_saas_dropping_"), "the drop's rename")
    with holding_table(pg, dropping[0]):
        api.kill()
    assert job_row(settings, job)[0] == "running"

    again = server()
    ended = again.wait_job(job, token, timeout=60)
    assert ended["state"] in ("succeeded", "failed"), ended
    if ended["state"] == "failed":  # put back as it was
        assert marked(settings, db) == 1
    else:  # dropped, after its last backup
        assert not databases.exists(settings, db)
        assert list((settings.backup_dir / "dropped").glob("odoo_killeddelete_*"))
    assert hidden(settings, "odoo_saas_dropping_") == []
    assert leftovers(own["env"]) == []
    assert not [p for p in Path(settings.backup_dir).rglob("*.partial")]
