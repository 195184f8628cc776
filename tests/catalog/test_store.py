"""The catalog: made and migrated once by the management role; Odoo's role reads only its
views; no tenant's role may connect."""

from __future__ import annotations

import dataclasses

import psycopg2
import pytest

from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog.schema import MIGRATIONS
from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.connection import connect
from tests.conftest import stack_environment
from tests.support.tenants import new_database


@pytest.fixture
def own(make_pg, tmp_path) -> Settings:
    """A cluster of this test's own: the catalog is made from nothing."""
    store.forget_migrated()
    yield Settings.from_env(stack_environment(make_pg(), tmp_path))
    store.forget_migrated()


def test_made_once_migrated_to_the_last_version_and_read_by_odoo_through_views(own):
    with store.session(own) as cr:
        cr.execute("INSERT INTO tenant (name) VALUES ('acme')")
        store.bump(cr)
    store.forget_migrated()
    with store.session(own) as cr:  # a second process: nothing to do
        cr.execute("SELECT max(version), count(*) FROM schema_version")
        assert cr.fetchone() == (MIGRATIONS[-1][0], len(MIGRATIONS))
        cr.execute("SELECT version FROM change_counter")
        assert cr.fetchone() == (1,)
    odoo = dataclasses.replace(own, saas_db_password="")  # what Odoo's processes hold
    with connect(odoo, store.NAME) as conn, conn.cursor() as cr:
        cr.execute("SELECT current_user")
        assert cr.fetchone() == (own.db_user,)
        cr.execute("SELECT name, state FROM odoo_tenant")
        assert cr.fetchall() == [("acme", "active")]
        with pytest.raises(psycopg2.Error, match="permission denied"):
            cr.execute("SELECT * FROM tenant")


def test_no_tenant_role_may_connect(own):
    new_database(own, "acme")
    store.ensure(own)
    kwargs = {**own.connect_kwargs("acme"), "dbname": store.NAME}
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        psycopg2.connect(**kwargs).close()


def test_without_the_management_role_a_missing_catalog_is_one_line(own):
    observer = dataclasses.replace(own, saas_db_password="")  # what Odoo's processes hold
    with pytest.raises(ConfigError, match="catalog odoo_saas_catalog does not exist yet"):
        store.ensure(observer)


def test_readers_find_no_catalog_without_making_one(own):
    """`db list`, the exporter and a drop read the catalog if there is one: none is made."""
    from odoo_saas_tools.postgres import databases

    with store.existing_session(own) as cr:
        assert cr is None
    assert not databases.exists(own, store.NAME)
    store.ensure(own)
    store.forget_migrated()
    with store.existing_session(own) as cr:
        cr.execute("SELECT count(*) FROM plan")
        assert cr.fetchone() == (0,)
