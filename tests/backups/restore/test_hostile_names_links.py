"""Issue 11, items 8 and 9: names and links planted by a tenant or the runtime user never make
a backup write outside its folder or through a link (root runs these via docker exec)."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

import pytest

from odoo_saas_tools.backups import names as backup_names
from odoo_saas_tools.backups.backup import create_backup
from odoo_saas_tools.core.errors import ConfigError, SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.postgres.connection import connect
from tests.backups.restore.conftest import FAKE_SCHEMA
from tests.support.cli import run_cli


@pytest.mark.parametrize("fmt", ["zip", "dump", "sql.gz"])
def test_planted_links_at_temp_names_are_never_written_through(settings, fake_tenant, fmt):
    """Item 9: links at `.<final>.db.<pid>.partial` (the next pids) made root write a tenant's
    dump into a root-only file; the dump temp was 0644."""
    db = fake_tenant(files=2)
    directory = settings.backup_dir / db
    directory.mkdir(parents=True, exist_ok=True)
    victim = settings.backup_dir.parent / f"root-only-{fmt}"
    victim.write_text("root's own file\n")
    victim.chmod(0o600)
    now = int(time.time())
    for second in range(now - 1, now + 6):
        when = datetime.fromtimestamp(second, timezone.utc)
        final = directory / backup_names.backup_name(db, fmt, when=when)
        for pid in range(os.getpid() - 3, os.getpid() + 30):
            for name in (f".{final.name}.db.{pid}.partial", f".{final.name}.{pid}.partial"):
                os.symlink(victim, directory / name)
    result = create_backup(settings, db, directory, fmt=fmt)
    assert victim.read_text() == "root's own file\n"
    assert result.path.stat().st_mode & 0o777 == 0o600
    assert not result.path.is_symlink()


def test_database_named_like_a_path_cannot_escape_the_backup_dir(saas_env, tmp_path):
    """Item 8: an Odoo-like database named `../../../escaped_dir` made `backup run` create
    folders and status files outside BACKUP_DIR."""
    settings = Settings.from_env(saas_env)
    hostile = "../../../escaped_dir"
    databases.create_empty(settings, hostile)
    try:
        with connect(settings, hostile) as conn, conn.cursor() as cr:
            cr.execute(FAKE_SCHEMA)
        before = set(tmp_path.parent.parent.iterdir())
        proc = run_cli(saas_env, "backup", "run", "--json")
        assert "Traceback" not in proc.stderr
        assert set(tmp_path.parent.parent.iterdir()) == before
        assert not any(settings.backup_dir.rglob("escaped_dir*"))
        with pytest.raises(ConfigError, match="cannot be used as a file name"):
            settings.filestore(hostile)
        with pytest.raises(ConfigError, match="cannot be used as a file name"):
            backup_names.default_dir(settings, hostile)
    finally:
        databases.drop(settings, hostile)


def test_links_in_a_filestore_are_never_followed(settings, fake_tenant, tmp_path):
    """Item 10: a root-run backup followed a link planted in the tenant's filestore and handed
    the zip (holding a root-only file) to the runtime user."""
    from tests.backups.restore.conftest import add_attachment

    db = fake_tenant(files=1)
    secret = tmp_path / "root-only-secret"
    secret.write_text("root's secret\n")
    secret.chmod(0o600)
    fname = add_attachment(settings, db, b"looks like an attachment", "x.bin")
    target = settings.filestore(db) / fname
    target.unlink()
    target.symlink_to(secret)
    with pytest.raises(SaasError, match="is a link"):
        create_backup(settings, db, tmp_path / "out")
    assert not list((tmp_path / "out").glob("*.zip"))
