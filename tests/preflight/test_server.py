"""PostgreSQL reachability, directories, tenants of another Odoo version, the entrypoint's stop."""

from __future__ import annotations

import json
import os
import pwd
import re
from pathlib import Path

import pytest

from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.passwords import hash_password
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.preflight import (
    autoupdate,
    before_start,
    config,
    directories,
    tenant_versions,
)
from odoo_saas_tools.preflight.findings import ERROR, OK, WARNING, Report
from odoo_saas_tools.runtime import render
from tests.preflight.conftest import settings_of, unique, write_addon
from tests.runtime.stack import standin_bin
from tests.support.cli import run_cli
from tests.support.tenants import fake_odoo_tenant


def fake_odoo_db(pg, name: str, version: str) -> None:
    """A database that looks like Odoo's to version detection (table ir_module_module)."""
    settings = Settings.from_env(pg_env(pg))
    fake_odoo_tenant(
        settings, name, modules=(("base", version, "installed"),), params=None, files=0
    )


def pg_env(pg) -> dict[str, str]:
    return {**pg.env(), "ODOO_ADMIN_PASSWD": "x" * 16}


def drop(pg, *names: str) -> None:
    with pg.admin() as conn, conn.cursor() as cr:
        for name in names:
            cr.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_postgres_reachable_then_unreachable_names_host_and_port(make_pg, saas_env):
    cluster = make_pg()
    env = {**saas_env, **cluster.env()}
    s = settings_of(env)
    report = Report()
    assert config.check_postgres(s, report)
    assert report.findings[0].status == OK and "reachable as" in report.findings[0].message
    cluster.stop()
    report = Report()
    assert not config.check_postgres(s, report)
    (finding,) = report.findings
    assert finding.status == ERROR
    assert f"127.0.0.1:{cluster.port}" in finding.message and finding.item.endswith(
        f":{cluster.port}"
    )
    # through the command: exit 1, the item named in the table
    proc = run_cli({**env, "ODOO_BIN": "no-odoo-here-x"}, "preflight")
    assert proc.returncode == 1
    assert re.search(rf"ERROR\s+postgres\s+127\.0\.0\.1:{cluster.port}", proc.stdout)
    assert proc.stdout.rstrip().endswith("start refused")


def test_wrong_password_is_an_error(saas_env):
    report = Report()
    config.check_postgres(settings_of({**saas_env, "ODOO_DB_PASSWORD": "wrong"}), report)
    (error,) = [f for f in report.findings if f.status == ERROR]
    assert error.item == "odoo" and "password authentication failed" in error.message


def test_bad_settings_are_config_errors_exit_2(saas_env):
    proc = run_cli({**saas_env, "ODOO_WORKERS": "many"}, "preflight", "--json")
    assert proc.returncode == 2
    data = json.loads(proc.stdout)
    assert data["findings"][0]["item"] == "ODOO_WORKERS" and data["exit_code"] == 2
    proc = run_cli({**saas_env, "ODOO_ADMIN_PASSWD": "admin"}, "preflight")
    assert proc.returncode == 2
    assert "ODOO_ADMIN_PASSWD must not be 'admin'" in proc.stdout


def test_directories_writable_with_room_or_reported(saas_env, tmp_path):
    s = settings_of(saas_env)
    report = Report()
    directories.check_directories(s, report)
    assert [f.status for f in report.findings] == [OK] * 4
    assert Path(saas_env["ODOO_DATA_DIR"], "filestore").is_dir()  # created like Odoo would
    # a file where the data dir should be; a huge free-space threshold
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    env = {
        **saas_env,
        "ODOO_DATA_DIR": str(blocker / "data"),
        "ODOO_MIN_FREE_DISK_MB": str(10**12),
        "ODOO_AUTO_BACKUP": "true",
    }
    report = Report()
    directories.check_directories(settings_of(env), report)
    statuses = {f.item: f.status for f in report.findings}
    assert statuses[str(blocker / "data")] == ERROR
    assert statuses[saas_env["BACKUP_DIR"]] == WARNING
    assert "ODOO_MIN_FREE_DISK_MB" in report.findings[-1].message


