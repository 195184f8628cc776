"""Pre-flight: validate and fix what can be fixed before Odoo starts, one finding per item.

Check families, one module each: config (settings, PostgreSQL), directories, addons (manifests,
duplicates, versions), pydeps (Python requirements, installed on demand), tenant_versions
(databases of another Odoo version), autoupdate (changed modules upgraded with rollback).
The entrypoint calls before_start(); `odoo-saas preflight` calls run_checks().
"""

from __future__ import annotations

import logging

import psycopg2

from odoo_saas_tools.backups import orphans
from odoo_saas_tools.core.errors import ConfigError, SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.preflight import (
    addons_check,
    autoupdate,
    config,
    db_roles,
    directories,
    named_databases,
    pydeps,
    tenant_versions,
)
from odoo_saas_tools.preflight.findings import ERROR, OK, WARNING, Report
from odoo_saas_tools.preflight.probe import ProbeResult, odoo_found
from odoo_saas_tools.runtime import render

log = logging.getLogger(__name__)


def probe_odoo(settings: Settings, needs: pydeps.Needs, report: Report) -> ProbeResult | None:
    """One run of Odoo's interpreter for its addons path and the requirements (~1.5 s)."""
    odoo = odoo_found(settings)
    if not odoo:
        report.add(
            "odoo",
            settings.odoo_bin,
            ERROR,
            f"ODOO_BIN={settings.odoo_bin}: not found on PATH; Odoo cannot start",
        )
        if not needs:
            return None
    try:
        result = pydeps.probe(settings, needs)
    except SaasError as exc:
        # Without requirements only the addons path is lost: Odoo's own dirs go unchecked.
        report.add(
            "odoo", settings.odoo_bin, ERROR if needs else WARNING, f"cannot ask Odoo: {exc}"
        )
        return None
    if odoo:
        report.add("odoo", odoo, OK, f"answers; Python {result.executable}")
    return result


def run_checks(
    settings: Settings,
    *,
    fix: bool,
    check_settings: bool = True,
    postgres_required: bool = True,
    odoo: bool = True,
) -> Report:
    """Every check; with fix, also install dependencies and update tenants when enabled.

    Without odoo (roles that run no Odoo: backup, metrics) the addons and Odoo's Python are not
    looked at.
    """
    report = Report()
    if check_settings:
        config.check_settings(settings, report)
    directories.check_directories(settings, report)
    if odoo:
        needs = pydeps.collect(addons_check.resolve(settings, None), report)
        result = probe_odoo(settings, needs, report)
        ap = addons_check.resolve(settings, result.addons_path if result else None)
        addons_check.check_addons(settings, ap, report)
        pydeps.check_python(settings, needs, result, report, fix=fix)
    if not config.check_postgres(settings, report, required=postgres_required):
        return report
    db_roles.check_roles(settings, report, fix=fix)
    if odoo and settings.db_name:
        named_databases.ensure(settings, report, fix=fix)
    if fix:
        sweep_orphans(settings, report)
    if not odoo:
        tenant_versions.scan(settings, report, with_state=False)
        return report
    if settings.auto_update and fix:
        try:
            autoupdate.recover_interrupted(settings, report)
        except (SaasError, psycopg2.Error) as exc:  # BusyError included: someone is on it
            report.add("update", "recovery", WARNING, f"interrupted update not repaired: {exc}")
    tenants = tenant_versions.scan(settings, report, with_state=settings.auto_update)
    if not settings.auto_update:
        return report
    if result is None or not result.addons_path:
        # Without Odoo's own directories core modules would look removed, and -u cannot run.
        report.add("update", "tenants", WARNING, "auto-update skipped: Odoo did not answer")
    elif not fix:
        autoupdate.pending_updates(tenants, addons_check.module_paths(ap), report)
    elif report.errors:
        report.add("update", "tenants", WARNING, "auto-update skipped: fix the errors first")
    else:
        autoupdate.update_tenants(settings, tenants, addons_check.module_paths(ap), report)
    return report


def sweep_orphans(settings: Settings, report: Report) -> None:
    """What killed restores left (a tenant renamed away mid-swap is put back online)."""
    try:
        found = orphans.sweep(settings)
    except (SaasError, psycopg2.Error) as exc:
        report.add("orphans", "sweep", WARNING, f"not swept: {exc}")
        return
    for o in found:
        report.add("orphans", o.name, OK if "still running" in o.action else WARNING, o.action)


def log_report(report: Report) -> None:
    levels = {OK: logging.INFO, WARNING: logging.WARNING, ERROR: logging.ERROR}
    for f in report.findings:
        log.log(levels[f.status], "pre-flight %s %s: %s", f.check, f.item, f.message)
    log.log(logging.ERROR if report.errors else logging.INFO, "pre-flight: %s", report.summary())


def before_start(settings: Settings, *, postgres_required: bool = True) -> Settings:
    """Run at container start (settings already validated by the entrypoint): errors stop it.

    Returns the settings Odoo is rendered with: tenants that must not be served (another Odoo
    version, a failed update) are excluded through the dbfilter, and odoo.conf is re-rendered.
    Only the `all` role repairs (installs dependencies, updates tenants): replicas of the web
    and cron roles report what is pending and leave the work to one job (`preflight --fix`).
    """
    report = run_checks(
        settings,
        fix=settings.role == "all",
        check_settings=False,
        postgres_required=postgres_required,
        odoo=settings.runs_odoo,
    )
    log_report(report)
    if report.errors:
        lines = [f"pre-flight {f.check} {f.item}: {f.message}" for f in report.errors]
        error_class = ConfigError if report.exit_code == ConfigError.exit_code else SaasError
        raise error_class("\n".join(lines), exit_code=report.exit_code)
    serving = tenant_versions.serving_settings(settings, report)
    if serving is not settings:
        log.warning(
            "not serving %s: dbfilter is now %s",
            ", ".join(sorted(report.excluded_tenants)),
            serving.db_filter,
        )
        render.render_all(serving)
    return serving
