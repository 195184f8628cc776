"""Webhook fixtures: a PostgreSQL cluster of these tests' own (an API server of another test
directory delivers from the session cluster's catalog: its loop must not take these tests'
deliveries), with odoo-saas's catalog."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from odoo_saas_tools.catalog import store
from odoo_saas_tools.core.settings import Settings
from tests.conftest import stack_environment
from tests.support.pg import PgCluster


@pytest.fixture(scope="session")
def wpg() -> Iterator[PgCluster]:
    cluster = PgCluster().init()
    yield cluster
    store.forget_migrated()
    cluster.destroy()


@pytest.fixture
def wsettings(wpg: PgCluster, tmp_path: Path) -> Settings:
    store.forget_migrated()
    settings = Settings.from_env(stack_environment(wpg, tmp_path, ODOO_LOG_LEVEL="warn"))
    return fresh_catalog(settings)


def fresh_catalog(settings: Settings) -> Settings:
    """The catalog made, without subscriptions or events waiting: each test starts clean."""
    store.forget_migrated()
    store.ensure(settings)
    with store.session(settings) as cr:
        cr.execute("DELETE FROM webhook")
        cr.execute("UPDATE event SET fanned_out = true")
    return settings