@pytest.mark.skipif(os.geteuid() != 0, reason="judging another user's access needs root")
def test_directories_judged_for_the_runtime_user_when_run_as_root(saas_env, tmp_path):
    data = tmp_path / "root-only"
    data.mkdir(mode=0o700)
    env = {**saas_env, "ODOO_DATA_DIR": str(data), "ODOO_SAAS_USER": "nobody"}
    report = Report()
    directories.check_directories(settings_of(env), report)
    (finding,) = [f for f in report.findings if f.item == str(data)]
    assert finding.status == ERROR and "not writable by nobody" in finding.message
    os.chown(data, pwd.getpwnam("nobody").pw_uid, -1)
    report = Report()
    directories.check_directories(settings_of(env), report)
    assert [f.status for f in report.findings if f.item == str(data)] == [OK]


def test_tenant_of_another_version_is_reported_and_not_served(pg, saas_env):
    old, new, other = unique("pf18"), unique("pf19"), unique("pfzz")
    fake_odoo_db(pg, old, "18.0.1.3")
    fake_odoo_db(pg, new, "19.0.1.3")
    try:
        env = {**saas_env, "ODOO_DB_FILTER": f"^({old}|{new})$"}
        s = settings_of(env)
        report = Report()
        tenants = tenant_versions.scan(s, report, with_state=False)
        assert [t.name for t in tenants] == [new]
        assert report.excluded_tenants == {old: "Odoo 18.0 database"}
        (warning,) = [f for f in report.findings if f.item == old]
        assert warning.status == WARNING and "not served" in warning.message
        serving = tenant_versions.serving_settings(s, report)
        pattern = serving.db_filter.replace("%d", "x")
        assert re.match(pattern, new) and not re.match(pattern, old)
        assert not re.match(pattern, other)  # the original filter still applies
        # auto-update reads more of the tenant: a half-made database is skipped, not a crash
        report = Report()
        assert tenant_versions.scan(s, report, with_state=True) == []
        (skipped,) = [f for f in report.findings if f.item == new]
        assert skipped.status == WARNING and "not inspected" in skipped.message
        # named in ODOO_DB_NAME: the hoster asked for it, so the start is refused
        report = Report()
        asked = settings_of({**saas_env, "ODOO_DB_NAME": old})
        tenant_versions.scan(asked, report, with_state=False)
        assert [f.status for f in report.findings if f.item == old] == [ERROR]
    finally:
        drop(pg, old, new)


def test_exclusion_filter_keeps_host_placeholders():
    s = settings_of({"ODOO_DB_FILTER": "^%d$", "ODOO_ADMIN_PASSWD": "x" * 12})
    pattern = tenant_versions.exclusion_filter(s, ["acme", "old.co"])
    for host_label, db, served in [
        ("acme", "acme", False),
        ("shop", "shop", True),
        ("shop", "acme", False),
        ("old", "old.co", False),
        ("oldxco", "oldxco", True),
    ]:
        assert bool(re.match(pattern.replace("%d", re.escape(host_label)), db)) is served
    open_pattern = tenant_versions.exclusion_filter(settings_of({}), ["acme"])
    assert re.match(open_pattern, "acme2") and not re.match(open_pattern, "acme")


def test_entrypoint_start_stops_on_errors_naming_the_item(saas_env, addons_dir):
    write_addon(addons_dir, "broken_mod", "{'name': ")
    s = settings_of({**saas_env, "ODOO_BIN": "no-odoo-here-x", "ODOO_DB_FILTER": "^none_pf$"})
    with pytest.raises(SaasError) as info:
        before_start(s)
    assert info.value.exit_code == 1
    assert "addons broken_mod" in str(info.value)


