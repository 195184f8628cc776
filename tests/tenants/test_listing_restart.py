"""`db list` remembers what it learnt for as long as PostgreSQL's write counters live: over a
clean restart of the server, not over a crash (which discards the counters)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.connection import connect
from tests.conftest import stack_environment
from tests.support.cli import run_cli
from tests.support.pg import PgCluster
from tests.tenants.conftest import make_fake_odoo, settle_write_counters


def test_list_memo_outlives_a_clean_restart_but_not_a_crash(
    make_pg: Callable[[], PgCluster], tmp_path: Path
) -> None:
    cluster = make_pg()
    env = stack_environment(cluster, tmp_path, ODOO_LOG_LEVEL="warn")
    settings = Settings.from_env(env)
    name = "memo_restart"
    make_fake_odoo(settings, name, files=1)
    settle_write_counters(settings, name)

    def state() -> str:
        proc = run_cli(env, "db", "list", "--json")
        assert proc.returncode == 0, proc.stderr
        return {r["name"]: r for r in json.loads(proc.stdout)}[name]["state"]

    assert state() == "ready"
    # From now on the tenant cannot be asked: a listing that shows "ready" did not ask it.
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute(f'ALTER DATABASE "{name}" CONNECTION LIMIT 0')
    assert state() == "ready"
    cluster.stop("fast")
    cluster.start()
    assert state() == "ready"  # the counters, and so the memo, survived the restart
    cluster.stop("immediate")  # a crash: PostgreSQL discards its counters on recovery
    cluster.start()
    assert state() == "unreachable"  # asked again, and the truth shown
