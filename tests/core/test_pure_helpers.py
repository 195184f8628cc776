"""Fast tier: the helpers every domain uses, with no service running (no PostgreSQL, no Redis).

`pytest tests/core tests/architecture` runs in seconds: the first thing to run after a change.
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import stat
import sys
import time
import zipfile
from pathlib import Path

import pytest

from odoo_saas_tools.backups.archive import HashingWriter, add_file, filestore_relpath
from odoo_saas_tools.core import execute
from odoo_saas_tools.core.errors import CommandError, ConfigError
from odoo_saas_tools.core.files import WriteBehind, atomic_write, atomic_write_json
from odoo_saas_tools.core.odoo_series import ODOO_SERIES, is_current
from odoo_saas_tools.tenants import setup as tenant_setup

SECRET = "hunter2-secret-value"


def test_failed_command_names_program_and_hides_secrets(caplog):
    caplog.set_level(logging.DEBUG, logger="odoo_saas_tools.core.execute")
    script = f"import sys; sys.stderr.write('login failed for {SECRET}\\n'); sys.exit(3)"
    with pytest.raises(CommandError) as err:
        execute.run([sys.executable, "-c", script], secrets=[SECRET])
    message = str(err.value)
    assert message.startswith(Path(sys.executable).name + " exited 3")
    assert SECRET not in message and execute.REDACTED in message
    assert SECRET not in caplog.text  # the argv in the debug line is redacted too


def test_clean_environment_keeps_only_what_is_given(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    proc = execute.run(
        [sys.executable, "-c", "import os; print(sorted(os.environ))"],
        env={"ONLY": "1"},
        clean_env=True,
        capture=True,
    )
    names = proc.stdout.decode()
    assert "ONLY" in names and "AWS_SECRET_ACCESS_KEY" not in names


def test_missing_program_and_timeout_are_one_line_errors():
    with pytest.raises(CommandError, match="command not found"):
        execute.run(["/nonexistent/odoo-saas-test-program"])
    with pytest.raises(CommandError, match=r"timed out after 0\.2 s"):
        execute.run([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.2)


def test_atomic_write_is_private_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "sub" / "conf"
    atomic_write(target, "one")
    atomic_write(target, b"two")
    assert target.read_text() == "two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["conf"]
    atomic_write_json(tmp_path / "s.json", {"b": 1, "a": 2}, mode=0o644)
    assert (tmp_path / "s.json").read_text() == '{\n  "a": 2,\n  "b": 1\n}\n'


def test_atomic_write_never_follows_a_planted_link(tmp_path):
    """A user who can write the directory plants links at every predictable temp name."""
    victim = tmp_path / "root-only"
    victim.write_text("untouched")
    target = tmp_path / "status.json"
    for pid in range(os.getpid() - 5, os.getpid() + 5):
        for name in (f".{target.name}.{pid}", f".{target.name}.{pid}.tmp", f"{target.name}.{pid}"):
            (tmp_path / name).symlink_to(victim)
    atomic_write(target, "new")
    assert victim.read_text() == "untouched"
    assert target.read_text() == "new" and not target.is_symlink()


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "conf"
    atomic_write(target, "old")

    class Boom(str):
        def encode(self, *args: object, **kwargs: object) -> bytes:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, Boom("x"))
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["conf"]


def test_odoo_series():
    assert ODOO_SERIES == "19.0"
    assert is_current("19.0") and is_current("19.0.1.3")
    assert not is_current("18.0.1.0") and not is_current("19.01") and not is_current(None)


def test_filestore_paths_stay_inside():
    assert filestore_relpath("ab/abcdef") == "ab/abcdef"
    assert filestore_relpath("../../etc/passwd") == "etc/passwd"
    assert filestore_relpath("/ab/c:d") == "ab/cd"


def test_hashing_writer_streams_a_zip_and_knows_its_checksum(tmp_path):
    src = tmp_path / "attachment"
    src.write_bytes(os.urandom(50_000))
    raw = io.BytesIO()
    writer = HashingWriter(raw)
    with zipfile.ZipFile(writer, "w") as zf:  # type: ignore[arg-type]
        assert add_file(zf, src, "filestore/ab/attachment") == 50_000
    assert writer.size == len(raw.getvalue())
    assert writer.hexdigest() == hashlib.sha256(raw.getvalue()).hexdigest()
    with zipfile.ZipFile(io.BytesIO(raw.getvalue())) as zf:
        info = zf.getinfo("filestore/ab/attachment")
        assert info.compress_type == zipfile.ZIP_STORED  # media: no time spent deflating
        assert zf.read(info) == src.read_bytes()


def test_write_behind_syncs_while_writing_and_keeps_the_error_it_saw(tmp_path, monkeypatch):
    synced: list[int] = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: synced.append(os.fstat(fd).st_size) or real(fd))
    with open(tmp_path / "backup", "wb", buffering=0) as fh, WriteBehind(fh.fileno(), 1000) as wb:
        for total in range(500, 5001, 500):
            fh.write(b"x" * 500)
            wb.wrote(total)
            time.sleep(0.01)
        wb.sync()
    assert synced and synced[0] < 5000  # written back on the way, not only at the end
    assert (tmp_path / "backup").stat().st_size == 5000

    # Linux tells one fsync of a file about a write-back error: the thread's is not lost
    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", broken)
    with open(tmp_path / "other", "wb") as fh, WriteBehind(fh.fileno(), 10) as wb:
        fh.write(b"y" * 100)
        wb.wrote(100)
        time.sleep(0.05)
        with pytest.raises(OSError, match="Input/output"):
            wb.sync()


def test_admin_password_file_and_time_zone(tmp_path):
    good = tmp_path / "pw"
    good.write_text("s3cret-pass\n")
    assert tenant_setup.read_password_file(good) == "s3cret-pass"
    bad = tmp_path / "two-lines"
    bad.write_text("a\nb\n")
    with pytest.raises(ConfigError, match="on one line"):
        tenant_setup.read_password_file(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        tenant_setup.read_password_file(tmp_path / "absent")
    assert tenant_setup.check_tz("Europe/Brussels") == "Europe/Brussels"
    with pytest.raises(ConfigError, match="not a known time zone"):
        tenant_setup.check_tz("Mars/Olympus")
    assert len(tenant_setup.generate_password()) == 24
