"""The db list memo: what makes it forget (no PostgreSQL needed)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from odoo_saas_tools.tenants import listing_memo
from odoo_saas_tools.tenants.listing_memo import ListingMemo, TenantFacts, directory_stamp

pytestmark = pytest.mark.unit  # pure code: the unit tier

FACTS = TenantFacts("19.0.1.3", "ready", 123)


def _memo(tmp_path: Path, server: str = "s1") -> ListingMemo:
    return ListingMemo(tmp_path / "memo.json", server, None)


def test_remembered_until_the_key_changes_and_old_sizes_read_again_a_few_at_a_time(
    tmp_path, monkeypatch
):
    memo = _memo(tmp_path)
    names = [f"t{i}" for i in range(listing_memo.SIZES_PER_LISTING + 10)]
    for name in names:
        memo.remember(name, "oid:reset:10", FACTS)
    memo.save()
    again = ListingMemo.open_file(tmp_path / "memo.json", "s1")
    assert again.facts("t0", "oid:reset:10") == FACTS
    assert again.facts("t0", "oid:reset:11") is None  # written to since
    assert again.sizes_due(names) == []
    later = time.time() + listing_memo.MAX_AGE + 1
    monkeypatch.setattr(listing_memo.time, "time", lambda: later)
    # version and state stay known (they change only by writes); the size may have shrunk
    assert again.facts("t0", "oid:reset:10") == FACTS
    due = again.sizes_due(names)
    assert len(due) == listing_memo.SIZES_PER_LISTING  # no listing re-reads every tenant
    assert again.resized(due[0], 99) == TenantFacts("19.0.1.3", "ready", 99)
    assert due[0] not in again.sizes_due(names)
    assert again.facts(due[0], "oid:reset:10") == TenantFacts("19.0.1.3", "ready", 99)


def test_another_server_or_a_restart_forgets_everything(tmp_path):
    memo = _memo(tmp_path)
    memo.remember("t", "k", FACTS)
    memo.save()
    assert ListingMemo.open_file(tmp_path / "memo.json", "s2").facts("t", "k") is None


def test_a_damaged_memo_is_ignored(tmp_path):
    (tmp_path / "memo.json").write_text("{not json")
    assert ListingMemo.open_file(tmp_path / "memo.json", "s1").facts("t", "k") is None


def test_a_filestore_still_being_written_is_measured_every_time(tmp_path):
    fs = tmp_path / "fs"
    (fs / "ab").mkdir(parents=True)
    (fs / "ab" / "f1").write_bytes(b"x" * 10)
    calls: list[Path] = []

    def measure(path: Path) -> int:
        calls.append(path)
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())

    memo = _memo(tmp_path)
    assert memo.filestore_size("t", fs, measure) == 10
    assert memo.filestore_size("t", fs, measure) == 10
    assert len(calls) == 2  # touched in the last SETTLE seconds: not remembered
    old = time.time() - listing_memo.SETTLE - 10
    for d in (fs, fs / "ab"):
        os.utime(d, (old, old))
    memo.filestore_size("t", fs, measure)
    memo.filestore_size("t", fs, measure)
    assert len(calls) == 3  # settled: remembered
    (fs / "ab" / "f2").write_bytes(b"y" * 5)  # a new file touches its directory
    assert memo.filestore_size("t", fs, measure) == 15


def test_directory_stamp_of_a_missing_filestore_is_stable(tmp_path):
    assert directory_stamp(tmp_path / "absent") == ""