def test_entrypoint_renders_the_exclusion(pg, saas_env, addons_dir, tmp_path):
    old, new = unique("pf18"), unique("pf19")
    fake_odoo_db(pg, old, "18.0.1.0")
    fake_odoo_db(pg, new, "19.0.1.0")
    try:
        write_addon(addons_dir, "fine_mod")
        # The start refuses without an Odoo executable; the exclusion needs none: a stand-in.
        env = {
            **saas_env,
            "ODOO_DB_FILTER": f"^({old}|{new})$",
            "ODOO_BIN": str(standin_bin(tmp_path)),
        }
        s = settings_of(env)
        serving = before_start(s)
        assert serving.db_filter != s.db_filter
        conf = Path(saas_env["ODOO_SAAS_RUNTIME_DIR"], "odoo.conf").read_text()
        (line,) = [ln for ln in conf.splitlines() if ln.startswith("dbfilter")]
        assert line == f"dbfilter = {render.odoo_dbfilter(serving)}"
        rendered = line.removeprefix("dbfilter = ")
        assert re.match(rendered, new) and not re.match(rendered, old)
    finally:
        drop(pg, old, new)


def test_entrypoint_command_refuses_the_start_naming_the_item(saas_env, addons_dir):
    write_addon(addons_dir, "broken_mod", "{'name': ")
    env = {**saas_env, "ODOO_DB_FILTER": "^none_pf$"}
    proc = run_cli(env, "entrypoint", timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "odoo-saas: error: pre-flight addons broken_mod:" in proc.stderr
    assert "does not parse" in proc.stderr
    # one-off commands skip the checks, so the deployment can still be inspected
    assert run_cli(env, "entrypoint", "true").returncode == 0


def test_tenant_missing_after_an_interrupted_swap_back_is_restored(pg, saas_env):
    name = unique("pf19")
    fake_odoo_db(pg, name, "19.0.1.0")
    s = settings_of(saas_env)
    snap = autoupdate.snapshot_name(name)
    parked = unique("pf_parked")
    try:
        store = s.filestore(name) / "ab"
        store.mkdir(parents=True)
        (store / "ab12").write_bytes(b"file")
        autoupdate.take_snapshot(s, name, snap)
        assert (s.filestore(snap) / "ab" / "ab12").stat().st_ino == (store / "ab12").stat().st_ino
        # the crash: the tenant was renamed away, the snapshot not yet renamed back
        databases.rename(s, name, parked)
        s.filestore(name).rename(s.filestore(parked))
        report = Report()
        autoupdate.recover_interrupted(s, report)
        assert databases.exists(s, name) and not databases.exists(s, snap)
        assert (s.filestore(name) / "ab" / "ab12").read_bytes() == b"file"
        (finding,) = report.findings
        assert finding.item == name and "restored from its snapshot" in finding.message
        # nothing to do the next time
        report = Report()
        autoupdate.recover_interrupted(s, report)
        assert report.findings == []
    finally:
        drop(pg, name, snap, parked)


def test_a_clear_master_password_file_odoo_can_read_is_an_error(saas_env, tmp_path, monkeypatch):
    """What the chart's upgrade Job (pre-flight, as uid 100) says before any new pod starts."""
    secret = tmp_path / "admin-passwd-hash"
    secret.write_text("clear-master-pw-42")
    secret.chmod(0o444)  # the pod's fsGroup reads its Secret's files
    env = {k: v for k, v in saas_env.items() if k != "ODOO_ADMIN_PASSWD"}
    env["ODOO_ADMIN_PASSWD_FILE"] = str(secret)
    s = settings_of(env)
    monkeypatch.setattr(os, "geteuid", lambda: 100)  # this process as Odoo's user, not root
    report = Report()
    config.check_settings(s, report)
    (finding,) = [f for f in report.findings if f.status == ERROR]
    assert finding.item == "ODOO_ADMIN_PASSWD_FILE" and "clear master password" in finding.message
    for role in ("backup", "metrics"):  # no Odoo there, no database manager to guard
        report = Report()
        config.check_settings(settings_of({**env, "ODOO_SAAS_ROLE": role}), report)
        assert not report.errors
    secret.write_text(hash_password("clear-master-pw-42"))
    report = Report()
    config.check_settings(settings_of(env), report)
    assert not report.errors
