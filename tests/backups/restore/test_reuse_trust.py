"""Issue 26, item 3: a restore never gives the restored tenant bytes that were not in the backup.

Restore hard-links attachment files already on disk (the tenant it replaces, the tenant the
backup's manifest names) instead of extracting them. On main the file on disk was checked only
against its own name, never against the backup's member: a crafted zip whose manifest named a
victim, holding a member at the victim's <sha1> path with the right size and other bytes,
received the victim's real file under a new tenant's name.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from odoo_saas_tools.backups import archive, own_backups
from odoo_saas_tools.backups.backup import create_backup
from odoo_saas_tools.backups.restore import RestoreOptions, restore_backup
from odoo_saas_tools.tenants import checked_files
from tests.backups.restore.conftest import attachment_paths, unique_name


def _victim(settings, fake_tenant, *, aged: bool) -> tuple[str, str, bytes]:
    """A tenant with one attachment; aged: its files hashed by a backup, so a restore trusts
    them unread (tenants/checked_files.py)."""
    victim = fake_tenant(files=1)
    ((rel, path),) = attachment_paths(settings, victim).items()
    if aged:
        past = time.time() - 3600
        os.utime(path, (past, past))
        create_backup(settings, victim)
    return victim, rel, path.read_bytes()


def _crafted(
    settings,
    fake_tenant,
    tmp_path: Path,
    *,
    names: str,
    rel: str,
    data: bytes,
    fmt: str = "zip",
    deflate: bool = False,
) -> Path:
    """A backup of a fresh tenant rewritten to claim to be `names`'s, with `data` at rel."""
    base = create_backup(settings, fake_tenant(files=0), tmp_path / "base", fmt=fmt).path
    out = tmp_path / f"crafted.{fmt}"
    how = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == archive.MANIFEST_MEMBER:
                body = json.dumps({**json.loads(body), "db_name": names}).encode()
            dst.writestr(info.filename, body, compress_type=zipfile.ZIP_DEFLATED)
        dst.writestr(archive.FILESTORE_PREFIX + rel, data, compress_type=how)
    return out


@pytest.mark.parametrize(
    ("fmt", "deflate", "aged"),
    [("zip", False, False), ("zip", False, True), ("zip", True, True), ("dump", False, True)],
    ids=["zip", "zip-memo", "odoo-deflated", "dump"],
)
def test_a_crafted_backup_never_receives_another_tenants_file(
    settings, fake_tenant, tmp_path, fmt, deflate, aged
):
    victim, rel, secret = _victim(settings, fake_tenant, aged=aged)
    garbage = os.urandom(len(secret))
    crafted = _crafted(
        settings,
        fake_tenant,
        tmp_path,
        names=victim,
        rel=rel,
        data=garbage,
        fmt=fmt,
        deflate=deflate,
    )
    thief = unique_name()
    restore_backup(settings, thief, crafted)
    got = (settings.filestore(thief) / rel).read_bytes()
    assert got != secret
    assert got == garbage  # the backup's bytes, whatever their name says
    assert (settings.filestore(victim) / rel).read_bytes() == secret


def test_a_roll_back_with_a_tampered_member_restores_the_members_bytes(
    settings, fake_tenant, tmp_path
):
    """Even from the tenant being replaced: the restored tenant gets what the backup holds."""
    victim, rel, secret = _victim(settings, fake_tenant, aged=True)
    other = os.urandom(len(secret))
    crafted = _crafted(settings, fake_tenant, tmp_path, names=victim, rel=rel, data=other)
    restore_backup(settings, victim, crafted, RestoreOptions(force=True, last_backup=False))
    assert (settings.filestore(victim) / rel).read_bytes() == other


def _proof_reads(caplog) -> int:
    """How many of the backup's members the last restore compared with files on disk."""
    lines = [r.getMessage() for r in caplog.records if "compared with" in r.getMessage()]
    return int(re.search(r"(\d+) compared with the backup's", lines[-1])[1])


