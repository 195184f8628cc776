"""The exporter's kept scans, damaged or forged: they may spare a look, never decide a figure.

They live on the data volume, which the runtime user (and every addon) can write; root runs
`metrics show` from `docker exec`. A damaged entry is looked into again; a file someone else
could have written is not read.
"""

from __future__ import annotations

import json
import math
import os
import pwd
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.observability.metrics import tenant_scans
from tests.conftest import stack_environment
from tests.metrics.conftest import TenantFactory, passes_until, watch_looks
from tests.support.memo_damage import drop, replace_entry, set_fields, set_top
from tests.support.pg import PgCluster

FORGED = {"version": "17.0.1.0", "nextcalls": []}


@pytest.fixture(scope="module")
def quiet() -> Iterator[tuple[Settings, str]]:
    """A cluster of its own without autovacuum (its ANALYZE counts as a write) and one tenant
    with an overdue scheduled action."""
    cluster = PgCluster().init()
    with cluster.admin() as conn, conn.cursor() as cr:
        cr.execute("ALTER SYSTEM SET autovacuum = off")
        cr.execute("SELECT pg_reload_conf()")
    root = Path(tempfile.mkdtemp(prefix="odoo-saas-scan-trust-"))
    settings = Settings.from_env(stack_environment(cluster, root, ODOO_LOG_LEVEL="warn"))
    factory = TenantFactory(settings)
    name = factory.create("scan_trust")
    factory.sql(name, "INSERT INTO ir_cron (active, nextcall) VALUES (true, '2000-01-01')")
    yield settings, name
    cluster.destroy()


@pytest.fixture
def kept(quiet: tuple[Settings, str], monkeypatch) -> tuple[Settings, str, list[str]]:
    """The tenant scanned until a pass no longer looks into it: its scan is kept on disk."""
    settings, name = quiet
    for old in settings.state_dir.glob("metrics-tenant-scans*.json"):
        old.unlink()
    looked = watch_looks(monkeypatch)
    passes_until(tenant_scans.TenantScanner(settings), looked, name, False)
    assert name not in looked
    return settings, name, looked


def scans_file(settings: Settings) -> Path:
    found = sorted(settings.state_dir.glob("metrics-tenant-scans*.json"), key=os.path.getmtime)
    assert found, "no scans kept"
    return found[-1]


def new_exporter(settings: Settings) -> dict[str, tenant_scans.TenantScan]:
    return tenant_scans.TenantScanner(settings).scan()


def the_truth(scans: dict[str, tenant_scans.TenantScan], name: str) -> None:
    assert scans[name].version == "19.0.1.3" and scans[name].cron_overdue == 1


DAMAGE = {
    "entry-a-string": replace_entry("19.0.1.3"),
    "entry-a-list": replace_entry(["k", "19.0.1.3", []]),
    "entry-null": replace_entry(None),
    "missing-key": drop("key"),
    "missing-version": drop("version"),
    "missing-nextcalls": drop("nextcalls"),
    "version-a-number": set_fields(version=19),
    "nextcalls-a-string": set_fields(nextcalls="946684800"),
    "nextcalls-of-strings": set_fields(nextcalls=["946684800"]),
    "nextcalls-of-bools": set_fields(nextcalls=[True]),
    "nextcall-huge": set_fields(nextcalls=[10**400]),
    "nextcall-infinite": set_fields(nextcalls=[math.inf]),
    "nextcall-nan": set_fields(nextcalls=[math.nan]),
    "key-a-number": set_fields(key=7),
    "tenants-a-list": set_top("tenants", []),
    "tenants-a-string": set_top("tenants", "x"),
    "lifetime-a-list": set_top("lifetime", []),
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_scan_is_looked_into_again(kept, damage):
    settings, name, looked = kept
    path = scans_file(settings)
    data = json.loads(path.read_text())
    damage(data, name)
    path.write_text(json.dumps(data))
    looked.clear()
    the_truth(new_exporter(settings), name)
    assert name in looked


@pytest.mark.parametrize("text", ["[1, 2]", '"x"', "1e999", "null", "[" * 100_000])
def test_a_damaged_file_is_absent(kept, text):
    settings, name, looked = kept
    scans_file(settings).write_text(text)
    looked.clear()
    the_truth(new_exporter(settings), name)
    assert name in looked


def forge(path: Path, name: str) -> None:
    data = json.loads(path.read_text())
    data["tenants"][name].update(FORGED)
    path.write_text(json.dumps(data))


def test_kept_scans_are_read_while_the_counters_match(kept):
    """The premise of the tests below: the kept scan is reached, so a forged one would count
    if it were trusted. Its own owner trusts it: it only spares a look."""
    settings, name, looked = kept
    forge(scans_file(settings), name)
    assert name not in new_exporter(settings)  # "17.0": not an Odoo 19 tenant
    assert name not in looked


@pytest.mark.skipif(os.geteuid() != 0, reason="writing as another user needs root")
def test_scans_the_runtime_user_forged_are_not_believed_by_root(kept):
    settings, name, looked = kept
    path = scans_file(settings)
    forge(path, name)
    nobody = pwd.getpwnam("nobody")
    os.chown(path, nobody.pw_uid, nobody.pw_gid)
    the_truth(new_exporter(settings), name)
    assert name in looked


@pytest.mark.parametrize("how", ["writable-by-others", "a-link"])
def test_scans_others_could_have_written_are_not_believed(kept, how, tmp_path):
    settings, name, looked = kept
    path = scans_file(settings)
    forge(path, name)
    if how == "writable-by-others":
        path.chmod(0o666)
    else:
        planted = tmp_path / "planted.json"
        planted.write_text(path.read_text())
        path.unlink()
        path.symlink_to(planted)
    the_truth(new_exporter(settings), name)
    assert name in looked
