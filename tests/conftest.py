"""Shared fixtures: real PostgreSQL, real Redis, the CLI, and real Odoo when ODOO_BIN finds it."""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from odoo_saas_tools.core.settings import Settings
from tests.support.cli import base_env
from tests.support.pg import PgCluster
from tests.support.redis import RedisServer

ADMIN_PASSWD = "master-test-secret-91ab"


@pytest.fixture(scope="session")
def pg() -> Iterator[PgCluster]:
    """One cluster shared by the session; tests must not stop it (use make_pg for that)."""
    cluster = PgCluster().init()
    yield cluster
    cluster.destroy()


@pytest.fixture
def make_pg() -> Iterator[Callable[[], PgCluster]]:
    """Clusters of the test's own, which it may stop, break and restart."""
    made: list[PgCluster] = []

    def factory() -> PgCluster:
        cluster = PgCluster().init()
        made.append(cluster)
        return cluster

    yield factory
    for cluster in made:
        cluster.destroy()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


def stack_environment(pg: PgCluster, root: Path, **extra: str) -> dict[str, str]:
    """A complete environment for odoo-saas: the cluster and private directories under root."""
    for name in ("data", "backups", "run", "addons"):
        (root / name).mkdir(exist_ok=True)
    return base_env(
        {
            **pg.env(),
            "ODOO_ADMIN_PASSWD": ADMIN_PASSWD,
            "ODOO_DATA_DIR": str(root / "data"),
            "BACKUP_DIR": str(root / "backups"),
            "ODOO_SAAS_RUNTIME_DIR": str(root / "run"),
            "ODOO_EXTRA_ADDONS": str(root / "addons"),
            "ODOO_SAAS_USER": "root",
            "ODOO_BIN": os.environ.get("ODOO_BIN", "odoo"),
            **extra,
        }
    )


@pytest.fixture
def saas_env(pg: PgCluster, tmp_path: Path) -> dict[str, str]:
    """A complete environment for odoo-saas: the shared cluster and private directories."""
    return stack_environment(pg, tmp_path)


@pytest.fixture
def settings(saas_env: dict[str, str]) -> Settings:
    return Settings.from_env(saas_env)


@functools.cache
def find_odoo() -> str | None:
    """Real Odoo: $ODOO_BIN, else `odoo` on PATH; it must answer --version with 19.0."""
    import subprocess

    candidate = os.environ.get("ODOO_BIN") or "odoo"
    path = shutil.which(candidate)
    if not path:
        return None
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if "19.0" in out.stdout + out.stderr else None


@pytest.fixture(scope="session")
def odoo_bin() -> str:
    path = find_odoo()
    if not path:
        pytest.skip("real Odoo 19 not found (set ODOO_BIN or put odoo on PATH)")
    return path


# The unit tier: pure code, no server, no program started. Every test under tests/unit;
# elsewhere a module (or a test) says so itself with `pytest.mark.unit`.
UNIT_DIRS = ("unit",)
TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that asks for real Odoo (the odoo_bin fixture, maybe through another fixture) is
    marked `odoo`, so `-m "not odoo"` deselects every one of them; the unit tier's directories
    mark theirs `unit`."""
    for item in items:
        if "odoo_bin" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.odoo)
        if item.path.is_relative_to(TESTS) and item.path.relative_to(TESTS).parts[0] in UNIT_DIRS:
            item.add_marker(pytest.mark.unit)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("odoo") and not find_odoo():
        pytest.skip("real Odoo 19 not found (set ODOO_BIN or put odoo on PATH)")
