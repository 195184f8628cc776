"""Addons on the addons path: manifests that parse, one winner per name, the right Odoo version.

Manifests are read with ast.literal_eval, as Odoo does: never executed, never rewritten. Odoo
silently skips an addon whose manifest does not parse (and may then load a same-named copy from
further down the path), so it is an error here.
"""

from __future__ import annotations

import ast
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odoo_saas_tools.core.odoo_series import ODOO_SERIES as ODOO_MAJOR
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.preflight.findings import ERROR, OK, WARNING, Report
from odoo_saas_tools.runtime import render

MANIFEST = "__manifest__.py"


@dataclass
class Addon:
    name: str
    path: Path
    manifest: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class AddonsPath:
    """The addons path in Odoo's order (first wins) and what was found on it."""

    dirs: list[Path]
    extra_dirs: list[Path]  # the hoster's (ODOO_EXTRA_ADDONS + bundled): manifests fully checked
    addons: list[Addon] = field(default_factory=list)  # every copy, in path order
    winners: dict[str, Addon] = field(default_factory=dict)
    shadowed: list[tuple[Addon, Addon]] = field(default_factory=list)  # (loser, winner)


def parse_manifest(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(manifest, None) or (None, why it is unusable)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"cannot read {path}: {exc}"
    try:
        value = ast.literal_eval(text)
    except SyntaxError as exc:
        return None, f"{path} does not parse (line {exc.lineno}): {exc.msg}"
    except ValueError as exc:  # names, calls, operators: not a literal
        return None, f"{path} is not a plain literal: {exc}"
    if not isinstance(value, dict):
        return None, f"{path} is a {type(value).__name__}, not a dict"
    return value, None


def addon_names(directory: Path) -> list[str]:
    """Sub-directories holding a manifest, sorted (what Odoo would try to load)."""
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return []
    return [e.name for e in entries if (e / MANIFEST).is_file()]


def version_problem(manifest: dict[str, Any]) -> str | None:
    """Why Odoo 19 would not install this version, like odoo.modules.module.check_version."""
    if not manifest.get("installable", True):
        return None
    raw = str(manifest.get("version", "1.0"))
    parts = raw.split(".")
    if not 2 <= len(parts) <= 5 or not all(p.isdigit() for p in parts):
        return f"version {raw!r} is not valid (x.y, x.y.z, {ODOO_MAJOR}.x.y or {ODOO_MAJOR}.x.y.z)"
    if len(parts) <= 3 and not raw.startswith(ODOO_MAJOR):
        return None  # Odoo prefixes the series itself
    if not raw.startswith(ODOO_MAJOR + "."):
        major = ".".join(parts[:2])
        return f"version {raw} is for Odoo {major}: Odoo {ODOO_MAJOR} will not install it"
    return None


def binaries(manifest: dict[str, Any]) -> list[str]:
    """external_dependencies['bin']: programs Odoo looks up on PATH before installing."""
    external = manifest.get("external_dependencies") or {}
    found = external.get("bin", []) if isinstance(external, dict) else []
    return [str(b) for b in found] if isinstance(found, (list, tuple)) else []


def resolve(settings: Settings, odoo_dirs: list[str] | None) -> AddonsPath:
    """Odoo's own order when the probe found it, else the hoster's directories alone."""
    extra = [Path(p) for p in render.plan(settings).addons_path]
    dirs = [Path(p) for p in odoo_dirs] if odoo_dirs else list(extra)
    for d in extra:  # Odoo may have skipped a directory without addons: still show it
        if d not in dirs:
            dirs.append(d)
    return AddonsPath(dirs=dirs, extra_dirs=extra)


def scan(ap: AddonsPath) -> None:
    """Fill addons, winners and shadowed; manifests are parsed for the hoster's directories only
    (Odoo's own ~700 are Odoo's business and would cost time at every start)."""
    if ap.addons:
        return
    for directory in ap.dirs:
        full = directory in ap.extra_dirs
        for name in addon_names(directory):
            addon = Addon(name, directory / name)
            if full:
                addon.manifest, addon.error = parse_manifest(addon.path / MANIFEST)
            ap.addons.append(addon)
            if name in ap.winners:
                ap.shadowed.append((addon, ap.winners[name]))
            else:
                ap.winners[name] = addon


def hoster_addons(ap: AddonsPath) -> list[Addon]:
    """Addons of ODOO_EXTRA_ADDONS (and the bundled ones), every copy."""
    scan(ap)
    return [a for a in ap.addons if a.path.parent in ap.extra_dirs]


def check_addons(settings: Settings, ap: AddonsPath, report: Report) -> None:
    for skipped in render.plan(settings).skipped_addons:
        report.add(
            "addons", skipped, WARNING, "ODOO_EXTRA_ADDONS entry is not a directory: left out"
        )
    scan(ap)
    for directory in ap.extra_dirs:
        mine = [a for a in ap.addons if a.path.parent == directory]
        if not any((a.path / "__init__.py").is_file() for a in mine):
            # Odoo's own test (_is_addons_path): the whole directory is left off the path.
            report.add(
                "addons",
                str(directory),
                WARNING,
                "no addon with __init__.py and __manifest__.py here: Odoo skips this directory",
            )
            if not mine:
                continue
        broken = 0
        for addon in mine:
            if addon.error or addon.manifest is None:
                broken += 1
                report.add("addons", addon.name, ERROR, addon.error or "no manifest")
                continue
            problem = version_problem(addon.manifest)
            if problem:
                report.add("addons", addon.name, WARNING, f"{addon.path}: {problem}")
            for binary in binaries(addon.manifest):
                if not shutil.which(binary):
                    report.add(
                        "addons",
                        addon.name,
                        WARNING,
                        f"needs the program {binary!r}, not on PATH: Odoo refuses to install it",
                    )
            if not (addon.path / "__init__.py").is_file():
                report.add(
                    "addons",
                    addon.name,
                    WARNING,
                    f"{addon.path} has no __init__.py: Odoo cannot import it",
                )
        if not broken:
            report.add("addons", str(directory), OK, f"{len(mine)} addon(s), manifests parse")
    for loser, winner in ap.shadowed:
        if loser.path.parent in ap.extra_dirs or winner.path.parent in ap.extra_dirs:
            report.add(
                "addons",
                loser.name,
                WARNING,
                f"in {winner.path.parent} and {loser.path.parent}: {winner.path} wins (first on "
                "the addons path)",
            )


def module_paths(ap: AddonsPath) -> dict[str, Path]:
    """Where Odoo loads each module from (the first copy on the path)."""
    scan(ap)
    return {name: addon.path for name, addon in ap.winners.items()}
