"""`odoo-saas entrypoint COMMAND`: renders, then runs the command; refuses a bad start early."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.net import free_port

PRINT_ENV = """#!{python}
import json, os, sys
print(json.dumps({{"argv": sys.argv[1:], "env": dict(os.environ), "uid": os.getuid()}}))
"""


@pytest.fixture
def fake_odoo_dir() -> Path:
    """An `odoo` on PATH that reports how it was called (reachable by an unprivileged user)."""
    bindir = Path(tempfile.mkdtemp(prefix="odoo-saas-bin-"))
    bindir.chmod(0o755)
    script = bindir / "odoo"
    script.write_text(PRINT_ENV.format(python=sys.executable))
    script.chmod(0o755)
    yield bindir
    shutil.rmtree(bindir)


def test_a_given_odoo_command_runs_with_the_rendered_config_and_a_clean_env(
    saas_env, fake_odoo_dir
):
    env = {
        **saas_env,
        "PATH": f"{fake_odoo_dir}:{saas_env['PATH']}",
        "PGPASSWORD": "leak-me",
        "ODOO_WORKERS": "2",
    }
    proc = run_cli(env, "entrypoint", "odoo", "--version")
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen["argv"] == ["--version"]
    runtime = Path(saas_env["ODOO_SAAS_RUNTIME_DIR"])
    assert seen["env"]["ODOO_RC"] == str(runtime / "odoo.conf")
    assert not {k for k in seen["env"] if k.startswith(("PG", "ODOO_DB", "ODOO_ADMIN", "ODOO_W"))}
    assert (runtime / "odoo.conf").is_file() and (runtime / "supervisord.conf").is_file()


def test_any_other_command_runs_after_rendering(saas_env):
    proc = run_cli(saas_env, "entrypoint", "sh", "-c", "echo hello-from-$0")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "hello-from-sh"
    assert Path(saas_env["ODOO_SAAS_RUNTIME_DIR"], "odoo.conf").is_file()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ODOO_ADMIN_PASSWD": ""}, "ODOO_ADMIN_PASSWD is not set"),
        ({"ODOO_ADMIN_PASSWD": "admin"}, "ODOO_ADMIN_PASSWD must not be 'admin'"),
        ({"ODOO_DB_PASSWORD": ""}, "ODOO_DB_PASSWORD is not set"),
        ({"ODOO_WORKERS": "many"}, "ODOO_WORKERS='many' is not a whole number"),
    ],
)
def test_bad_start_is_refused_before_anything_starts(saas_env, change, message):
    proc = run_cli({**saas_env, **change}, "entrypoint")
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not Path(saas_env["ODOO_SAAS_RUNTIME_DIR"], "supervisord.conf").exists()


def test_unreachable_postgres_fails_naming_host_and_port(saas_env):
    port = free_port()
    started = time.monotonic()
    proc = run_cli(
        {**saas_env, "ODOO_DB_PORT": str(port), "ODOO_DB_WAIT_TIMEOUT": "2"},
        "entrypoint",
        timeout=60,
    )
    assert proc.returncode == 1
    assert f"PostgreSQL at 127.0.0.1:{port} did not answer within 2 s" in proc.stderr
    assert time.monotonic() - started < 20


def test_wrong_db_password_fails_at_once(saas_env):
    proc = run_cli(
        {**saas_env, "ODOO_DB_PASSWORD": "wrong", "ODOO_DB_WAIT_TIMEOUT": "30"},
        "entrypoint",
        timeout=60,
    )
    assert proc.returncode == 1
    assert "password authentication failed" in proc.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_root_start_hands_directories_over_and_drops_to_the_runtime_user(
    saas_env, tmp_path, fake_odoo_dir
):
    nobody = pwd.getpwnam("nobody")
    # /bin/sh, not this interpreter: it may live where nobody cannot read (e.g. under /root)
    (fake_odoo_dir / "odoo").write_text('#!/bin/sh\necho "{\\"uid\\": $(id -u)}"\n')
    data = tmp_path / "fresh-data"
    env = {
        **saas_env,
        "ODOO_SAAS_USER": "nobody",
        "ODOO_DATA_DIR": str(data),
        "PATH": f"{fake_odoo_dir}:{saas_env['PATH']}",
    }
    proc = run_cli(env, "entrypoint", "odoo", "shell")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["uid"] == nobody.pw_uid
    assert data.stat().st_uid == nobody.pw_uid
    conf = Path(saas_env["ODOO_SAAS_RUNTIME_DIR"], "odoo.conf")
    assert conf.stat().st_uid == nobody.pw_uid and conf.stat().st_mode & 0o077 == 0


def test_unknown_runtime_user_is_a_config_error(saas_env):
    if os.geteuid() != 0:
        pytest.skip("only root drops privileges")
    proc = run_cli({**saas_env, "ODOO_SAAS_USER": "no-such-user-x"}, "entrypoint", "true")
    assert proc.returncode == 2
    assert "ODOO_SAAS_USER='no-such-user-x': no such user" in proc.stderr


@pytest.fixture
def secret_dir() -> Path:
    """A directory the runtime user may enter (as a mounted secrets volume is)."""
    path = Path(tempfile.mkdtemp(prefix="odoo-saas-secrets-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def as_runtime_user(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """env started the way the image starts: as root dropping to a user that is not root
    (nobody, with directories it may use), or as that user already."""
    if os.geteuid() != 0:
        return env
    data = tmp_path / "fresh-data"
    return {**env, "ODOO_SAAS_USER": "nobody", "ODOO_DATA_DIR": str(data)}


def master_file(secret_dir: Path, content: str, mode: int) -> Path:
    path = secret_dir / "admin_passwd"
    path.write_text(content)
    path.chmod(mode)
    return path


def start_without_postgres(env: dict[str, str]):
    """A stack start that gets past every check done before PostgreSQL is waited for."""
    return run_cli(
        {**env, "ODOO_DB_PORT": str(free_port()), "ODOO_DB_WAIT_TIMEOUT": "1"},
        "entrypoint",
        timeout=60,
    )


def test_a_clear_master_password_odoo_could_read_stops_the_start(saas_env, tmp_path, secret_dir):
    """Odoo needs the hash only: a clear master password in a file its user can read would be
    readable by every addon (the chart's pods, a compose service started as `odoo`)."""
    env = as_runtime_user({**saas_env}, tmp_path)
    del env["ODOO_ADMIN_PASSWD"]
    env["ODOO_ADMIN_PASSWD_FILE"] = str(master_file(secret_dir, "clear-master-pw-42", 0o444))
    proc = start_without_postgres(env)
    assert proc.returncode == 2, proc.stderr
    assert "ODOO_ADMIN_PASSWD_FILE" in proc.stderr and "clear master password" in proc.stderr
    assert "odoo-saas hash-password" in proc.stderr
    assert "Traceback" not in proc.stderr and "clear-master-pw-42" not in proc.stderr
    # the same file holding the hash: Odoo's user may read it
    hashed = run_cli(env, "hash-password", input="clear-master-pw-42\n", check=True).stdout
    master_file(secret_dir, hashed.strip(), 0o444)
    proc = start_without_postgres(env)
    assert proc.returncode == 1 and "did not answer within 1 s" in proc.stderr, proc.stderr
    conf = Path(env["ODOO_SAAS_RUNTIME_DIR"], "odoo.conf").read_text()
    assert f"admin_passwd = {hashed.strip()}" in conf


def test_roles_without_odoo_need_no_master_password(saas_env, tmp_path, secret_dir):
    env = as_runtime_user({**saas_env, "ODOO_SAAS_ROLE": "backup"}, tmp_path)
    del env["ODOO_ADMIN_PASSWD"]
    proc = start_without_postgres(env)
    assert proc.returncode == 1 and "did not answer within 1 s" in proc.stderr, proc.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="a root-only file needs a start as root")
def test_a_root_only_master_password_is_read_before_the_drop_and_never_after(
    saas_env, tmp_path, secret_dir
):
    env = as_runtime_user({**saas_env}, tmp_path)
    del env["ODOO_ADMIN_PASSWD"]
    secret = master_file(secret_dir, "clear-master-pw-42", 0o400)  # root's, as init-secrets
    env["ODOO_ADMIN_PASSWD_FILE"] = str(secret)
    proc = start_without_postgres(env)
    assert proc.returncode == 1 and "did not answer within 1 s" in proc.stderr, proc.stderr
    conf = Path(env["ODOO_SAAS_RUNTIME_DIR"], "odoo.conf")
    assert "admin_passwd = $pbkdf2-sha512$" in conf.read_text()
    assert conf.stat().st_uid == pwd.getpwnam("nobody").pw_uid
    # what runs after the drop (Odoo, its addons) cannot open the file
    proc = run_cli(env, "entrypoint", "sh", "-c", f'id -un; cat "{secret}"')
    assert proc.stdout.split() == ["nobody"] and "Permission denied" in proc.stderr
