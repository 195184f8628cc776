"""With real Odoo (marker odoo): a tenant created from the console becomes active, its job
ends succeeded before the operator's eyes, and the generated admin password is shown once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from odoo_saas_tools.catalog import store
from tests.conftest import stack_environment
from tests.console.conftest import sign_in
from tests.support.api import ApiServer, make_token
from tests.support.pg import PgCluster

pytestmark = pytest.mark.odoo


@pytest.fixture(scope="module")
def real(odoo_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    cluster = PgCluster().init()
    root = tmp_path_factory.mktemp("console-odoo")
    env = stack_environment(
        cluster, root, ODOO_BIN=odoo_bin, ODOO_SAAS_ROLE="api", ODOO_LOG_LEVEL="warn"
    )
    store.forget_migrated()
    server = ApiServer(env, str(root / "api.log")).start()
    try:
        yield f"http://127.0.0.1:{server.port}", make_token(env, "ops", "admin")
    finally:
        server.stop()
        store.forget_migrated()
        cluster.destroy()


def test_a_tenant_created_from_the_console_becomes_active(browser: Browser, real):
    url, token = real
    context = browser.new_context(base_url=url)
    try:
        page = context.new_page()
        sign_in(page, token)
        name = f"odoo{uuid.uuid4().hex[:6]}"
        page.get_by_label("New tenant's name").fill(name)
        page.get_by_role("button", name="Create tenant").click()
        line = page.locator("#create-job .job-line")
        expect(line).to_have_attribute("data-state", "succeeded", timeout=600_000)
        expect(line).to_contain_text("admin password (shown once)")
        row = page.locator("#tenants tbody tr", has=page.get_by_role("link", name=name))
        expect(row).to_contain_text("active")
    finally:
        context.close()
