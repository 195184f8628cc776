"""Control-plane fixtures: an environment with a plans file and no tenant prefix, fake Odoo
tenants (no Odoo needed), and reading the catalog's rows and events back."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from odoo_saas_tools.catalog import events as catalog_events
from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog import tenants as catalog_tenants
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.tenants import filestore
from tests.conftest import stack_environment
from tests.support.pg import PgCluster
from tests.tenants.conftest import make_fake_odoo

PLANS = """
plans:
  default: {}
  trial:
    trial_days: 14
  small:
    max_users: 2
    max_storage_mb: 16
  strict:
    max_storage_mb: 16
    suspend_over_storage: true
  big:
    max_users: 50
    max_storage_mb: 100000
  crm:
    modules: [crm]
  belgian:
    modules: [crm]
    lang: fr_BE
    country: BE
    trial_days: 30
"""


@pytest.fixture
def cenv(pg: PgCluster, tmp_path: Path) -> dict[str, str]:
    plans = tmp_path / "plans.yml"
    plans.write_text(PLANS)
    return stack_environment(
        pg, tmp_path, TENANT_DB_PREFIX="", ODOO_SAAS_PLANS_FILE=str(plans), ODOO_LOG_LEVEL="warn"
    )


@pytest.fixture
def csettings(cenv: dict[str, str]) -> Settings:
    return Settings.from_env(cenv)


@pytest.fixture
def tenant(csettings: Settings) -> Iterator[Callable[..., str]]:
    """Fake Odoo tenants (dropped afterwards, with their catalog rows)."""
    made: list[str] = []

    def make(label: str = "t", **kw: object) -> str:
        name = f"ct_{label}_{uuid.uuid4().hex[:8]}"
        made.append(name)
        make_fake_odoo(csettings, name, **kw)  # type: ignore[arg-type]
        return name

    yield make
    for name in made:
        databases.drop(csettings, name)
        filestore.remove(csettings.filestore(name))
    with store.session(csettings) as cr:
        for name in made:
            catalog_tenants.delete(cr, name)


def row(settings: Settings, name: str) -> catalog_tenants.Row | None:
    with store.session(settings) as cr:
        return catalog_tenants.get(cr, name)


def events_of(settings: Settings, name: str) -> list[tuple[str, dict]]:
    """name's events, oldest first: (type, payload)."""
    with store.session(settings) as cr:
        found = catalog_events.recent(cr, tenant=name)
    return [(e.type, e.payload) for e in reversed(found)]


def counter(settings: Settings) -> int:
    with store.session(settings) as cr:
        cr.execute("SELECT version FROM change_counter")
        return cr.fetchone()[0]
