"""With real Odoo: spare tenants made by `tenant spares --fill` become tenants Odoo logs in to,
each with its own identity, and are never handed out for another template."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.tenants import filestore, hidden, spares, template_cache
from tests.support.cli import run_cli
from tests.support.users import as_runtime_user
from tests.tenants.conftest import make_fake_odoo
from tests.tenants.test_odoo_tenants import odoo_check, params

pytestmark = [pytest.mark.odoo, pytest.mark.usefixtures("odoo_template")]


def test_provisioning_claims_a_spare_and_its_owner_logs_in(
    odoo_env: dict[str, str], dbname: Callable[[str], str], tmp_path, odoo_template: str
) -> None:
    env = {**odoo_env, "TENANT_DB_PREFIX": "", "PROVISION_SPARES": "2"}
    settings = Settings.from_env(env)
    key = odoo_template.removeprefix(template_cache.PREFIX)
    stale = f"{hidden.SPARE_PREFIX}{'0' * 24}_0badc0de"  # of a template that is gone
    make_fake_odoo(settings, stale)
    names = [dbname("spare1"), dbname("spare2"), dbname("spare3"), dbname("nospare")]
    try:
        fill = run_cli(env, "tenant", "spares", "--fill", "--count", "2", "--json")
        assert fill.returncode == 0, fill.stderr
        filled = json.loads(fill.stdout)
        assert filled["template"] == odoo_template and filled["ready"] == 2
        assert filled["dropped"] == [stale] and not databases.exists(settings, stale)
        assert all(name.startswith(f"{hidden.SPARE_PREFIX}{key}_") for name in filled["made"])

        off = {**env, "PROVISION_SPARES": "0"}  # spares left over, feature off: not used
        plain = run_cli(off, "tenant", "provision", names[3], "--json")
        assert plain.returncode == 0, plain.stderr
        assert json.loads(plain.stdout)["spare"] is None
        assert sorted(spares.ready(settings)) == sorted(filled["made"])

        first = run_cli(env, "tenant", "provision", names[0], "--json")
        assert first.returncode == 0, first.stderr
        one = json.loads(first.stdout)
        assert one["spare"] in filled["made"] and one["admin_password"]
        pw_file = tmp_path / "pw"
        pw_file.write_text("Chosen-At-Signup-7\n")
        second = run_cli(
            env, "tenant", "provision", names[1], "--json", "--admin-password-file", str(pw_file)
        )
        assert second.returncode == 0, second.stderr
        two = json.loads(second.stdout)
        assert two["spare"] in filled["made"] and two["spare"] != one["spare"]
        assert two["admin_password"] is None
        third = run_cli(env, "tenant", "provision", names[2], "--json")  # none left: a copy
        assert third.returncode == 0, third.stderr
        assert json.loads(third.stdout)["spare"] is None
        assert spares.ready(settings) == []

        assert odoo_check(settings, names[0], [("admin", one["admin_password"])])["uids"] == [2]
        checked = odoo_check(
            settings,
            names[1],
            [("admin", "Chosen-At-Signup-7"), ("admin", one["admin_password"])],
        )
        assert checked["uids"] == [2, None]  # the spare's generated password was replaced
        uuids = {params(settings, n)["database.uuid"] for n in names}
        assert len(uuids) == 4  # each its own identity (spares are copies of one template)
        assert {one["uuid"], two["uuid"]} <= uuids
        assert attachments_moved(settings, one["spare"], names[0], one["filestore"])
    finally:
        for name in spares.ready(settings):
            databases.drop(settings, name)
            filestore.remove(settings.filestore(name))
        databases.drop(settings, stale)


def attachments_moved(settings: Settings, spare: str, tenant: str, mode: str) -> bool:
    """The spare's filestore became the tenant's (or the template had none)."""
    if mode == "none":
        return not settings.filestore(tenant).exists()
    return settings.filestore(tenant).is_dir() and not settings.filestore(spare).exists()


def test_the_spares_program_refills_and_stops_cleanly(
    odoo_env: dict[str, str], odoo_template: str
) -> None:
    """`tenant spares --watch` (supervisord's `spares` program) makes the missing spares and,
    stopped with TERM while making one, leaves no half-made spare behind."""
    import signal
    import subprocess
    import sys
    import time

    settings = Settings.from_env(odoo_env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "odoo_saas_tools", "tenant", "spares", "--watch", "--count", "3"],
        env=odoo_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while len(spares.ready(settings, odoo_template)) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert spares.ready(settings, odoo_template), "no spare made within 120 s"
        proc.send_signal(signal.SIGTERM)  # most likely while the second one is being made
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode != 0 and "interrupted" in out, out
        assert not databases.comments(settings, hidden.NEW_SPARE_PREFIX)
        made = spares.ready(settings, odoo_template)
        assert 1 <= len(made) <= 3
        secrets_dir = settings.runtime_dir / spares.SECRETS_DIR
        assert sorted(p.name for p in secrets_dir.iterdir()) == sorted(made)
        assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in secrets_dir.iterdir())
        assert oct(secrets_dir.stat().st_mode & 0o777) == "0o700"
    finally:
        if proc.poll() is None:
            proc.kill()
        fill = run_cli(odoo_env, "tenant", "spares", "--fill", "--count", "0", "--json")
        assert fill.returncode == 0, fill.stderr
        assert spares.ready(settings) == []


def test_signups_served_by_tenant_serve_are_working_tenants(
    odoo_env: dict[str, str], dbname: Callable[[str], str], tmp_path
) -> None:
    """With the signups program (`tenant serve`) running, signups at once run in its forks:
    each claims its own spare, a password file named relative to the caller's directory is
    read there, and the owner logs in with what was shown or chosen."""
    import subprocess
    import sys
    import time
    from concurrent.futures import ThreadPoolExecutor

    env = {**odoo_env, "TENANT_DB_PREFIX": "", "PROVISION_SPARES": "4"}
    settings = Settings.from_env(env)
    names = [dbname(f"served{i}") for i in range(4)]
    (tmp_path / "pw").write_text("Chosen-In-My-Dir-9\n")
    fill = run_cli(env, "tenant", "spares", "--fill", "--json")
    assert fill.returncode == 0, fill.stderr
    user = as_runtime_user()  # root's own signups never go to the server
    server = subprocess.Popen(
        [*user, sys.executable, "-m", "odoo_saas_tools", "tenant", "serve"],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not settings.command_socket.exists():
            assert server.poll() is None and time.monotonic() < deadline, "no server"
            time.sleep(0.05)

        def signup(name: str) -> subprocess.CompletedProcess[str]:
            extra = ["--admin-password-file", "pw"] if name == names[3] else []
            command = [*user, sys.executable, "-m", "odoo_saas_tools", "tenant", "provision", name]
            return subprocess.run(
                [*command, "--json", *extra],
                env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
            )  # fmt: skip

        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(signup, names))
        assert [r.returncode for r in results] == [0, 0, 0, 0], [r.stderr for r in results]
        out = [json.loads(r.stdout) for r in results]
        assert len({o["spare"] for o in out} - {None}) == 4
        assert out[3]["admin_password"] is None
        assert odoo_check(settings, names[0], [("admin", out[0]["admin_password"])])["uids"] == [2]
        assert odoo_check(settings, names[3], [("admin", "Chosen-In-My-Dir-9")])["uids"] == [2]
    finally:
        server.terminate()
        _, log = server.communicate(timeout=30)
        for name in spares.ready(settings):
            databases.drop(settings, name)
            filestore.remove(settings.filestore(name))
    served = [line for line in log.splitlines() if ": exit " in line]
    assert len(served) == 4 and all(": exit 0 in " in line for line in served), log


def test_provisionings_killed_mid_way_are_finished_by_their_retries_and_log_in(
    odoo_env: dict[str, str], dbname: Callable[[str], str], tmp_path, odoo_template: str
) -> None:
    """Issue 26 item 4, with Odoo: one provisioning SIGKILLed after its spare's rename (files
    not moved yet), one without spares after the template's copy (files not copied yet). Neither
    is there to be served; `db sweep`, then the same provisionings again: exit 0, Odoo logs the
    admin in with the chosen password (not the template's admin/admin), each has its own
    identity and the spare's files."""
    from tests.tenants.test_unfinished import CLAIM_STEPS, COPY_STEPS, KILLED, provision

    env = {**odoo_env, "TENANT_DB_PREFIX": "", "PROVISION_SPARES": "1"}
    settings = Settings.from_env(env)
    claimed, copied = dbname("killedclaim"), dbname("killedcopy")
    (tmp_path / "pw").write_text("Chosen-Before-The-Kill-5\n")
    try:
        fill = run_cli(env, "tenant", "spares", "--fill", "--count", "1", "--json")
        assert fill.returncode == 0, fill.stderr
        (spare,) = json.loads(fill.stdout)["made"]
        template_secret = params(settings, spare)["database.secret"]
        files = sorted(p.name for p in settings.filestore(spare).rglob("*") if p.is_file())
        runs = {
            claimed: (env, CLAIM_STEPS["files"]),
            copied: ({**env, "PROVISION_SPARES": "0"}, COPY_STEPS["files"]),
        }
        for name, (run_env, step) in runs.items():
            args = [name, "--json", "--admin-password-file", str(tmp_path / "pw")]
            killed = provision(run_env, None, args, step)
            assert killed.returncode == KILLED, killed.stderr
            assert not databases.exists(settings, name)
        sweep = run_cli(env, "db", "sweep", "--json")
        assert sweep.returncode == 0, sweep.stderr
        for name, (run_env, _step) in runs.items():
            args = [name, "--json", "--admin-password-file", str(tmp_path / "pw")]
            retry = run_cli(run_env, "tenant", "provision", *args)
            assert retry.returncode == 0, retry.stderr
            assert json.loads(retry.stdout)["finished_unfinished"] is (name == claimed)
            assert params(settings, name)["database.secret"] != template_secret
            login = [("admin", "Chosen-Before-The-Kill-5"), ("admin", "admin")]
            assert odoo_check(settings, name, login)["uids"] == [2, None]
        moved = sorted(p.name for p in settings.filestore(claimed).rglob("*") if p.is_file())
        assert moved == files
        assert not any(o.tenant in runs for o in hidden.find(settings))
    finally:
        for name in spares.ready(settings):
            databases.drop(settings, name)
            filestore.remove(settings.filestore(name))
