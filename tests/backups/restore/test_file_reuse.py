"""Restore takes attachment files already on disk (the replaced tenant's, the origin's) as hard
links, but only files whose content still matches their name, of the expected owner; a file a
backup or a restore hashed, unchanged since, is not read again (tenants/checked_files.py)."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
import zipfile

from odoo_saas_tools.backups import archive
from odoo_saas_tools.backups.backup import create_backup
from odoo_saas_tools.backups.restore import RestoreOptions, restore_backup
from odoo_saas_tools.tenants import checked_files
from odoo_saas_tools.tenants.drop import drop
from odoo_saas_tools.tenants.rename import rename
from tests.backups.restore.conftest import attachment_paths, tenant_files, unique_name


def _inodes(settings, db: str) -> dict[str, int]:
    return {rel: path.stat().st_ino for rel, path in attachment_paths(settings, db).items()}


def test_a_copy_links_the_origins_files_and_a_damaged_one_comes_from_the_backup(
    settings, fake_tenant
):
    src = fake_tenant(files=4)
    backup = create_backup(settings, src).path
    files = sorted(tenant_files(settings, src))
    damaged = settings.filestore(src) / files[0]
    size = damaged.stat().st_size
    expected = tenant_files(settings, src)
    damaged.write_bytes(b"\0" * size)  # same size, content no longer matches its name
    copy = unique_name()
    restore_backup(settings, copy, backup)
    assert tenant_files(settings, copy) == expected  # the backup's bytes, also for the damaged one
    src_inodes, copy_inodes = _inodes(settings, src), _inodes(settings, copy)
    assert copy_inodes[files[0]] != src_inodes[files[0]]
    assert all(copy_inodes[f] == src_inodes[f] for f in files[1:])  # hard links, no new bytes


def test_a_roll_back_links_the_replaced_tenants_own_files(settings, fake_tenant):
    db = fake_tenant(files=3)
    backup = create_backup(settings, db).path
    before = _inodes(settings, db)
    restore_backup(settings, db, backup, RestoreOptions(force=True, last_backup=False))
    assert _inodes(settings, db) == before


def test_no_link_to_a_symlink_a_file_of_another_owner_or_of_another_name(settings, tmp_path):
    donor = tmp_path / "donor"
    (donor / "ab").mkdir(parents=True)
    data = b"attachment bytes"
    sha = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    rel = f"{sha[:2]}/{sha}"
    (donor / sha[:2]).mkdir(exist_ok=True)
    outside = tmp_path / "secret"
    outside.write_bytes(data)
    (donor / rel).symlink_to(outside)
    dest = tmp_path / "dest"
    dest.mkdir()
    backup = tmp_path / "b.zip"
    with zipfile.ZipFile(backup, "w") as zf:
        zf.writestr(rel, data)
        zf.writestr("ab/not-a-content-name", data)
        zf.writestr("bigger", data + b"!")
    with zipfile.ZipFile(backup) as zf:
        member, other_name, bigger = zf.infolist()
        mine = archive.FileReuse([donor], os.geteuid())
        assert not mine.link(zf, member, rel, dest / "a")  # a symlink is never followed
        (donor / rel).unlink()
        (donor / rel).write_bytes(data)
        other_owner = archive.FileReuse([donor], os.geteuid() + 1)
        assert not other_owner.link(zf, member, rel, dest / "b")
        assert not mine.link(zf, other_name, "ab/not-a-content-name", dest / "c")
        assert not mine.link(zf, bigger, rel, dest / "d")  # another size
        assert mine.link(zf, member, rel, dest / "e")
    assert (dest / "e").stat().st_ino == (donor / rel).stat().st_ino
    assert sorted(p.name for p in dest.iterdir()) == ["e"]


def test_odoos_zip_restored_as_a_copy_links_too(settings, fake_tenant, tmp_path):
    """Odoo deflates every attachment in its zip: linking saves inflating them."""
    src = fake_tenant(files=2)
    ours = create_backup(settings, src).path
    odoo_like = tmp_path / "odoo.zip"
    with zipfile.ZipFile(ours) as zin, zipfile.ZipFile(odoo_like, "w", zipfile.ZIP_DEFLATED) as z:
        for info in zin.infolist():
            z.writestr(info.filename, zin.read(info))
    copy = unique_name()
    restore_backup(settings, copy, odoo_like)
    assert _inodes(settings, copy) == _inodes(settings, src)


def _age(settings, db: str, seconds: float = 3600) -> None:
    """Make db's files as old as an attachment usually is (recorded only once settled)."""
    past = time.time() - seconds
    for path in attachment_paths(settings, db).values():
        os.utime(path, (past, past))


def _reads(caplog) -> int:
    """How many donor files the last restore read to check them (its log line says)."""
    lines = [r.getMessage() for r in caplog.records if "read to check them" in r.getMessage()]
    return int(re.search(r"; (\d+) read to check them", lines[-1])[1])