def _forge_member(backup: Path, name: str, data: bytes) -> None:
    """Rewrite a stored member's bytes in place (same inode, size and modification time) and
    its CRC-32 in the central directory, as anyone who can write the file can."""
    st = backup.stat()
    with zipfile.ZipFile(backup) as zf:
        info = zf.getinfo(name)
    assert info.compress_type == zipfile.ZIP_STORED and info.file_size == len(data)
    blob = bytearray(backup.read_bytes())
    head = info.header_offset
    start = head + 30 + int.from_bytes(blob[head + 26 : head + 28], "little")
    start += int.from_bytes(blob[head + 28 : head + 30], "little")
    blob[start : start + len(data)] = data
    crc = zlib.crc32(data).to_bytes(4, "little")
    central = blob.find(b"PK\x01\x02")
    while blob[central + 46 : central + 46 + len(name)] != name.encode():
        central = blob.find(b"PK\x01\x02", central + 1)
        assert central > 0
    blob[central + 16 : central + 20] = crc
    fd = os.open(backup, os.O_WRONLY)
    try:
        os.pwrite(fd, bytes(blob), 0)
    finally:
        os.close(fd)
    os.utime(backup, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert backup.stat().st_ino == st.st_ino and backup.stat().st_mtime_ns == st.st_mtime_ns


def test_our_own_backup_is_linked_unread_until_someone_changes_it(
    settings, fake_tenant, tmp_path, caplog
):
    """The speed of a roll-back or copy from our own backup stays (its members were hashed
    when it was written); a backup rewritten in place, even with its CRC and its modification
    time put back, is proven member by member again."""
    victim, rel, secret = _victim(settings, fake_tenant, aged=True)
    backup = create_backup(settings, victim, tmp_path / "ours").path
    caplog.set_level(logging.INFO, logger="odoo_saas_tools")
    copy = unique_name()
    restore_backup(settings, copy, backup)
    assert _proof_reads(caplog) == 0
    assert (settings.filestore(copy) / rel).stat().st_ino == (
        settings.filestore(victim) / rel
    ).stat().st_ino

    garbage = os.urandom(len(secret))
    _forge_member(backup, archive.FILESTORE_PREFIX + rel, garbage)
    thief = unique_name()
    restore_backup(settings, thief, backup)
    assert (settings.filestore(thief) / rel).read_bytes() == garbage


def test_a_copy_of_our_backup_has_its_members_proven(settings, fake_tenant, tmp_path, caplog):
    victim, rel, secret = _victim(settings, fake_tenant, aged=True)
    backup = create_backup(settings, victim, tmp_path / "ours").path
    copied = tmp_path / "elsewhere" / backup.name
    copied.parent.mkdir()
    shutil.copy2(backup, copied)
    caplog.set_level(logging.INFO, logger="odoo_saas_tools")
    copy = unique_name()
    restore_backup(settings, copy, copied)
    assert _proof_reads(caplog) == 1  # compared, then linked
    assert (settings.filestore(copy) / rel).read_bytes() == secret
    assert (settings.filestore(copy) / rel).stat().st_ino == (
        settings.filestore(victim) / rel
    ).stat().st_ino


def test_a_memo_of_our_backups_others_could_write_is_not_trusted(
    settings, fake_tenant, tmp_path, caplog
):
    victim, _, _ = _victim(settings, fake_tenant, aged=True)
    backup = create_backup(settings, victim, tmp_path / "ours").path
    memo = own_backups.memo_path(settings, backup)
    assert memo.stat().st_mode & 0o777 == 0o600
    owner = checked_files.files_owner(settings)
    assert own_backups.lookup(settings, backup, owner) is not None
    memo.chmod(0o666)
    assert own_backups.lookup(settings, backup, owner) is None
    caplog.set_level(logging.INFO, logger="odoo_saas_tools")
    restore_backup(settings, unique_name(), backup)
    assert _proof_reads(caplog) == 1
