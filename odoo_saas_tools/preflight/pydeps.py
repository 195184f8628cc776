"""Python dependencies of the hoster's addons: checked in Odoo's interpreter, installed on demand.

Sources: each addon's external_dependencies['python'] (Odoo 19 reads them as requirements, i.e.
distribution names with optional specifiers, falling back to import names) and requirements.txt
files (distribution names), per addon and per addons directory (the OCA repository layout).
With ODOO_AUTO_PATCH_DEPS=true the missing ones are installed with `pip install --target
ODOO_DEPS_DIR` (on Odoo's PYTHONPATH), constrained to the versions Odoo's environment already
has, so an addon cannot silently replace a library Odoo depends on.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

from odoo_saas_tools.core import execute
from odoo_saas_tools.core.errors import ConfigError, SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.preflight.addons_check import AddonsPath, hoster_addons
from odoo_saas_tools.preflight.findings import ERROR, OK, WARNING, Report
from odoo_saas_tools.preflight.probe import ProbeResult, run_probe

log = logging.getLogger(__name__)

Needs = dict[tuple[str, str], list[str]]  # (spec, kind) -> who needs it


def requirement_lines(path: Path) -> tuple[list[str], list[str]]:
    """(requirements, lines we do not check) of a requirements.txt."""
    specs: list[str] = []
    unchecked: list[str] = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if not is_plain_requirement(line):
            unchecked.append(line)  # options, URLs and local paths: never installed by us
            continue
        specs.append(line)
    return specs, unchecked


def collect(ap: AddonsPath, report: Report) -> Needs:
    needs: Needs = defaultdict(list)
    for directory in ap.extra_dirs:
        req = directory / "requirements.txt"
        if req.is_file():
            specs, unchecked = requirement_lines(req)
            for spec in specs:
                needs[(spec, "requirement")].append(str(req))
            for line in unchecked:
                report.add("python", line, WARNING, f"{req}: not checked (not a plain requirement)")
    for addon in hoster_addons(ap):
        if addon.manifest is None or ap.winners.get(addon.name) is not addon:
            continue
        if not addon.manifest.get("installable", True):
            continue
        external = addon.manifest.get("external_dependencies") or {}
        python = external.get("python", []) if isinstance(external, dict) else []
        for spec in python if isinstance(python, (list, tuple)) else []:
            needs[(str(spec), "external")].append(addon.name)
        req = addon.path / "requirements.txt"
        if req.is_file():
            specs, unchecked = requirement_lines(req)
            for spec in specs:
                needs[(spec, "requirement")].append(addon.name)
            for line in unchecked:
                report.add("python", line, WARNING, f"{req}: not checked (not a plain requirement)")
    return needs


def probe(settings: Settings, needs: Needs) -> ProbeResult:
    return run_probe(settings, [{"spec": spec, "kind": kind} for spec, kind in needs])


def unmet(result: ProbeResult) -> list[dict[str, str]]:
    return [r for r in result.results if r["status"] in ("missing", "mismatch")]


def dist_name(spec: str) -> str:
    """The normalised distribution name at the start of a requirement (PEP 503)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else spec.lower()


def index_for_log(url: str) -> str:
    """The index without any user:token part, for the log."""
    if not url:
        return "pip's default index"
    parts = urlsplit(url)
    return parts._replace(netloc=parts.hostname or "").geturl() if parts.netloc else url


def install(settings: Settings, result: ProbeResult, specs: list[str]) -> None:
    """pip install --target deps_dir, with Odoo's installed versions as constraints."""
    if not result.has_pip:
        raise SaasError(f"{result.executable} has no pip: cannot install {', '.join(specs)}")
    refused = [spec for spec in specs if not is_plain_requirement(spec)]
    if refused:
        # `name @ file:///...` or a URL runs a build backend of the addon author's choosing
        raise ConfigError(
            f"refusing to install {', '.join(refused)}: only plain package requirements "
            "(name, optional version) are installed, never URLs or paths"
        )
    settings.deps_dir.mkdir(parents=True, exist_ok=True)
    # A clean environment (no secret for a build backend to read) and wheels only (no code
    # of a package runs while installing it).
    env = {"PIP_INDEX_URL": settings.pip_index_url} if settings.pip_index_url else {}
    log.warning(
        "installing missing Python packages %s into %s from %s",
        ", ".join(specs),
        settings.deps_dir,
        index_for_log(settings.pip_index_url),
    )
    with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="odoo-saas-constraints-") as fh:
        requested = {dist_name(spec) for spec in specs}
        for name, version in sorted(result.installed.items()):
            if dist_name(name) not in requested:
                fh.write(f"{name}=={version}\n")
        fh.flush()
        execute.run(
            [
                result.executable,
                "-m",
                "pip",
                "install",
                "--target",
                str(settings.deps_dir),
                "--upgrade",
                "--no-input",
                "--disable-pip-version-check",
                "--no-warn-script-location",
                "--only-binary",
                ":all:",
                "--constraint",
                fh.name,
                *specs,
            ],
            env=env,
            clean_env=True,
            secrets=[settings.pip_index_url, *settings.secret_values()],
            capture=True,
            cwd=tempfile.gettempdir(),
            timeout=900,
        )


def is_plain_requirement(spec: str) -> bool:
    """`name`, `name[extra]>=1.2`, `name==1.0; python_version<"4"`: no URL, no path."""
    head = spec.split(";", 1)[0]
    return not ("@" in head or "://" in head or head.strip().startswith((".", "/", "-", "~")))


def describe(r: dict[str, str], needs: Needs) -> str:
    who = ", ".join(sorted(set(needs[(r["spec"], r["kind"])])))
    if r["status"] == "mismatch":
        return f"installed {r['detail']} does not match; needed by {who}"
    return f"missing; needed by {who}"


def check_python(
    settings: Settings, needs: Needs, result: ProbeResult | None, report: Report, *, fix: bool
) -> None:
    """Report (and with fix + ODOO_AUTO_PATCH_DEPS, install) what the probe found unmet."""
    if not needs:
        report.add("python", "addons", OK, "no addon declares Python requirements")
        return
    if result is None:
        return  # the probe failure is reported already
    where = "Odoo's Python" if result.via_odoo else "this Python (Odoo not found)"
    missing = unmet(result)
    if missing and settings.auto_patch_deps and fix:
        try:
            install(settings, result, [r["spec"] for r in missing])
            result = probe(settings, needs)
        except SaasError as exc:
            report.add("python", "pip", ERROR, f"installing into {settings.deps_dir} failed: {exc}")
        else:
            still = {r["spec"] for r in unmet(result)}
            for r in missing:
                if r["spec"] not in still:
                    done = f"installed into {settings.deps_dir} (ODOO_AUTO_PATCH_DEPS)"
                    report.add("python", r["spec"], OK, done)
        missing = unmet(result)
    hint = (
        ""
        if settings.auto_patch_deps and fix
        else " (ODOO_AUTO_PATCH_DEPS=true installs it at start)"
    )
    for r in missing:
        report.add("python", r["spec"], ERROR, describe(r, needs) + hint)
    for r in result.results:
        if r["status"] == "invalid":
            report.add("python", r["spec"], ERROR, f"not a valid requirement: {r['detail']}")
    if not any(r["status"] in ("missing", "mismatch", "invalid") for r in result.results):
        report.add("python", where, OK, f"{len(needs)} requirement(s) of the addons satisfied")
