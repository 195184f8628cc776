"""The control API under test: one real server per session on the session's PostgreSQL, its
tokens made with the CLI, fake tenants (no Odoo) made as odoo-saas makes databases, custom
domains verified against the DNS server tests/domains runs (dnsmasq on loopback)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from odoo_saas_tools.catalog import store
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.tenants import filestore
from tests.conftest import stack_environment
from tests.domains.conftest import POOL, POOL_HOST, dnsd
from tests.support.api import ApiServer, make_token
from tests.support.dns import Dnsmasq
from tests.support.pg import PgCluster
from tests.tenants.conftest import make_fake_odoo


@pytest.fixture(scope="session")
def api_env(
    pg: PgCluster, dnsd: Dnsmasq, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    root = tmp_path_factory.mktemp("api")
    # no Odoo: a create that needs a template build fails at once, cleanly
    return stack_environment(
        pg,
        root,
        ODOO_BIN="/bin/false",
        ODOO_SAAS_ROLE="api",
        TENANT_DB_PREFIX="odoo_",
        ODOO_DOMAIN=POOL,
        ODOO_SAAS_POOL_HOST=POOL_HOST,
        ODOO_SAAS_DNS_SERVERS=dnsd.server,
    )


@pytest.fixture(scope="session")
def api_settings(api_env: dict[str, str]) -> Settings:
    store.forget_migrated()
    return Settings.from_env(api_env)


@pytest.fixture(scope="session")
def api(api_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    server = ApiServer(api_env, str(tmp_path_factory.mktemp("api-log") / "api.log")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tokens(api_env: dict[str, str], api: ApiServer) -> dict[str, str]:
    """One token per scope, made once."""
    suffix = uuid.uuid4().hex[:6]
    return {
        scope: make_token(api_env, f"{scope}-{suffix}", scope)
        for scope in ("read", "write", "admin")
    }


@pytest.fixture
def fake_tenant(api_settings: Settings) -> Iterator[Callable[..., str]]:
    """Fake Odoo tenants under the API's prefix: returns the API name; dropped afterwards."""
    made: list[str] = []

    def make(label: str = "t", **kw: object) -> str:
        name = f"{label}{uuid.uuid4().hex[:8]}"
        db = api_settings.tenant_db_prefix + name
        made.append(db)
        make_fake_odoo(api_settings, db, **kw)  # type: ignore[arg-type]
        return name

    yield make
    for db in made:
        databases.drop(api_settings, db)
        filestore.remove(api_settings.filestore(db))


def unique(label: str = "n") -> str:
    return f"{label}{uuid.uuid4().hex[:8]}"


def api_db(settings: Settings, name: str) -> str:
    return settings.tenant_db_prefix + name


def exists(settings: Settings, name: str) -> bool:
    return databases.exists(settings, api_db(settings, name))


__all__ = ["Path", "api_db", "dnsd", "exists", "unique"]
