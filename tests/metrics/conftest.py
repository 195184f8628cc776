"""Fixtures for the exporter: fake Odoo tenant databases, a running exporter, scraping."""

from __future__ import annotations

import base64
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import psycopg2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from tests.support import processes
from tests.support.net import free_port, wait_port
from tests.support.tenants import fake_odoo_tenant, new_database
from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
Samples = dict[tuple[str, frozenset], float]


CRON_TABLE = """CREATE TABLE ir_cron (id serial PRIMARY KEY, cron_name varchar,
    active boolean NOT NULL DEFAULT true, nextcall timestamp NOT NULL)"""


class TenantFactory:
    """Fake Odoo databases (ir_module_module with base 19.0..., ir_cron), made as the odoo role."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.made: list[str] = []

    def _conn(self, dbname: str = "postgres") -> psycopg2.extensions.connection:
        conn = psycopg2.connect(**self.settings.connect_kwargs(dbname))
        conn.autocommit = True
        return conn

    def sql(self, dbname: str, query: str, params: tuple = ()) -> list[tuple]:
        conn = self._conn(dbname)
        try:
            with conn.cursor() as cr:
                cr.execute(query, params)
                return cr.fetchall() if cr.description else []
        finally:
            conn.close()

    def create(self, name: str, *, version: str | None = "19.0.1.3", template: str | None = None):
        self.made.append(name)
        if template or version is None:
            new_database(self.settings, name, template=template)
            return name
        fake_odoo_tenant(
            self.settings,
            name,
            modules=(("base", version, "installed"), ("web", version, "installed")),
            params=None,
            files=0,
            sql=CRON_TABLE,
        )
        return name

    def drop(self, name: str) -> None:
        # Not DROP ... WITH (FORCE): as a non-superuser that fails when an autovacuum worker is in
        # the database ("must be a member of the role whose process is being terminated"); the
        # product's drop terminates the role's own sessions and lets PostgreSQL stop autovacuum.
        databases.drop(self.settings, name)
        if name in self.made:
            self.made.remove(name)

    def drop_all(self) -> None:
        for name in list(self.made):
            self.drop(name)


@pytest.fixture
def prefix() -> str:
    """Unique per test: the shared cluster holds other tests' databases."""
    return f"mt{uuid.uuid4().hex[:8]}"


@pytest.fixture
def metrics_env(saas_env: dict[str, str], prefix: str) -> dict[str, str]:
    """The test's tenants only (dbfilter on its prefix), quick refreshes, a free exporter port."""
    return {
        **saas_env,
        "ODOO_DB_FILTER": f"^{prefix}_.*$",
        "ODOO_METRICS_REFRESH_SECONDS": "1",
        "ODOO_METRICS_PORT": str(free_port()),
        "ODOO_HTTP_PORT": str(free_port()),
    }


@pytest.fixture
def tenants(metrics_env: dict[str, str]) -> Iterator[TenantFactory]:
    factory = TenantFactory(Settings.from_env(metrics_env))
    yield factory
    factory.drop_all()


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def labelled(samples: Samples, name: str, label: str = "database") -> dict[str, float]:
    return {dict(k[1])[label]: v for k, v in samples.items() if k[0] == name}


class Exporter:
    """`odoo-saas metrics serve` in its own process, as supervisord runs it."""

    def __init__(self, env: Mapping[str, str], argv: list[str] | None = None) -> None:
        self.env = dict(env)
        self.port = int(self.env["ODOO_METRICS_PORT"])
        cmd = argv or [sys.executable, "-m", "odoo_saas_tools", "metrics", "serve"]
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            cmd, env=self.env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, text=True
        )
        try:
            wait_port(self.port, 20)
        except TimeoutError:
            self.stop()
            raise AssertionError(f"exporter did not listen:\n{self.output}") from None
        self.output = ""

    def get(self, path: str = "/metrics", auth: tuple[str, str] | None = None):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        return urllib.request.urlopen(req, timeout=10)  # noqa: S310 - http on loopback

    def scrape(self) -> Samples:
        with self.get() as resp:
            return parse(resp.read().decode())

    def wait_for(self, predicate: Callable[[Samples], bool], timeout: float = 30) -> Samples:
        last: list[Samples] = [{}]

        def met() -> Samples | None:
            assert self.proc.poll() is None, f"exporter died:\n{self.stop()}"
            last[0] = self.scrape()
            return last[0] if predicate(last[0]) else None

        return wait_until(
            met, timeout, lambda: f"the condition; last scrape: {last[0]}", interval=0.2
        )

    def stop(self) -> str:
        processes.stop(self.proc)
        self.log.seek(0)
        self.output = self.log.read()
        return self.output


@pytest.fixture
def start_exporter() -> Iterator[Callable[..., Exporter]]:
    started: list[Exporter] = []

    def factory(env: Mapping[str, str], argv: list[str] | None = None) -> Exporter:
        exporter = Exporter(env, argv)
        started.append(exporter)
        return exporter

    yield factory
    for exporter in started:
        exporter.stop()


def watch_looks(monkeypatch) -> list[str]:
    """The names the tenant scans connect to, from now on."""
    from odoo_saas_tools.observability.metrics import tenant_scans

    looked: list[str] = []
    real = tenant_scans.scan_tenant

    def counting(settings: Settings, name: str, key: str | None = None):
        looked.append(name)
        return real(settings, name, key)

    monkeypatch.setattr(tenant_scans, "scan_tenant", counting)
    return looked


def passes_until(scanner, looked: list[str], name: str, wanted: bool) -> dict:
    """Passes until name is (or is not) looked into: counters are published late."""
    deadline = time.monotonic() + 20
    while True:
        looked.clear()
        scans = scanner.scan()
        if (name in looked) is wanted or time.monotonic() > deadline:
            return scans
