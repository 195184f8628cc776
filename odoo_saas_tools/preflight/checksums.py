"""Per-module source checksums, compatible with OCA's module_auto_update (and click-odoo-update).

The checksums of the installed modules are stored in the tenant's ir_config_parameter under
`module_auto_update.installed_checksums` as JSON {module: sha1}, so a tenant moved between
stacks, or one that has OCA's module installed, agrees with us about what changed. A module's
checksum is a SHA-1 over its files in sorted walk order, each file's relative path then its
bytes, skipping the exclude patterns (overridable per tenant by the
`module_auto_update.exclude_patterns` parameter) and the .po files of languages not active.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

PARAM_CHECKSUMS = "module_auto_update.installed_checksums"
PARAM_EXCLUDE = "module_auto_update.exclude_patterns"
DEFAULT_EXCLUDE = "*.pyc,*.pyo,i18n/*.pot,i18n_extra/*.pot,static/*"
TRANSLATION_DIRS = {"i18n", "i18n_extra"}


def exclude_patterns(param: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (param or DEFAULT_EXCLUDE).split(","))


def _files(top: Path, patterns: tuple[str, ...], langs: set[str]) -> Iterable[str]:
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        reldir = os.path.relpath(dirpath, top)
        reldir = "" if reldir == "." else reldir
        for filename in sorted(filenames):
            relpath = os.path.join(reldir, filename)
            if any(fnmatch.fnmatch(relpath, p) for p in patterns):
                continue
            if langs and reldir in TRANSLATION_DIRS:
                base, ext = os.path.splitext(filename)
                if ext == ".po" and base.split("_")[0] not in langs:
                    continue
            yield relpath


def addon_checksum(top: Path, patterns: tuple[str, ...], active_langs: Iterable[str]) -> str:
    """OCA's addon_hash: the relative path is hashed too, so empty files count."""
    langs = {code.split("_")[0] for code in active_langs}
    digest = hashlib.sha1(usedforsecurity=False)
    for relpath in _files(top, patterns, langs):
        digest.update(relpath.encode("utf-8"))
        with open(top / relpath, "rb") as fh:
            digest.update(fh.read())
    return digest.hexdigest()


class ChecksumCache:
    """Checksums computed once per start, shared by every tenant with the same languages."""

    def __init__(self, paths: dict[str, Path]) -> None:
        self.paths = paths
        self._done: dict[tuple[str, tuple[str, ...], tuple[str, ...]], str | None] = {}

    def checksum(self, module: str, patterns: tuple[str, ...], langs: Iterable[str]) -> str | None:
        """None when the module is not on the addons path (OCA stores false)."""
        key = (module, patterns, tuple(sorted(langs)))
        if key not in self._done:
            path = self.paths.get(module)
            self._done[key] = addon_checksum(path, patterns, key[2]) if path else None
        return self._done[key]


def load_saved(raw: str | None) -> dict[str, str | None] | None:
    """The stored JSON, or None when nothing was ever recorded (or it is unreadable)."""
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
