"""Restore takes attachment files already on disk (the replaced tenant's, the origin's) as hard
links, but only files whose content still matches their name, of the expected owner."""

from __future__ import annotations

import hashlib
import os
import zipfile

from odoo_saas_tools.backups import archive
from odoo_saas_tools.backups.backup import create_backup
from odoo_saas_tools.backups.restore import restore_backup
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
    restore_backup(settings, db, backup, force=True, last_backup=False)
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
    mine = archive.FileReuse([donor], os.geteuid())
    assert not mine.link(rel, len(data), dest / "a")  # a symlink is never followed
    (donor / rel).unlink()
    (donor / rel).write_bytes(data)
    other_owner = archive.FileReuse([donor], os.geteuid() + 1)
    assert not other_owner.link(rel, len(data), dest / "b")
    assert not mine.link("ab/not-a-content-name", len(data), dest / "c")
    assert not mine.link(rel, len(data) + 1, dest / "d")  # another size
    assert mine.link(rel, len(data), dest / "e")
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
