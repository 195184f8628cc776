"""Tenant fixtures: a session-wide data directory (so the template cache survives between
tests), unique database names, fake Odoo databases for the pure-PostgreSQL tests, and ONE real
Odoo template per session when Odoo is installed."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.postgres.connection import connect
from odoo_saas_tools.tenants import filestore
from tests.conftest import stack_environment
from tests.support.pg import PgCluster
from tests.support.tenants import new_database


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


# What tenants.setup writes to: the admin user (password "admin", as in Odoo's templates), its
# partner, the main company and the en_US language, found by their base.* XML ids.
FAKE_ADMIN = """
    CREATE TABLE ir_model_data (id serial PRIMARY KEY, module varchar, name varchar,
                                model varchar, res_id int);
    CREATE TABLE res_partner (id serial PRIMARY KEY, name varchar, complete_name varchar,
                              commercial_company_name varchar, email varchar, lang varchar,
                              tz varchar, country_id int);
    CREATE TABLE res_company (id serial PRIMARY KEY, name varchar, partner_id int,
                              email varchar, currency_id int);
    CREATE TABLE res_users (id serial PRIMARY KEY, login varchar UNIQUE, password varchar,
                            partner_id int, write_date timestamp);
    CREATE TABLE res_lang (id serial PRIMARY KEY, code varchar, active boolean);
    INSERT INTO res_partner (id, name) VALUES (1, 'My Company'), (3, 'Administrator');
    INSERT INTO res_company (id, name, partner_id) VALUES (1, 'My Company', 1);
    INSERT INTO res_users (id, login, password, partner_id) VALUES (2, 'admin', 'admin', 3);
    INSERT INTO ir_model_data (module, name, model, res_id) VALUES
        ('base', 'user_admin', 'res.users', 2), ('base', 'main_company', 'res.company', 1);
    INSERT INTO res_lang (code, active) VALUES ('en_US', true);
"""


def make_fake_odoo(settings: Settings, name: str, *, files: int = 3, admin: bool = False) -> Path:
    """A database that looks like an Odoo 19 tenant to our tools (no Odoo needed); admin: with
    the rows a new tenant's setup writes (tenants.setup)."""
    new_database(settings, name)
    with connect(settings, name) as conn, conn.cursor() as cr:
        cr.execute(
            """
            CREATE TABLE ir_module_module (id serial PRIMARY KEY, name varchar NOT NULL,
                                           state varchar, latest_version varchar);
            INSERT INTO ir_module_module (name, state, latest_version)
                 VALUES ('base', 'installed', '19.0.1.3');
            CREATE TABLE ir_config_parameter (id serial PRIMARY KEY, key varchar UNIQUE NOT NULL,
                value text NOT NULL, create_uid int, write_uid int, create_date timestamp,
                write_date timestamp);
            INSERT INTO ir_config_parameter (key, value) VALUES
                ('database.uuid', 'old-uuid'), ('database.secret', 'old-secret'),
                ('database.create_date', '2020-01-01 00:00:00'),
                ('database.enterprise_code', 'M123'),
                ('database.expiration_date', '2030-01-01 00:00:00'),
                ('database.expiration_reason', 'renewal'),
                ('database.already_linked_subscription_url', 'x'),
                ('database.already_linked_email', 'y'),
                ('web.base.url', 'https://prod.example.com');
            CREATE TABLE ir_attachment (id serial PRIMARY KEY, name varchar,
                                        store_fname varchar, checksum varchar, file_size int);
            """
        )
        if admin:
            cr.execute(FAKE_ADMIN)
        store = settings.filestore(name)
        for i in range(files):
            data = f"attachment {i} of {name}".encode()
            sha = hashlib.sha1(data, usedforsecurity=False).hexdigest()
            (store / sha[:2]).mkdir(parents=True, exist_ok=True)
            (store / sha[:2] / sha).write_bytes(data)
            cr.execute(
                "INSERT INTO ir_attachment (name, store_fname, checksum, file_size) "
                "VALUES (%s, %s, %s, %s)",
                (f"file{i}", f"{sha[:2]}/{sha}", sha, len(data)),
            )
    return store


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
