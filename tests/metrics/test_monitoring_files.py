"""compose/ monitoring: rules valid and unit-tested with promtool, every name a real metric."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml
from prometheus_client import generate_latest

from odoo_saas_tools.backups.status import BackupStatus
from odoo_saas_tools.catalog.tenants import Routing
from odoo_saas_tools.observability.metrics import backups, process, tenant_scans
from odoo_saas_tools.observability.metrics.collector import make_registry
from odoo_saas_tools.observability.metrics.refresher import Figures
from tests.metrics.conftest import ROOT

COMPOSE = ROOT / "compose"
# one source for compose and the Helm chart (which renders it as a PrometheusRule)
RULES = ROOT / "charts" / "odoo-saas" / "files" / "alerts.yml"
DASHBOARD = COMPOSE / "grafana" / "dashboards" / "odoo-saas.json"
METRIC = re.compile(r"\bodoo_[a-z_]+\b")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if not binary:  # CI installs it: a missing promtool is a failure, never a skip
        pytest.fail("promtool not found: install the Debian package `prometheus`")
    return subprocess.run(
        [binary, *args], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False
    )


def test_alert_rules_are_valid():
    proc = promtool("check", "rules", str(RULES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_alert_rules_fire_when_they_should():
    proc = promtool("test", "rules", str(ROOT / "tests" / "metrics" / "alerts_test.yml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_prometheus_config_is_valid(tmp_path):
    """Checked in the layout compose mounts: the config and the chart's rules side by side."""
    mounts = yaml.safe_load((COMPOSE / "multi-tenant.yml").read_text())["services"]["prometheus"]
    etc = tmp_path / "etc-prometheus"
    etc.mkdir()
    for volume in mounts["volumes"]:
        source, target = volume.split(":")[:2]
        if target.startswith("/etc/prometheus/"):
            shutil.copy(COMPOSE / source, etc / target.removeprefix("/etc/prometheus/"))
    assert sorted(p.name for p in etc.iterdir()) == ["alerts.yml", "prometheus.yml"]
    assert (etc / "alerts.yml").read_text() == RULES.read_text()
    proc = promtool("check", "config", str(etc / "prometheus.yml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 1 rule files found" in proc.stdout


def exported_names() -> set[str]:
    """Sample names the exporter produces when every figure is known."""

    class Full:
        def snapshot(self) -> Figures:
            status = BackupStatus("t", 1.0, 2.0, 3.0, 4, 5, "verified", 6, 7)
            return Figures(
                odoo_up=True,
                database_up=True,
                tenants={"t": tenant_scans.TenantScan("19.0.1.3", 1, internal_users=2)},
                database_sizes={"t": 1},
                filestore_sizes={"t": 1},
                connections={"t": 1},
                sessions=1,
                tree=process.TreeSample(True, 1, 1, 1.0, 2, {"http": 1}),
                memory_limit=1,
                backups={"t": status},
                backup_disk=backups.DiskUsage(2, 1),
                backup_period=1.0,
                spares_ready=1,
                catalog={"t": Routing("suspended", "x", 5, 100)},
                slow_refreshed_at=1.0,
                slow_duration=1.0,
            )

    text = generate_latest(make_registry(Full())).decode()  # type: ignore[arg-type]
    return {line.split("{")[0].split()[0] for line in text.splitlines() if not line.startswith("#")}


def test_rules_and_dashboard_use_only_exported_metrics():
    names = exported_names()
    assert "odoo_backup_failures_total" in names and "odoo_tenants" in names
    for path in (RULES, DASHBOARD):
        used = set(METRIC.findall(path.read_text()))
        assert used, path
        assert used <= names, f"{path.name} uses unknown metrics: {sorted(used - names)}"


def test_docs_list_every_metric():
    text = (ROOT / "docs" / "metrics.md").read_text()
    missing = sorted(n for n in exported_names() if f"`{n}`" not in text)
    assert not missing, f"docs/metrics.md does not document {missing}"


def test_grafana_provisioning_matches_the_compose_file():
    compose = yaml.safe_load((COMPOSE / "multi-tenant.yml").read_text())
    services = compose["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
    prometheus_conf = yaml.safe_load((COMPOSE / "prometheus" / "prometheus.yml").read_text())
    # every scrape target is a service of the stack exposing that port (web: all its replicas)
    targets = []
    for job in prometheus_conf["scrape_configs"]:
        for static in job.get("static_configs", []):
            targets += [tuple(t.split(":")) for t in static["targets"]]
        for dns in job.get("dns_sd_configs", []):
            targets += [(name, str(dns["port"])) for name in dns["names"]]
    assert {host for host, _ in targets} == {"web", "metrics"}
    for host, port in targets:
        assert host in services and port in [str(p) for p in services[host]["expose"]]

    provider = yaml.safe_load(
        (COMPOSE / "grafana" / "provisioning" / "dashboards" / "odoo-saas.yml").read_text()
    )["providers"][0]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in services["grafana"]["volumes"]}
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    datasource = yaml.safe_load(
        (COMPOSE / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"

    dashboard = json.loads(DASHBOARD.read_text())
    uids = {
        p["datasource"]["uid"] for p in dashboard["panels"] if isinstance(p.get("datasource"), dict)
    }
    assert uids == {datasource["uid"]}
    titles = {p["title"] for p in dashboard["panels"]}
    assert {"Tenants", "Sessions", "Last backup age per tenant"} <= titles
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