def test_files_a_backup_hashed_are_linked_without_reading_them_again(settings, fake_tenant, caplog):
    src = fake_tenant(files=4)
    _age(settings, src)
    backup = create_backup(settings, src).path
    assert set(checked_files.open_memo(settings, src).entries) == set(tenant_files(settings, src))
    caplog.set_level(logging.INFO, logger="odoo_saas_tools")
    copy = unique_name()
    restore_backup(settings, copy, backup)
    assert _reads(caplog) == 0
    assert _inodes(settings, copy) == _inodes(settings, src)
    # the copy's files are the same checked inodes: its own memo says so
    assert checked_files.open_memo(settings, copy).entries == (
        checked_files.open_memo(settings, src).entries
    )


def test_a_file_changed_since_the_backup_is_read_again_and_the_backups_copy_restored(
    settings, fake_tenant, caplog
):
    src = fake_tenant(files=3)
    _age(settings, src)
    backup = create_backup(settings, src).path
    expected = tenant_files(settings, src)
    changed = sorted(expected)[0]
    path = settings.filestore(src) / changed
    path.write_bytes(b"\0" * path.stat().st_size)  # same size, new content and time
    caplog.set_level(logging.INFO, logger="odoo_saas_tools")
    copy = unique_name()
    restore_backup(settings, copy, backup)
    assert _reads(caplog) == 1
    assert tenant_files(settings, copy) == expected
    assert _inodes(settings, copy)[changed] != _inodes(settings, src)[changed]
    assert changed not in checked_files.open_memo(settings, src).entries


def test_a_memo_others_could_write_is_not_trusted_and_fresh_files_are_not_recorded(
    settings, fake_tenant, caplog
):
    src = fake_tenant(files=2)
    create_backup(settings, src)  # files written moments ago: not settled, not recorded
    assert checked_files.open_memo(settings, src).entries == {}
    _age(settings, src)
    backup = create_backup(settings, src).path
    memo = checked_files.memo_path(settings, src)
    assert len(checked_files.open_memo(settings, src).entries) == 2
    assert memo.stat().st_mode & 0o777 == 0o600
    memo.chmod(0o666)
    assert checked_files.open_memo(settings, src).entries == {}
    caplog.set_level(logging.INFO, logger="odoo_saas_tools")
    restore_backup(settings, unique_name(), backup)
    assert _reads(caplog) == 2


def test_a_memo_entry_of_another_shape_is_absent(settings):
    """A damaged memo costs a hash, never a crash of the restore reading it."""
    path = checked_files.memo_path(settings, "shapes")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '{"files": {"ok": [1, 2, 3, 4], "infinite": [1e999, 2, 3, 4], "short": [1, 2], '
        '"text": "1234", "bool": [true, 2, 3, 4], "float": [1.5, 2, 3, 4], "null": null}}'
    )
    path.chmod(0o600)
    assert checked_files.open_memo(settings, "shapes").entries == {"ok": (1, 2, 3, 4)}
    for damaged in ('{"files": [1, 2]}', "[]", '"x"', "[" * 100_000):
        path.write_text(damaged)
        assert checked_files.open_memo(settings, "shapes").entries == {}


def test_a_backup_says_which_file_is_damaged_and_does_not_record_it(settings, fake_tenant, caplog):
    src = fake_tenant(files=3)
    rel = sorted(tenant_files(settings, src))[1]
    path = settings.filestore(src) / rel
    path.write_bytes(b"rot" + path.read_bytes()[3:])
    _age(settings, src)
    backup = create_backup(settings, src).path
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("1 attachment file(s)" in w and rel in w for w in warnings), warnings
    with zipfile.ZipFile(backup) as zf:  # still backed up: it is the only copy there is
        assert zf.read(archive.FILESTORE_PREFIX + rel)[:3] == b"rot"
    assert set(checked_files.open_memo(settings, src).entries) == (
        set(tenant_files(settings, src)) - {rel}
    )


def test_drop_forgets_the_memo_and_rename_takes_it_along(settings, fake_tenant):
    db = fake_tenant(files=2)
    _age(settings, db)
    create_backup(settings, db)
    entries = checked_files.open_memo(settings, db).entries
    assert entries
    new = unique_name()
    rename(settings, db, new)
    assert checked_files.open_memo(settings, new).entries == entries
    assert not checked_files.memo_path(settings, db).exists()
    drop(settings, new, last_backup=None)
    assert not checked_files.memo_path(settings, new).exists()


def test_a_damaged_memo_costs_a_read_not_a_restore(settings, fake_tenant):
    db = fake_tenant(files=1)
    memo = checked_files.memo_path(settings, db)
    memo.parent.mkdir(parents=True, exist_ok=True)
    for text in ("{not json", '{"no files": 1}', '{"files": [1, 2]}', '{"files": {"a": 3}}'):
        memo.write_text(text)
        memo.chmod(0o600)
        assert checked_files.open_memo(settings, db).entries == {}
