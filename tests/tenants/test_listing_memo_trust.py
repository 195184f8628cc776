"""`db list` with a damaged or forged memo: the memo may only spare work, never decide the output.

The memo lives on the data volume, which the runtime user (and every addon) can write. A damaged
entry is treated as absent; a memo someone else could have written is not read at all, so the
runtime user cannot make root's `db list` show a state, version or size it made up.
"""

from __future__ import annotations

import json
import math
import os
import pwd
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.postgres.connection import connect
from tests.support.cli import run_cli
from tests.support.memo_damage import drop, replace_entry, set_fields
from tests.tenants.conftest import make_fake_odoo, settle_write_counters

TRUTH = {"state": "ready", "odoo_version": "19.0.1.3"}
INIT_FILE = 256 * 1024  # PostgreSQL's relcache init file comes and goes (see truth_of)
FORGED = {"state": "neutralized", "version": "17.0.1.0", "db_size_bytes": 1}


@pytest.fixture(scope="module")
def quiet_tenant(tsettings: Settings) -> Iterator[str]:
    """A fake tenant nobody writes to (its write counters still)."""
    name = "tn_memo_trust"
    store = make_fake_odoo(tsettings, name, files=1)
    settle_write_counters(tsettings, name)
    old = time.time() - 3600  # its filestore settled: its size is remembered too
    for folder in (store, *store.iterdir()):
        os.utime(folder, (old, old))
    yield name
    databases.drop(tsettings, name)


@pytest.fixture
def listed(tenants_env: dict[str, str], tsettings: Settings, quiet_tenant: str) -> str:
    """The quiet tenant, listed once from no memo: a sound memo holds it."""
    for old in tsettings.state_dir.glob("tenant-list-memo*.json"):
        old.unlink()
    listing(tenants_env)
    return quiet_tenant


def listing(env: dict[str, str], *, fresh: bool = False) -> dict[str, dict[str, Any]]:
    proc = run_cli(env, "db", "list", "--json", *(["--fresh"] if fresh else []))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return {row["name"]: row for row in json.loads(proc.stdout)}


def memo_file(settings: Settings) -> Path:
    """The memo this process's `db list` reads (the one it wrote last)."""
    found = sorted(settings.state_dir.glob("tenant-list-memo*.json"), key=os.path.getmtime)
    assert found, "no db list memo written"
    return found[-1]


def truth_of(row: dict[str, Any], settings: Settings, remembered: int) -> None:
    """row shows the truth: the state and version, and the database size the server gives now
    or the one the sound memo held (a size may be remembered for MAX_AGE).

    "Now" is a moment later than the listing's own measure, and PostgreSQL itself deletes and
    rewrites a file in the database's directory (the relcache init file, ~160 KiB) when a
    catalog changes and the next session starts: seen once in a parallel run (7,889,411 listed,
    8,052,071 before and after). So a size within INIT_FILE of the server's is the truth too;
    every damage tried is far from it (1, -5, 123, 10**40, inf, nan, a string)."""
    assert {k: row[k] for k in TRUTH} == TRUTH
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute("SELECT pg_database_size(%s)", (row["name"],))
        now = cr.fetchone()[0]
    size = row["db_size_bytes"]
    assert type(size) is int and (size == remembered or abs(size - now) <= INIT_FILE), (size, now)


def entry(data: dict[str, Any], name: str) -> dict[str, Any]:
    return data["tenants"][name]


def _whole(value: Any) -> Callable[[dict[str, Any], str], Any]:
    return lambda data, name: value


