"""Pre-flight: validate and fix what can be fixed before Odoo starts, one finding per item.

Check families, one module each: config (settings, PostgreSQL), directories, addons (manifests,
duplicates, versions), pydeps (Python requirements, installed on demand), tenant_versions
(databases of another Odoo version), autoupdate (changed modules upgraded with rollback).
The entrypoint calls before_start(); `odoo-saas preflight` calls run_checks().
"""

from __future__ import annotations

import logging

from odoo_saas_tools import render
from odoo_saas_tools.errors import ConfigError, SaasError
from odoo_saas_tools.odoo_addons import odoo_install
from odoo_saas_tools.preflight import (
    addons,
    autoupdate,
    config,
    directories,
    pydeps,
    tenant_versions,
)
from odoo_saas_tools.preflight.findings import ERROR, OK, WARNING, Report
from odoo_saas_tools.preflight.probe import odoo_found
from odoo_saas_tools.settings import Settings

log = logging.getLogger(__name__)


def _odoo_dirs(s: Settings, report: Report) -> list[str] | None:
    if not odoo_found(s):
        report.add(
            "odoo",
            s.odoo_bin,
            ERROR,
            f"ODOO_BIN={s.odoo_bin}: not found on PATH; Odoo cannot start",
        )
        return None
    try:
        install = odoo_install(s)
    except SaasError as exc:
        report.add("odoo", s.odoo_bin, WARNING, f"cannot read Odoo's addons path: {exc}")
        return None
    report.add("odoo", s.odoo_bin, OK, f"Odoo {install.version}")
    return [str(p) for p in install.paths]


def run_checks(
    s: Settings, *, fix: bool, check_settings: bool = True, postgres_required: bool = True
) -> Report:
    """Every check; with fix, also install dependencies and update tenants when enabled."""
    report = Report()
    if check_settings:
        config.check_settings(s, report)
    directories.check_directories(s, report)
    ap = addons.resolve(s, _odoo_dirs(s, report))
    addons.check_addons(s, ap, report)
    pydeps.check_python(s, ap, report, fix=fix)
    if not config.check_postgres(s, report, required=postgres_required):
        return report
    tenants = tenant_versions.scan(s, report, with_state=s.auto_update)
    if not s.auto_update:
        return report
    if not fix:
        autoupdate.pending_updates(tenants, addons.module_paths(ap), report)
    elif report.errors:
        report.add("update", "tenants", WARNING, "auto-update skipped: fix the errors first")
    else:
        autoupdate.update_tenants(s, tenants, addons.module_paths(ap), report)
    return report


def log_report(report: Report) -> None:
    levels = {OK: logging.INFO, WARNING: logging.WARNING, ERROR: logging.ERROR}
    for f in report.findings:
        log.log(levels[f.status], "pre-flight %s %s: %s", f.check, f.item, f.message)
    log.log(logging.ERROR if report.errors else logging.INFO, "pre-flight: %s", report.summary())


def before_start(s: Settings, *, postgres_required: bool = True) -> Settings:
    """Run at container start (settings already validated by the entrypoint): errors stop it.

    Returns the settings Odoo is rendered with: tenants that must not be served (another Odoo
    version, a failed update) are excluded through the dbfilter, and odoo.conf is re-rendered.
    """
    report = run_checks(s, fix=True, check_settings=False, postgres_required=postgres_required)
    log_report(report)
    if report.errors:
        lines = [f"pre-flight {f.check} {f.item}: {f.message}" for f in report.errors]
        error_class = ConfigError if report.exit_code == ConfigError.exit_code else SaasError
        raise error_class("\n".join(lines), exit_code=report.exit_code)
    serving = tenant_versions.serving_settings(s, report)
    if serving is not s:
        log.warning(
            "not serving %s: dbfilter is now %s",
            ", ".join(sorted(report.excluded_tenants)),
            serving.db_filter,
        )
        render.render_all(serving)
    return serving
