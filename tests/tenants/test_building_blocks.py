"""Template cache pruning, addons closure and hashing, filestore copies (no Odoo needed)."""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.odoo import modules as odoo_addons
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.tenants import filestore, neutralize, template_cache
from tests.support.tenants import new_database


def make_module(root: Path, name: str, depends=(), auto_install=False, neutral: str = "") -> Path:
    directory = root / name
    (directory / "data").mkdir(parents=True)
    manifest = {"name": name, "depends": list(depends), "auto_install": auto_install}
    (directory / "__manifest__.py").write_text(repr(manifest))
    (directory / "models.py").write_text(f"# {name}\n")
    if neutral:
        (directory / "data" / "neutralize.sql").write_text(neutral)
    return directory


def test_install_closure_follows_depends_and_auto_install(tmp_path: Path) -> None:
    core, extra = tmp_path / "core", tmp_path / "extra"
    make_module(core, "base")
    make_module(core, "web", ["base"], auto_install=True)
    make_module(core, "mail", ["base", "web"])
    make_module(core, "sale", ["mail"])
    make_module(core, "sale_mail_glue", ["sale", "mail"], auto_install=True)
    make_module(core, "unrelated", ["base"])
    make_module(core, "half_glue", ["sale", "unrelated"], auto_install=True)
    make_module(extra, "mail", ["base"])  # shadowed: the first path wins, as in Odoo
    closure = odoo_addons.install_closure([core, extra], ["sale"])
    assert sorted(closure) == ["base", "mail", "sale", "sale_mail_glue", "web"]
    assert closure["mail"] == core / "mail"
    with pytest.raises(SaasError, match="not on the addons path"):
        odoo_addons.install_closure([core], ["nope"])


def test_source_hash_changes_with_code_and_language_files(tmp_path: Path) -> None:
    base = make_module(tmp_path, "base")
    (base / "i18n").mkdir()
    (base / "i18n" / "fr.po").write_text("msgid x")
    modules = {"base": base}
    first = odoo_addons.source_hash(modules)
    (base / "__pycache__").mkdir()
    (base / "__pycache__" / "models.cpython-311.pyc").write_bytes(b"\0")
    (base / "i18n" / "de.po").write_text("msgid y")
    assert odoo_addons.source_hash(modules) == first  # bytecode and other languages ignored
    assert odoo_addons.source_hash(modules, "fr_FR") != first
    (base / "models.py").write_text("# changed\n")
    assert odoo_addons.source_hash(modules) != first


def test_neutralize_queries_in_module_order(tmp_path: Path) -> None:
    make_module(tmp_path, "base", neutral="UPDATE a SET b = 1;\n")
    make_module(tmp_path, "web")
    make_module(tmp_path, "iap", neutral="UPDATE c SET d = 2;")
    got = neutralize.queries((tmp_path,), ["iap", "web", "base", "gone"])
    assert got == [("iap", "UPDATE c SET d = 2;"), ("base", "UPDATE a SET b = 1;")]


def test_filestore_copy_modes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "ab").mkdir(parents=True)
    (src / "ab" / "abcdef").write_bytes(b"data")
    (src / "cd").mkdir()
    assert filestore.copy_tree(src, tmp_path / "linked") == "hardlink"
    assert (tmp_path / "linked" / "ab" / "abcdef").stat().st_ino == (
        src / "ab" / "abcdef"
    ).stat().st_ino
    assert (tmp_path / "linked" / "cd").is_dir()
    assert filestore.copy_tree(src, tmp_path / "copied", link=False) == "copy"
    copied = tmp_path / "copied" / "ab" / "abcdef"
    assert (
        copied.read_bytes() == b"data"
        and copied.stat().st_ino != (src / "ab" / "abcdef").stat().st_ino
    )
    assert filestore.copy_tree(tmp_path / "missing", tmp_path / "x") == "none"
    with pytest.raises(SaasError, match="already exists"):
        filestore.copy_tree(src, tmp_path / "linked")
    assert filestore.size(src) == 4
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dirs left


def _fake_template(settings: Settings, name: str, created: datetime.datetime) -> None:
    new_database(settings, name)
    (settings.filestore(name) / "aa").mkdir(parents=True)
    meta = {"created": created.isoformat(), "used": created.isoformat(), "modules": ["base"]}
    databases.set_template(settings, name, json.dumps(meta))


def test_template_cache_prunes_old_and_surplus_templates(
    tenants_env: dict[str, str], dbname: Callable[[str], str]
) -> None:
    # templates of other tests (the real Odoo one) are kept and count towards the maximum
    others = {t.name for t in template_cache.templates(Settings.from_env(tenants_env))}
    env = {**tenants_env, "TEMPLATE_CACHE_MAX_AGE_DAYS": "10"}
    env["TEMPLATE_CACHE_MAX_COUNT"] = str(2 + len(others))
    settings = Settings.from_env(env)
    now = datetime.datetime.now(datetime.UTC)
    tag = os.urandom(3).hex()
    names = [f"{template_cache.PREFIX}test{tag}{i}" for i in range(4)]
    ages = [0, 1, 2, 30]  # days: the last one is too old, the third one is surplus
    try:
        for name, age in zip(names, ages, strict=True):
            _fake_template(settings, name, now - datetime.timedelta(days=age))
        info = databases.info(settings, names[0])
        assert info is not None and info.is_template and not info.allow_connections
        dropped = template_cache.prune(settings, keep=others)
        assert set(dropped) == {names[2], names[3]}
        remaining = {t.name for t in template_cache.templates(settings)}
        assert names[0] in remaining and names[1] in remaining
        assert not settings.filestore(names[3]).exists()
    finally:
        for name in names:
            databases.drop(settings, name)
            filestore.remove(settings.filestore(name))


def test_module_facts_verified_moments_ago_are_reused_then_verified_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A signup burst computes the template key once (issue 13 goal 3)."""
    memo = tmp_path / "facts.json"
    cache = odoo_addons.ModuleCache(memo)
    cache.described("request-a", {"source_sha1": "abc"})
    cache.save()
    again = odoo_addons.ModuleCache(memo)
    assert again.recently_described("request-a", 2.0) == {"source_sha1": "abc"}
    assert again.recently_described("request-b", 2.0) is None  # other modules, language ...
    later = odoo_addons.time.time() + 2.5
    monkeypatch.setattr(odoo_addons.time, "time", lambda: later)
    assert again.recently_described("request-a", 2.0) is None
    with odoo_addons.exclusive(memo):  # a lock file beside the memo, nothing else
        assert sorted(p.name for p in tmp_path.iterdir()) == ["facts.json", "facts.json.lock"]


def test_a_signup_reuses_facts_of_the_last_minute_and_a_rebuild_verifies_them(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verifying the key stats every file of the installed modules (a third of a signup):
    within a minute it is taken as it is; `--rebuild-template` looks again (an edited addon)."""
    base = make_module(tmp_path, "base")
    install = odoo_addons.OdooInstall(paths=(tmp_path,), version="19.0", serie="19.0")
    monkeypatch.setattr(odoo_addons, "odoo_install", lambda _settings: install)
    spec = template_cache.Spec()
    first = template_cache.describe(settings, spec)
    (base / "models.py").write_text("# edited in place\n")
    assert template_cache.describe(settings, spec) == first
    assert template_cache.RECHECK_SECONDS == 60
    fresh = template_cache.describe(settings, spec, recheck=0)
    assert fresh["source_sha1"] != first["source_sha1"]
    assert template_cache.describe(settings, spec) == fresh
