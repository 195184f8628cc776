"""With real Odoo (marker odoo): a create through the API succeeds as `tenant provision` does,
its generated password is handed out once and is the admin's, the tenant shows one active
internal user, and its delete keeps a last backup."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from passlib.context import CryptContext

from odoo_saas_tools.catalog import store
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.postgres.connection import connect
from tests.conftest import stack_environment
from tests.support.api import ApiServer, make_token
from tests.support.pg import PgCluster

ODOO_CRYPT = CryptContext(schemes=["pbkdf2_sha512"])


@pytest.fixture(scope="module")
def real(odoo_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A cluster of its own: no engine-free API server may take its jobs."""
    pg = PgCluster().init()
    root = tmp_path_factory.mktemp("api-odoo")
    env = stack_environment(
        pg, root, ODOO_BIN=odoo_bin, ODOO_SAAS_ROLE="api", ODOO_LOG_LEVEL="warn"
    )
    store.forget_migrated()
    server = ApiServer(env, str(root / "api.log")).start()
    yield {"env": env, "api": server, "settings": Settings.from_env(env)}
    server.stop()
    store.forget_migrated()
    pg.destroy()


def test_a_create_through_the_api_is_a_ready_tenant_and_its_password_is_shown_once(real):
    api, settings = real["api"], real["settings"]
    token = make_token(real["env"], "portal", "write")
    admin = make_token(real["env"], "ops", "admin")
    answer = api.call(
        "POST",
        "/v1/tenants",
        token=token,
        body={"name": "realacme", "admin_login": "boss@acme.test", "country": "BE"},
    )
    assert answer.status == 202, answer
    job = api.wait_job(answer.body["job"]["id"], token, timeout=900)
    assert job["state"] == "succeeded", (job, api.log()[-3000:])
    password = job["result"]["admin_password"]
    assert password and job["result"]["database"] == "odoo_realacme"
    again = api.call("GET", f"/v1/jobs/{job['id']}", token=token).body
    assert "admin_password" not in again["result"]  # shown once
    with connect(settings, "odoo_realacme") as conn, conn.cursor() as cr:
        cr.execute("SELECT password FROM res_users WHERE login = 'boss@acme.test'")
        assert ODOO_CRYPT.verify(password, cr.fetchone()[0])
    shown = api.call("GET", "/v1/tenants/realacme", token=token).body
    assert (shown["state"], shown["db_state"], shown["plan"]) == ("active", "ready", "default")
    assert shown["active_users"] == 1  # the admin; Odoo's templates and public user do not count
    assert shown["created_at"] and shown["database_bytes"] > 0
    deleted = api.call("DELETE", "/v1/tenants/realacme", token=admin)
    ended = api.wait_job(deleted.body["job"]["id"], admin, timeout=300)
    assert ended["state"] == "succeeded" and ended["result"]["backup"], ended
    assert not databases.exists(settings, "odoo_realacme")
