"""Where Odoo's modules live, read without starting Odoo: addons path, manifests, source hashes.

Odoo 19 always puts its own addon directories on the addons path (odoo/addons, the data
directory's addons/19.0, the configured addons_path, then the tree's addons/), wherever Odoo is
installed. The only exact answer is Odoo's own `odoo.addons.__path__`, so Odoo is asked once
(`odoo shell`, ~3 s) and the answer is cached in the runtime directory, keyed by the Odoo
executable and the configuration that shapes the path.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.files import atomic_write, file_lock
from odoo_saas_tools.core.settings import Settings

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
    # runner pulls subprocess, tempfile ...: not at import, as a signup from a spare or a
    # warm cache never starts Odoo (start-up cost of every provisioning)
    from odoo_saas_tools.odoo import runner as odoo_runner

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


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside path (calls computing the same facts wait for one
    another); without a writable directory, go on unlocked (slower, never wrong)."""
    with contextlib.ExitStack() as stack:
        with contextlib.suppress(OSError):  # not writable: unlocked
            path.parent.mkdir(parents=True, exist_ok=True)
            stack.enter_context(file_lock(Path(f"{path}.lock")))
        yield


class ModuleCache:
    """What install_closure and source_hash read, remembered by file stamps (mtime, size).

    An Odoo tree has thousands of modules: parsing every manifest for auto_install and hashing
    the installed modules' files took ~0.9 s of CPU per provisioning (the template cache key).
    With the cache a provisioning only stats those files; whatever changed is read again.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.manifests: dict[str, list] = {}
        self.hashes: dict[str, list] = {}
        self.recent: dict[str, list] = {}
        self.dirty = False
        if path is not None:
            try:
                data = json.loads(path.read_text())
                self.manifests = data.get("manifests", {})
                self.hashes = data.get("hashes", {})
                self.recent = data.get("recent", {})
            except (OSError, ValueError, AttributeError):
                pass

    def recently_described(self, request: str, seconds: float) -> dict | None:
        """What described(request, ...) recorded less than `seconds` ago, else None."""
        entry = self.recent.get(request)
        if not entry or not 0 <= time.time() - entry[0] < seconds:
            return None
        return entry[1]

    def described(self, request: str, facts: dict) -> None:
        self.recent = {request: [time.time(), facts]}  # the latest request only: stays small
        self.dirty = True

    def manifest(self, directory: Path) -> dict:
        """depends, auto_install and installable of a module's manifest."""
        file = directory / "__manifest__.py"
        try:
            st = file.stat()
        except OSError as exc:
            raise SaasError(f"cannot read the manifest of {directory.name}: {exc}") from exc
        stamp = [st.st_mtime_ns, st.st_size]
        known = self.manifests.get(str(file))
        if known and known[0] == stamp:
            return known[1]
        data = manifest(directory)
        auto = data.get("auto_install", False)
        kept = {
            "depends": list(data.get("depends", [])),
            "auto_install": list(auto) if isinstance(auto, (list, tuple, set)) else bool(auto),
            "installable": bool(data.get("installable", True)),
        }
        self.manifests[str(file)] = [stamp, kept]
        self.dirty = True
        return kept

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        try:
            atomic_write(
                self.path,
                json.dumps(
                    {"manifests": self.manifests, "hashes": self.hashes, "recent": self.recent}
                ),
            )
        except OSError as exc:
            log.warning("cannot cache module facts in %s: %s", self.path, exc.strerror)


def install_closure(
    paths: Iterable[Path], modules: Iterable[str], cache: ModuleCache | None = None
) -> dict[str, Path]:
    """The modules `-i modules` installs: their dependencies and satisfied auto_install ones."""
    cache = cache or ModuleCache()
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
        manifests[name] = cache.manifest(directory)
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
                data = cache.manifest(directory)
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


def source_hash(
    modules: dict[str, Path], lang: str = "en_US", cache: ModuleCache | None = None
) -> str:
    """SHA-1 over the files of the modules that shape a new database (click-odoo-initdb idea).

    Translation files count only for the language that is loaded; tests and bytecode never.
    With a cache, a module whose files all have the stamps (path, mtime, size) they had when it
    was hashed is not read again.
    """
    lang_files = {f"{lang}.po", f"{lang.split('_')[0]}.po"}
    digest = hashlib.sha1(usedforsecurity=False)
    for name, directory in sorted(modules.items()):
        digest.update(f"\0module:{name}\0".encode())
        files: list[tuple[str, str]] = []
        for root, dirs, names in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
            in_translations = Path(root).name in TRANSLATION_DIRS
            for file in sorted(names):
                if file.endswith((".pyc", ".pyo")):
                    continue
                if in_translations and file not in lang_files:
                    continue
                path = os.path.join(root, file)
                files.append((os.path.relpath(path, directory), path))
        stamps = hashlib.sha1(usedforsecurity=False)
        for rel, path in files:
            st = os.stat(path)
            stamps.update(f"{rel}\0{st.st_mtime_ns}\0{st.st_size}\0".encode())
        key = f"{directory}\0{lang}"
        known = cache.hashes.get(key) if cache else None
        if known and known[0] == stamps.hexdigest():
            digest.update(bytes.fromhex(known[1]))
            continue
        module = hashlib.sha1(usedforsecurity=False)
        for rel, path in files:
            module.update(rel.encode() + b"\0")
            with open(path, "rb") as fh:
                module.update(hashlib.sha1(fh.read(), usedforsecurity=False).digest())
        digest.update(module.digest())
        if cache is not None:
            cache.hashes[key] = [stamps.hexdigest(), module.hexdigest()]
            cache.dirty = True
    return digest.hexdigest()
