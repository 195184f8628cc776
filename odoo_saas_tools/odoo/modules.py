"""Where Odoo's modules live, read without starting Odoo: addons path, manifests, source hashes.

Odoo 19 always puts its own addon directories on the addons path (odoo/addons, the data
directory's addons/19.0, the configured addons_path, then the tree's addons/), wherever Odoo is
installed. The only exact answer is Odoo's own `odoo.addons.__path__`, so Odoo is asked once
(`odoo shell`, ~3 s) and the answer is cached in the runtime directory, keyed by the Odoo
executable and the configuration that shapes the path.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.files import atomic_write
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.odoo import runner as odoo_runner

log = logging.getLogger(__name__)

CACHE_FILE = "odoo-addons-path.json"
MARKER = "ODOO_SAAS_ADDONS="
PROBE = f"""
import json, odoo.addons, odoo.release
print({MARKER!r} + json.dumps({{"paths": list(odoo.addons.__path__),
      "version": odoo.release.version, "serie": odoo.release.serie}}))
"""
# Files that never change what an installed module puts into a database.
SKIP_DIRS = {"__pycache__", "tests", ".git"}
TRANSLATION_DIRS = {"i18n", "i18n_extra"}


@dataclass(frozen=True)
class OdooInstall:
    """Odoo's addon directories in its own lookup order, and its version (e.g. 19.0)."""

    paths: tuple[Path, ...]
    version: str
    serie: str


def _cache_key(settings: Settings) -> dict[str, object]:
    exe = shutil.which(settings.odoo_bin) or settings.odoo_bin
    try:
        real = os.path.realpath(exe)
        mtime = os.stat(real).st_mtime_ns
    except OSError:
        real, mtime = exe, 0
    return {
        "odoo_bin": real,
        "mtime": mtime,
        "extra_addons": [str(p) for p in settings.extra_addons],
        "data_dir": str(settings.data_dir),
        "redis": settings.enable_redis,
    }


def odoo_install(settings: Settings, *, refresh: bool = False) -> OdooInstall:
    """Odoo's addons path and version: from the cache, else from Odoo itself (then cached)."""
    cache = settings.runtime_dir / CACHE_FILE
    key = _cache_key(settings)
    if not refresh:
        try:
            data = json.loads(cache.read_text())
            if data.get("key") == key:
                return _install(data)
        except (OSError, ValueError):
            pass
    out = odoo_runner.probe_shell(settings, PROBE)
    data = odoo_runner.read_marker(out, MARKER)
    if data is None:
        raise SaasError(f"{settings.odoo_bin} shell did not report its addons path")
    data["key"] = key
    try:
        atomic_write(cache, json.dumps(data))
    except OSError as exc:
        log.warning("cannot cache Odoo's addons path in %s: %s", cache, exc.strerror)
    return _install(data)


def _install(data: dict) -> OdooInstall:
    return OdooInstall(
        paths=tuple(Path(p) for p in data["paths"]),
        version=str(data["version"]),
        serie=str(data.get("serie", "")),
    )


def module_dir(paths: Iterable[Path], name: str) -> Path | None:
    """The directory Odoo imports module `name` from: the first addons dir that has it."""
    for root in paths:
        candidate = root / name
        if (candidate / "__manifest__.py").is_file():
            return candidate
    return None


def manifest(directory: Path) -> dict:
    """A module's __manifest__.py, read as a literal (never executed)."""
    try:
        return ast.literal_eval((directory / "__manifest__.py").read_text())
    except (OSError, ValueError, SyntaxError) as exc:
        raise SaasError(f"cannot read the manifest of {directory.name}: {exc}") from exc


def _all_modules(paths: Iterable[Path]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for root in paths:
        try:
            entries = sorted(os.scandir(root), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name not in found and os.path.isfile(
                os.path.join(entry.path, "__manifest__.py")
            ):
                found[entry.name] = Path(entry.path)
    return found


def install_closure(paths: Iterable[Path], modules: Iterable[str]) -> dict[str, Path]:
    """The modules `-i modules` installs: their dependencies and satisfied auto_install ones."""
    paths = list(paths)
    wanted = set(modules) | {"base"}
    chosen: dict[str, Path] = {}
    manifests: dict[str, dict] = {}
    todo = list(wanted)
    while todo:
        name = todo.pop()
        if name in chosen:
            continue
        directory = module_dir(paths, name)
        if directory is None:
            raise SaasError(f"module {name!r} is not on the addons path")
        chosen[name] = directory
        manifests[name] = manifest(directory)
        todo.extend(manifests[name].get("depends", []))
    # auto_install: installed as soon as all (or the listed) dependencies are installed.
    everything = _all_modules(paths)
    changed = True
    while changed:
        changed = False
        for name, directory in everything.items():
            if name in chosen:
                continue
            try:
                data = manifest(directory)
            except SaasError:
                continue
            auto = data.get("auto_install")
            if not auto or not data.get("installable", True):
                continue
            needed = set(auto) if isinstance(auto, (list, tuple, set)) else set(data["depends"])
            if needed <= chosen.keys() and set(data.get("depends", [])) <= chosen.keys():
                chosen[name] = directory
                changed = True
    return dict(sorted(chosen.items()))


def source_hash(modules: dict[str, Path], lang: str = "en_US") -> str:
    """SHA-1 over the files of the modules that shape a new database (click-odoo-initdb idea).

    Translation files count only for the language that is loaded; tests and bytecode never.
    """
    lang_files = {f"{lang}.po", f"{lang.split('_')[0]}.po"}
    digest = hashlib.sha1(usedforsecurity=False)
    for name, directory in sorted(modules.items()):
        digest.update(f"\0module:{name}\0".encode())
        for root, dirs, files in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
            in_translations = Path(root).name in TRANSLATION_DIRS
            for file in sorted(files):
                if file.endswith((".pyc", ".pyo")):
                    continue
                if in_translations and file not in lang_files:
                    continue
                path = os.path.join(root, file)
                digest.update(os.path.relpath(path, directory).encode() + b"\0")
                with open(path, "rb") as fh:
                    digest.update(hashlib.sha1(fh.read(), usedforsecurity=False).digest())
    return digest.hexdigest()
