"""Tenant fixtures: a session-wide data directory (so the template cache survives between
tests), unique database names, fake Odoo databases for the pure-PostgreSQL tests, and ONE real
Odoo template per session when Odoo is installed."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.postgres.connection import connect
from odoo_saas_tools.tenants import filestore
from tests.conftest import stack_environment
from tests.support.pg import PgCluster
from tests.support.tenants import fake_odoo_tenant


@pytest.fixture(scope="session")
def tenants_env(pg: PgCluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One environment for the whole area: shared data dir = shared template cache."""
    root = tmp_path_factory.mktemp("tenants")
    return stack_environment(pg, root, ODOO_LOG_LEVEL="warn")


@pytest.fixture(scope="session")
def tsettings(tenants_env: dict[str, str]) -> Settings:
    return Settings.from_env(tenants_env)


@pytest.fixture
def dbname(tsettings: Settings) -> Iterator[Callable[[str], str]]:
    """Unique database names per test; every one is dropped (with its filestore) afterwards."""
    made: list[str] = []

    def make(label: str = "t") -> str:
        name = f"tn_{label}_{uuid.uuid4().hex[:8]}"
        made.append(name)
        return name

    yield make
    for name in made:
        databases.drop(tsettings, name)
        filestore.remove(tsettings.filestore(name))


# The area's name for the one fake-tenant builder (tests/support/tenants.py); other areas
# import it from here.
make_fake_odoo = fake_odoo_tenant


def settle_write_counters(settings: Settings, name: str) -> None:
    """Leave name's write counters still, so two listings see the same key (db list's memo).

    ANALYZE writes pg_statistic rows, which count as writes: analyze now, so autovacuum has
    nothing left to analyze later (it did, in a loaded CI run). The sessions that made the
    tenant publish their counters when their backends exit, which may be after the client has
    gone: wait for them to end.
    """
    with connect(settings, name) as conn, conn.cursor() as cr:
        cr.execute("VACUUM ANALYZE")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with connect(settings) as conn, conn.cursor() as cr:
            cr.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> "
                "pg_backend_pid()",
                (name,),
            )
            if cr.fetchone()[0] == 0:
                return
        time.sleep(0.05)


@pytest.fixture
def fake_odoo(tsettings: Settings, dbname: Callable[[str], str]) -> Callable[..., str]:
    def make(label: str = "fake", **kw: object) -> str:
        name = dbname(label)
        make_fake_odoo(tsettings, name, **kw)  # type: ignore[arg-type]
        return name

    return make


@pytest.fixture(scope="session")
def odoo_env(tenants_env: dict[str, str], odoo_bin: str) -> dict[str, str]:
    """The area's environment with the real Odoo."""
    return {**tenants_env, "ODOO_BIN": odoo_bin}


@pytest.fixture(scope="session")
def odoo_template(odoo_env: dict[str, str]) -> str:
    """ONE real Odoo database (base) per session: the template cache's entry for base."""
    from odoo_saas_tools.tenants import template_cache

    settings = Settings.from_env(odoo_env)
    with template_cache.checked_out(settings, template_cache.Spec()) as tpl:
        return tpl.name
