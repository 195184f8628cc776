"""The README's screenshots, taken on the product as it is: a pool of its own (cluster, API
server) with a few tenants in the states an operator meets (plans, a suspension, a tenant over
its storage limit, one never backed up, a custom domain), written to docs/console/."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from odoo_saas_tools.catalog import sizes, store
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.domains import manage
from odoo_saas_tools.postgres.connection import connect
from tests.conftest import stack_environment
from tests.console.conftest import PLANS, sign_in
from tests.support.api import ApiServer, make_token
from tests.support.pg import PgCluster
from tests.tenants.conftest import make_fake_odoo

DOCS = Path(__file__).resolve().parents[2] / "docs" / "console"
# name, plan, filestore files, backed up, suspended because
TENANTS = [
    ("acme", "business", 40, True, None),
    ("globex", "business", 12, True, "Invoice 2026-114 unpaid"),
    ("initech", "starter", 30, True, None),
    ("hooli", "starter", 3, False, None),
    ("umbrella", "default", 8, True, None),
    ("acme-staging", "business", 40, False, None),
]
USERS = {"acme": 18, "globex": 9, "initech": 3, "hooli": 2, "umbrella": 5, "acme-staging": 18}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[tuple[ApiServer, str]]:
    cluster = PgCluster().init()
    try:
        root = tmp_path_factory.mktemp("demo")
        plans = root / "plans.yml"
        plans.write_text(PLANS)
        env = stack_environment(
            cluster,
            root,
            ODOO_BIN="/bin/false",
            ODOO_SAAS_ROLE="api",
            TENANT_DB_PREFIX="demo_",
            ODOO_SAAS_PLANS_FILE=str(plans),
            ODOO_AUTO_BACKUP="true",
            ODOO_SAAS_POOL_HOST="pool.hoster.example",
        )
        settings = Settings.from_env(env)
        for name, _plan, files, _backup, _why in TENANTS:
            make_fake_odoo(settings, "demo_" + name, files=files, admin=True)
            _internal_users(settings, "demo_" + name, USERS[name])
        server = ApiServer(env, str(root / "api.log")).start()
        token = make_token(env, "ops-alice", "admin")
        try:
            _populate(server, token, settings)
            yield server, token
        finally:
            server.stop()
    finally:
        store.forget_migrated()
        cluster.destroy()


def _internal_users(settings: Settings, db: str, count: int) -> None:
    """Odoo's active and share columns and count active internal users (the admin one of them)
    and a portal user, which the users column does not count."""
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute(
            "ALTER TABLE res_users ADD COLUMN active boolean DEFAULT true, "
            "ADD COLUMN share boolean DEFAULT false"
        )
        cr.execute(
            "INSERT INTO res_users (id, login) SELECT 100 + i, 'user' || i "
            "FROM generate_series(1, %s) i",
            (count - 1,),
        )
        cr.execute("INSERT INTO res_users (id, login, share) VALUES (99, 'portal', true)")


def _populate(server: ApiServer, token: str, settings: Settings) -> None:
    plans = [(t[0], t[1]) for t in TENANTS if t[1] != "default"]
    jobs = [
        server.call("PATCH", f"/v1/tenants/{n}", token=token, body={"plan": p}) for n, p in plans
    ]
    for answer in jobs:
        assert answer.status == 202, answer
        job = server.wait_job(answer.body["job"]["id"], token)
        assert job["state"] == "succeeded", job["error"]
    for name, _plan, _files, backup, why in TENANTS:
        if backup:
            answer = server.call("POST", f"/v1/tenants/{name}/backups", token=token, body={})
            job = server.wait_job(answer.body["job"]["id"], token)
        assert job["state"] == "succeeded", job["error"]
        if why:
            suspended = server.call(
                "POST", f"/v1/tenants/{name}/suspend", token=token, body={"reason": why}
            )
            assert suspended.status == 200, suspended
    manage.add(settings, "demo_acme", "erp.acme.example")
    # 29 days of history, as the lifecycle loop samples it once a day (today's is its own)
    today = dt.datetime.now(dt.timezone.utc).date()
    history = [
        sizes.Size(
            "demo_acme",
            today - dt.timedelta(days=ago),
            6_000_000 + 70_000 * (29 - ago),
            2_000_000 + 45_000 * (29 - ago) + (400_000 if ago < 9 else 0),
        )
        for ago in range(29, 0, -1)
    ]
    with store.session(settings) as cr:
        sizes.put(cr, history)


def test_screenshots_of_the_tenants_page_and_a_tenant_page(browser: Browser, demo):
    server, token = demo
    context = browser.new_context(
        base_url=f"http://127.0.0.1:{server.port}", viewport={"width": 1280, "height": 760}
    )
    try:
        page: Page = context.new_page()
        sign_in(page, token)
        expect(page.locator("#count")).to_have_text(f"{len(TENANTS)} of {len(TENANTS)} tenants")
        made = sum((t[1] != "default") + t[3] for t in TENANTS)  # plan changes, backups
        expect(page.locator("#recent-jobs tbody tr")).to_have_count(made)
        DOCS.mkdir(exist_ok=True)
        page.screenshot(path=str(DOCS / "tenants.png"), full_page=True)
        page.locator("#tenants").get_by_role("link", name="acme", exact=True).click()
        expect(page.locator("#backups tbody")).to_contain_text("verified")
        expect(page.locator("#domains tbody")).to_contain_text("erp.acme.example")
        expect(page.locator("#size-chart svg polyline")).to_have_count(2)
        expect(page.locator("#jobs tbody")).to_contain_text("succeeded")
        page.screenshot(path=str(DOCS / "tenant.png"), full_page=True)
    finally:
        context.close()
    for shot in ("tenants.png", "tenant.png"):
        assert (DOCS / shot).stat().st_size > 20_000
