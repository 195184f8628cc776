"""The console in a real browser: Playwright driving Debian's chromium (nothing downloaded),
against the real API server on the session's PostgreSQL. One browser per session, one API
server for the module's tests, a fresh browser context (so a fresh sessionStorage) per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page

from odoo_saas_tools.catalog import store
from odoo_saas_tools.core.settings import Settings
from tests.api.conftest import fake_tenant, tokens
from tests.conftest import stack_environment
from tests.support.api import ApiServer
from tests.support.pg import PgCluster

CHROMIUM = Path("/usr/bin/chromium")
PLANS = """\
plans:
  default: {}
  starter: {max_users: 3, max_storage_mb: 1}
  business: {max_users: 25, max_storage_mb: 20480, trial_days: 14}
"""

if not CHROMIUM.exists():  # CI installs it (.ci/run); nothing is downloaded
    pytest.skip(
        "chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)",
        allow_module_level=True,
    )


@pytest.fixture(scope="session")
def console_pg() -> Iterator[PgCluster]:
    """A cluster of its own: API servers on one cluster share its job queue, and another
    test directory's server (another BACKUP_DIR) must not take the console's jobs."""
    cluster = PgCluster().init()
    yield cluster
    store.forget_migrated()
    cluster.destroy()


@pytest.fixture(scope="session")
def console_env(console_pg: PgCluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("console")
    plans = root / "plans.yml"
    plans.write_text(PLANS)
    return stack_environment(
        console_pg,
        root,
        ODOO_BIN="/bin/false",
        ODOO_SAAS_ROLE="api",
        TENANT_DB_PREFIX="cons_",
        ODOO_SAAS_PLANS_FILE=str(plans),
    )


@pytest.fixture(scope="session")
def console_settings(console_env: dict[str, str]) -> Settings:
    store.forget_migrated()
    return Settings.from_env(console_env)


@pytest.fixture(scope="session")
def server(
    console_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    log = tmp_path_factory.mktemp("console-log") / "api.log"
    api = ApiServer(console_env, str(log)).start()
    yield api
    api.stop()


# the API tests' `tokens` and `fake_tenant`, over the console's own pool
@pytest.fixture(scope="session")
def api_env(console_env: dict[str, str]) -> dict[str, str]:
    return console_env


@pytest.fixture(scope="session")
def api_settings(console_settings: Settings) -> Settings:
    return console_settings


@pytest.fixture(scope="session")
def api(server: ApiServer) -> ApiServer:
    return server


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, server: ApiServer) -> Iterator[Any]:
    context = browser.new_context(
        base_url=f"http://127.0.0.1:{server.port}", viewport={"width": 1360, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: problems.append(msg.text) if _counts(msg) else None)
    page.problems = problems  # type: ignore[attr-defined]
    yield page
    context.close()


def _counts(msg: ConsoleMessage) -> bool:
    """A console error worth failing on: any but a fetch's 4xx (the console shows those)."""
    return msg.type == "error" and not msg.text.startswith("Failed to load resource")


def sign_in(page: Page, token: str, path: str = "/console") -> None:
    """Through the sign-in form, as an operator does."""
    page.goto(path)
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#who-name").wait_for()


__all__ = ["fake_tenant", "tokens"]
