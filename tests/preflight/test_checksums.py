"""Per-module checksums as OCA's module_auto_update computes them (stored JSON stays compatible)."""

from __future__ import annotations

import hashlib

import pytest

from odoo_saas_tools.preflight.checksums import (
    DEFAULT_EXCLUDE,
    ChecksumCache,
    addon_checksum,
    exclude_patterns,
    load_saved,
)
from tests.preflight.conftest import write_addon

pytestmark = pytest.mark.unit  # pure code: the unit tier

FILES = {
    "README.rst": "readme",
    "data/f1.xml": "<odoo/>",
    "data/empty.xml": "",
    "i18n/en.po": "en",
    "i18n/fr_BE.po": "fr",
    "i18n/module.pot": "template",
    "models/stuff.py": "x = 1",
    "models/stuff.pyc": "bytecode",
    "models/__pycache__/stuff.cpython-311.pyc": "bytecode",
    "static/src/some.js": "js",
}


def expected(root, included):
    digest = hashlib.sha1(usedforsecurity=False)
    for rel in included:
        digest.update(rel.encode())
        digest.update((root / rel).read_bytes())
    return digest.hexdigest()


def test_checksum_follows_oca_addon_hash(tmp_path):
    path = write_addon(tmp_path, "sample", "{'name': 'sample'}", files=FILES)
    included = [
        "README.rst",
        "__init__.py",
        "__manifest__.py",
        "data/empty.xml",
        "data/f1.xml",
        "i18n/en.po",
        "models/stuff.py",
    ]
    patterns = exclude_patterns(None)
    assert patterns == tuple(DEFAULT_EXCLUDE.split(","))
    assert addon_checksum(path, patterns, ["en_US"]) == expected(path, included)
    # French active: its .po counts too; no active language at all: every .po counts
    with_fr = sorted([*included, "i18n/fr_BE.po"])
    assert addon_checksum(path, patterns, ["en_US", "fr_FR"]) == expected(path, with_fr)
    assert addon_checksum(path, patterns, []) == expected(path, with_fr)
    # a tenant's own exclude patterns
    assert addon_checksum(path, ("*.pyc", "*.pyo", "i18n/*", "data/*"), ["en_US"]) != (
        addon_checksum(path, patterns, ["en_US"])
    )


def test_checksum_changes_with_content_and_with_an_empty_new_file(tmp_path):
    path = write_addon(tmp_path, "sample", files={"models/a.py": "a = 1"})
    patterns = exclude_patterns(None)
    before = addon_checksum(path, patterns, ["en_US"])
    (path / "models" / "stuff.pyc").write_text("ignored")
    (path / "static").mkdir()
    (path / "static" / "x.js").write_text("ignored")
    assert addon_checksum(path, patterns, ["en_US"]) == before
    (path / "models" / "b.py").write_text("")
    after_new = addon_checksum(path, patterns, ["en_US"])
    assert after_new != before
    (path / "models" / "a.py").write_text("a = 2")
    assert addon_checksum(path, patterns, ["en_US"]) not in (before, after_new)


def test_cache_and_saved_values(tmp_path):
    path = write_addon(tmp_path, "m")
    cache = ChecksumCache({"m": path})
    first = cache.checksum("m", exclude_patterns(None), ["en_US"])
    (path / "new.py").write_text("changed")
    assert cache.checksum("m", exclude_patterns(None), ["en_US"]) == first  # once per start
    assert cache.checksum("absent", exclude_patterns(None), ["en_US"]) is None
    assert load_saved(None) is None and load_saved("not json") is None
    assert load_saved('{"m": "abc"}') == {"m": "abc"}
