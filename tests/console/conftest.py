"""The console in a real browser: Playwright driving Debian's chromium (nothing downloaded),
against the real API server on the session's PostgreSQL. One browser per session, one API
server for the module's tests, a fresh browser context (so a fresh sessionStorage) per test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page

from odoo_saas_tools.catalog import store
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.tenants import filestore
from tests.conftest import stack_environment
from tests.support.api import ApiServer, make_token
from tests.support.pg import PgCluster
from tests.tenants.conftest import make_fake_odoo

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


@pytest.fixture(scope="session")
def tokens(console_env: dict[str, str], server: ApiServer) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:6]
    return {
        scope: make_token(console_env, f"console-{scope}-{suffix}", scope)
        for scope in ("read", "write", "admin")
    }


@pytest.fixture
def tenant(console_settings: Settings) -> Iterator[Callable[..., str]]:
    """Fake Odoo tenants (no Odoo needed) under the console's prefix, dropped afterwards."""
    made: list[str] = []

    def make(label: str = "t", **kw: object) -> str:
        name = f"{label}{uuid.uuid4().hex[:6]}"
        db = console_settings.tenant_db_prefix + name
        made.append(db)
        make_fake_odoo(console_settings, db, **kw)  # type: ignore[arg-type]
        return name

    yield make
    for db in made:
        databases.drop(console_settings, db)
        filestore.remove(console_settings.filestore(db))


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
