"""Custom domains against real services: the session's PostgreSQL cluster (its catalog) and a
real DNS server on loopback (dnsmasq). Names are unique per test: the catalog is shared."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.postgres.connection import connect
from tests.conftest import stack_environment
from tests.support.dns import Dnsmasq
from tests.support.pg import PgCluster
from tests.support.tenants import fake_odoo_tenant

POOL = "pool.test"
POOL_HOST = "front.hoster.test"


@pytest.fixture(scope="session")
def dnsd() -> Iterator[Dnsmasq]:
    server = Dnsmasq()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def denv(pg: PgCluster, dnsd: Dnsmasq, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("domains")
    return stack_environment(
        pg,
        root,
        ODOO_DOMAIN=POOL,
        TENANT_URL_TEMPLATE="https://{tenant}." + POOL,
        ODOO_SAAS_POOL_HOST=POOL_HOST,
        ODOO_SAAS_DNS_SERVERS=dnsd.server,
    )


@pytest.fixture(scope="session")
def dsettings(denv: dict[str, str]) -> Settings:
    return Settings.from_env(denv)


def make_tenant(settings: Settings, name: str, url: str | None = None) -> None:
    """A fake Odoo tenant (tests/support/tenants.py) whose web.base.url is url, with the table
    a running Odoo's registry watches (a change of web.base.url signals it)."""
    fake_odoo_tenant(
        settings,
        name,
        params={"web.base.url": url or f"https://{name}.{POOL}"},
        files=0,
        sql="CREATE TABLE orm_signaling_stable (id serial PRIMARY KEY)",
    )


def params(settings: Settings, name: str) -> dict[str, str]:
    with connect(settings, name) as conn, conn.cursor() as cr:
        cr.execute("SELECT key, value FROM ir_config_parameter")
        return dict(cr.fetchall())


@pytest.fixture
def tenant(dsettings: Settings) -> Iterator[Callable[[], str]]:
    """tenant() -> a new tenant's name; every one is dropped afterwards."""
    made: list[str] = []

    def make() -> str:
        name = f"t{uuid.uuid4().hex[:10]}"
        make_tenant(dsettings, name)
        made.append(name)
        return name

    yield make
    for name in made:
        databases.drop(dsettings, name)


@pytest.fixture
def domain() -> Callable[[str], str]:
    """domain("erp") -> a name of its own under .test (the catalog outlives the test)."""
    return lambda label="erp": f"{label}.c{uuid.uuid4().hex[:10]}.test"
