"""500 tenants: the table renders them within a second (sorted, filtered, 100 rows a page).

Its own API server and PostgreSQL cluster: 500 real databases, copies of one fake Odoo tenant,
each with its own role (as odoo-saas makes them, so a listing reads what its memo kept)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from odoo_saas_tools.catalog import store
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import copies
from odoo_saas_tools.postgres.connection import connect
from tests.conftest import stack_environment
from tests.console.conftest import sign_in
from tests.support.api import ApiServer, make_token
from tests.support.pg import PgCluster
from tests.tenants.conftest import make_fake_odoo

COUNT = 500
GOAL_SECONDS = 1.0


@pytest.fixture(scope="module")
def many(tmp_path_factory) -> Iterator[tuple[ApiServer, str]]:
    """A cluster of its own (thrown away whole: dropping 500 databases takes a minute)."""
    cluster = PgCluster().init()
    try:
        root = tmp_path_factory.mktemp("many")
        env = stack_environment(
            cluster, root, ODOO_BIN="/bin/false", ODOO_SAAS_ROLE="api", TENANT_DB_PREFIX="many_"
        )
        settings = Settings.from_env(env)
        make_fake_odoo(settings, "many_source", files=1)
        started = time.monotonic()
        with connect(settings) as conn:
            conn.autocommit = True
            with conn.cursor() as cr:
                for i in range(COUNT - 1):
                    name = f"many_t{i:03d}"
                    # a small database: copying its files beats writing them to the WAL
                    cr.execute(f'CREATE DATABASE "{name}" TEMPLATE many_source STRATEGY FILE_COPY')
                    copies.hand_over_copy(settings, "many_source", name, conn=conn)
        print(f"{COUNT} tenant databases made in {time.monotonic() - started:.1f} s")
        server = ApiServer(env, str(root / "api.log")).start()
        try:
            yield server, make_token(env, "many", "read")
        finally:
            server.stop()
    finally:
        store.forget_migrated()
        cluster.destroy()


def test_five_hundred_tenants_render_within_a_second(page: Page, many):
    server, token = many
    listed = server.call("GET", "/v1/tenants?limit=500", token=token)  # warm: db list's memo
    assert listed.status == 200 and listed.body["total"] == COUNT, listed
    sign_in(page, token, f"http://127.0.0.1:{server.port}/console")
    expect(page.locator("#count")).to_have_text(f"{COUNT} of {COUNT} tenants", timeout=30_000)
    timings = []
    for _ in range(3):
        started = time.monotonic()
        page.reload()
        expect(page.locator("#count")).to_have_text(f"{COUNT} of {COUNT} tenants")
        expect(page.locator("#tenants tbody tr")).to_have_count(100)
        timings.append(time.monotonic() - started)
    best = min(timings)
    shown = ", ".join(f"{t:.2f} s" for t in timings)
    print(f"{COUNT} tenants, from navigation to the rendered table: {shown}")
    assert best <= GOAL_SECONDS, timings
    # sorting and filtering stay on the page: no reload, no second listing
    started = time.monotonic()
    page.get_by_role("button", name="Size").click()
    page.get_by_label("Filter", exact=True).fill("t1")
    expect(page.locator("#count")).to_have_text(f"100 of {COUNT} tenants")
    assert time.monotonic() - started <= GOAL_SECONDS
    assert page.problems == []