DAMAGE = {
    "not-an-object": replace_entry("ready"),
    "entry-a-list": replace_entry(["k", "19.0.1.3", "ready", 1]),
    "entry-null": replace_entry(None),
    "entry-a-number": replace_entry(7),
    "missing-state": drop("state"),
    "missing-size": drop("db_size_bytes"),
    "missing-key": drop("key"),
    "missing-version": drop("version"),
    "missing-sized": drop("sized"),
    "missing-users": drop("internal_users"),  # a memo of the version before the count
    "size-a-string": set_fields(db_size_bytes="123"),
    "size-a-bool": set_fields(db_size_bytes=True),
    "size-negative": set_fields(db_size_bytes=-5),
    "size-huge": set_fields(db_size_bytes=10**40),
    "size-infinite": set_fields(db_size_bytes=math.inf),
    "size-nan": set_fields(db_size_bytes=math.nan),
    "size-a-float": set_fields(db_size_bytes=12.5),
    "users-a-string": set_fields(internal_users="3"),
    "users-negative": set_fields(internal_users=-1),
    "users-a-bool": set_fields(internal_users=True),
    "state-a-number": set_fields(state=5),
    "state-unknown": set_fields(state="haunted"),
    "state-unreachable": set_fields(state="unreachable"),
    "version-a-number": set_fields(version=19),
    "version-a-list": set_fields(version=["19.0"]),
    "key-a-number": set_fields(key=7),
    "sized-a-string": set_fields(sized="yesterday"),
    "sized-infinite": set_fields(sized=math.inf),
    "sized-nan": set_fields(sized=math.nan),
    "sized-huge": set_fields(sized=10**400),
    "tenants-a-list": lambda data, name: data.__setitem__("tenants", [data["tenants"][name]]),
    "tenants-a-string": lambda data, name: data.__setitem__("tenants", "x"),
    "filestores-a-list": lambda data, name: data.__setitem__("filestores", [1, 2]),
    "filestore-not-an-object": lambda data, name: data["filestores"].__setitem__(name, "x"),
    "filestore-bytes-a-string": set_fields("filestores", bytes="12"),
    "filestore-bytes-missing": lambda data, name: data["filestores"][name].clear(),
    "filestore-bytes-negative": set_fields("filestores", bytes=-1),
    "filestore-bytes-huge": set_fields("filestores", bytes=1e999),
    "filestore-bytes-a-float": set_fields("filestores", bytes=12.9),
    "filestore-stamp-a-number": set_fields("filestores", stamp=1),
    "memo-a-list": _whole([1, 2, 3]),
    "memo-a-string": _whole("memo"),
    "memo-a-number": _whole(10**400),
    "memo-null": _whole(None),
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_memo_is_absent_where_damaged(tenants_env, tsettings, listed, damage):
    truth = listing(tenants_env)[listed]  # from the memo
    path = memo_file(tsettings)
    data = json.loads(path.read_text())
    remembered = entry(data, listed)["db_size_bytes"]
    changed = damage(data, listed)
    data = data if changed is None else changed
    # json.dumps writes Infinity / NaN, and Python reads them back: the file holds them
    path.write_text(json.dumps(data))
    rows = listing(tenants_env)
    truth_of(rows[listed], tsettings, remembered)
    assert rows[listed]["filestore_bytes"] == truth["filestore_bytes"]
    # and the next listing writes a sound memo again
    truth_of(listing(tenants_env)[listed], tsettings, remembered)


def forge(path: Path, name: str) -> None:
    """The facts of name in the memo at path, made up (its key kept: the counters match)."""
    data = json.loads(path.read_text())
    entry(data, name).update(FORGED)
    path.write_text(json.dumps(data))


def test_the_memo_is_read_while_the_counters_match(tenants_env, tsettings, listed):
    """The premise of the tests below: the memo is reached (the tenant is not asked again), so
    what they forge would show if the memo were trusted. Its own owner trusts it: only cost."""
    listing(tenants_env)
    path = memo_file(tsettings)
    forge(path, listed)
    assert listing(tenants_env)[listed]["state"] == FORGED["state"]
    assert listing(tenants_env, fresh=True)[listed]["state"] == "ready"


@pytest.mark.skipif(os.geteuid() != 0, reason="writing as another user needs root")
def test_a_memo_the_runtime_user_forged_is_not_believed_by_root(tenants_env, tsettings, listed):
    listing(tenants_env)
    path = memo_file(tsettings)
    remembered = entry(json.loads(path.read_text()), listed)["db_size_bytes"]
    forge(path, listed)
    nobody = pwd.getpwnam("nobody")
    os.chown(path, nobody.pw_uid, nobody.pw_gid)  # the runtime user's file at that name
    truth_of(listing(tenants_env)[listed], tsettings, remembered)


@pytest.mark.parametrize("how", ["writable-by-others", "a-link"])
def test_a_memo_others_could_have_written_is_not_believed(
    tenants_env, tsettings, listed, how, tmp_path
):
    listing(tenants_env)
    path = memo_file(tsettings)
    remembered = entry(json.loads(path.read_text()), listed)["db_size_bytes"]
    forge(path, listed)
    if how == "writable-by-others":
        path.chmod(0o666)
    else:
        planted = tmp_path / "planted.json"
        planted.write_text(path.read_text())
        path.unlink()
        path.symlink_to(planted)
    truth_of(listing(tenants_env)[listed], tsettings, remembered)


def test_a_memo_nested_too_deep_for_the_parser_is_absent(tenants_env, tsettings, listed):
    memo_file(tsettings).write_text("[" * 100_000)
    assert listing(tenants_env)[listed]["state"] == "ready"
