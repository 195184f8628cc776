"""The chart's rendered objects: lint, Kubernetes 1.30 schemas, and what each workload must be."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.chart.conftest import (
    CASES,
    CHART,
    ROOT,
    env_of,
    find,
    pod_spec,
    run_helm,
    workloads,
)

K8S_VERSION = "1.30.0"
CRDS = {"ServiceMonitor", "PrometheusRule", "HTTPRoute"}
ONE_OFF_JOBS = (
    "restore.enabled=true", "restore.tenant=acme", "restore.file=s3://b/k.zip",
    "clone.enabled=true", "clone.source=acme", "clone.target=acme-staging",
)  # fmt: skip
SECRET_VARS = re.compile(
    r"(PASSWORD|PASSWD|SECRET_ACCESS_KEY|ACCESS_KEY_ID|SESSION_TOKEN|REDIS_URL)$"
)


def test_ci_cases_exist():
    assert {"minimal-values.yaml", "ha-values.yaml"} <= set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_helm_lint_strict(helm, case):
    proc = run_helm(helm, "lint", "--strict", str(CHART), "-f", str(CHART / "ci" / case))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("case", CASES)
def test_rendered_objects_match_kubernetes_1_30_schemas(render, case):
    docs = render(case)
    checked = 0
    for doc in docs:
        if doc["kind"] in CRDS:
            assert doc["apiVersion"] in (
                "monitoring.coreos.com/v1",
                "gateway.networking.k8s.io/v1",
            )
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize("case", CASES)
def test_pods_meet_the_restricted_pod_security_standard(render, case):
    for obj in workloads(render(case)):
        spec = pod_spec(obj)
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] > 0
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        for c in spec["containers"] + spec.get("initContainers", []):
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, c["name"]
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["runAsNonRoot"] is True
            mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
            # everything written goes to /tmp, the runtime directory or the data volume
            assert mounts["/tmp"] == "tmp" and mounts["/run/odoo-saas"] == "runtime"
            env = env_of(c)
            assert env["ODOO_SAAS_RUNTIME_DIR"] == "/run/odoo-saas"
            assert env["ODOO_DATA_DIR"] == "/var/lib/odoo" and "/var/lib/odoo" in mounts
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert "emptyDir" in volumes["tmp"] and "emptyDir" in volumes["runtime"]
        assert not any("hostPath" in v for v in volumes.values())


@pytest.mark.parametrize("case", CASES)
def test_secrets_only_by_reference(render, case):
    docs = render(case)
    assert not [d for d in docs if d["kind"] == "Secret"], "the chart never renders secrets"
    for cm in (d for d in docs if d["kind"] == "ConfigMap"):
        assert not any(SECRET_VARS.search(k) for k in cm.get("data", {}))
    for obj in workloads(docs):
        spec = pod_spec(obj)
        for c in spec["containers"] + spec.get("initContainers", []):
            for e in c["env"]:
                if SECRET_VARS.search(e["name"]):
                    pytest.fail(f"{obj['metadata']['name']}: {e['name']} given as a value")
                if e["name"].endswith("_FILE"):
                    assert e["value"].startswith("/run/secrets/")
            assert not any("--password" in str(a) for a in c.get("args", []))


def test_web_deployment(render):
    docs = render("ha-values.yaml")
    web = find(docs, "Deployment", "-web")
    assert web["spec"]["replicas"] == 3
    spec = pod_spec(web)
    (c,) = spec["containers"]
    assert "args" not in c and "command" not in c  # the image's entrypoint runs supervisord
    env = env_of(c)
    assert env["ODOO_SAAS_ROLE"] == "web"  # max_cron_threads=0, exporter with process figures
    assert env["ODOO_PROXY_MODE"] == "true" and env["ODOO_DB_FILTER"] == "^%d$"
    assert env["ODOO_LIST_DB"] == "false" and env["ODOO_AUTO_UPDATE"] == "false"
    assert env["ODOO_AUTO_PATCH_DEPS"] == "false" and env["ODOO_AUTO_BACKUP"] == "false"
    assert env["ODOO_ENABLE_REDIS"] == "true" and env["ODOO_WORKERS"] == "4"
    assert not any(k.startswith("AWS_") for k in env)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"http": 8069, "websocket": 8072, "metrics": 9090}
    assert c["readinessProbe"]["httpGet"] == {"path": "/web/health", "port": "http"}
    assert c["startupProbe"]["httpGet"]["path"] == "/web/health"
    assert c["startupProbe"]["failureThreshold"] * c["startupProbe"]["periodSeconds"] >= 300
    assert c["livenessProbe"]["exec"]["command"][:2] == ["odoo-saas", "health"]
    keys = {t["topologyKey"] for t in spec["topologySpreadConstraints"]}
    assert keys == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    assert spec["terminationGracePeriodSeconds"] > int(env["ODOO_STOP_TIMEOUT"])
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "odoo-odoo-saas-data"
    assert "backups" not in volumes
    pdb = find(docs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == web["spec"]["selector"]["matchLabels"]
    data = find(docs, "PersistentVolumeClaim", "-data")
    assert data["spec"]["accessModes"] == ["ReadWriteMany"]


def test_cron_deployment_is_one_replica_without_http(render):
    docs = render("ha-values.yaml")
    cron = find(docs, "Deployment", "-cron")
    assert cron["spec"]["replicas"] == 1 and cron["spec"]["strategy"] == {"type": "Recreate"}
    (c,) = pod_spec(cron)["containers"]
    env = env_of(c)
    assert env["ODOO_SAAS_ROLE"] == "cron" and env["ODOO_MAX_CRON_THREADS"] == "2"
    assert "ports" not in c and env["ODOO_AUTO_UPDATE"] == "false"
    assert not any(k.startswith("AWS_") for k in env)


def test_hpa_scales_the_web_tier_only(render):
    docs = render("hpa-gateway-values.yaml")
    hpa = find(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"].endswith("-web")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    assert "replicas" not in find(docs, "Deployment", "-web")["spec"]
    assert find(docs, "Deployment", "-cron")["spec"]["replicas"] == 1
    env = env_of(pod_spec(find(docs, "Deployment", "-web"))["containers"][0])
    assert env["ODOO_REDIS_URL_FILE"] == "/run/secrets/odoo-saas/redis-url"


def test_backup_cronjob_is_the_only_workload_with_s3_credentials(render):
    docs = render("ha-values.yaml")
    cj = find(docs, "CronJob", "-backup")
    assert cj["spec"]["schedule"] == "15 */4 * * *"
    assert cj["spec"]["timeZone"] == "Europe/Brussels"
    assert cj["spec"]["concurrencyPolicy"] == "Forbid"
    spec = pod_spec(cj)
    (c,) = spec["containers"]
    assert c["args"] == ["odoo-saas", "backup", "run"]
    env = env_of(c)
    assert env["AWS_S3_BUCKET"] == "odoo-backups"
    assert env["AWS_SECRET_ACCESS_KEY_FILE"].startswith("/run/secrets/")
    assert env["BACKUP_SCHEDULE"] == "15 */4 * * *" and env["BACKUP_TZ"] == "Europe/Brussels"
    with_s3 = set()
    for obj in workloads(docs):
        for v in pod_spec(obj)["volumes"]:
            for src in v.get("projected", {}).get("sources", []):
                if src["secret"]["name"] == "odoo-backup-s3":
                    with_s3.add(obj["metadata"]["name"])
        for c in pod_spec(obj)["containers"]:
            if any(k.startswith("AWS_") for k in env_of(c)):
                with_s3.add(obj["metadata"]["name"])
    assert with_s3 == {cj["metadata"]["name"]}  # the control API too only with offsiteBackups


def test_metrics_pool_exporter_once_per_pool(render):
    docs = render("ha-values.yaml")
    m = find(docs, "Deployment", "-metrics")
    assert m["spec"]["replicas"] == 1
    spec = pod_spec(m)
    (c,) = spec["containers"]
    env = env_of(c)
    assert env["ODOO_SAAS_ROLE"] == "metrics"
    # it judges backup age by the schedule and reads $BACKUP_DIR/.status
    assert env["ODOO_AUTO_BACKUP"] == "true" and env["BACKUP_SCHEDULE"] == "15 */4 * * *"
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert mounts["/mnt/backups"]["readOnly"] is True
    assert env["ODOO_METRICS_USER"] == {
        "secretKeyRef": {"name": "odoo-metrics-auth", "key": "username"}
    }
    assert not any(k.startswith("AWS_") for k in env)
    roles = [
        env_of(c)["ODOO_SAAS_ROLE"]
        for d in docs
        if d["kind"] == "Deployment"
        for c in pod_spec(d)["containers"]
    ]
    assert sorted(roles) == ["api", "cron", "metrics", "web"]  # nobody runs `all`: one pool scan


def test_service_monitor_and_prometheus_rule(render):
    docs = render("ha-values.yaml")
    sm = find(docs, "ServiceMonitor")
    selected = [
        s
        for s in docs
        if s["kind"] == "Service"
        and sm["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
    ]
    assert sorted(s["metadata"]["name"] for s in selected) == [
        "odoo-odoo-saas-metrics",
        "odoo-odoo-saas-web",
    ]
    for s in selected:  # job="odoo-saas", as the rules expect
        assert s["metadata"]["labels"][sm["spec"]["jobLabel"]] == "odoo-saas"
        assert "metrics" in {p["name"] for p in s["spec"]["ports"]}
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    rule = find(docs, "PrometheusRule")
    source = yaml.safe_load((CHART / "files" / "alerts.yml").read_text())
    assert rule["spec"] == source  # one source with compose's Prometheus


def test_prometheus_rule_passes_promtool(render, tmp_path):
    promtool = shutil.which("promtool")
    if not promtool:  # CI installs it: a failure, never a skip (as tests/metrics)
        pytest.fail("promtool not found: install the Debian package `prometheus`")
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(find(render("ha-values.yaml"), "PrometheusRule")["spec"]))
    proc = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and "SUCCESS" in proc.stdout, proc.stdout + proc.stderr
    test = tmp_path / "test.yml"
    source = (ROOT / "tests" / "metrics" / "alerts_test.yml").read_text()
    test.write_text(source.replace("../../charts/odoo-saas/files/alerts.yml", str(rules)))
    proc = subprocess.run(
        [promtool, "test", "rules", str(test)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ingress_wildcard_websocket_and_tls(render):
    ing = find(render("ha-values.yaml"), "Ingress")
    api, rule = ing["spec"]["rules"]  # api.<domain> (the control API), then every tenant
    assert api["host"] == "api.saas.example.com"
    assert rule["host"] == "*.saas.example.com"
    paths = {p["path"]: p["backend"]["service"] for p in rule["http"]["paths"]}
    assert paths["/websocket"] == {"name": "odoo-odoo-saas-web", "port": {"name": "websocket"}}
    assert paths["/"] == {"name": "odoo-odoo-saas-web", "port": {"name": "http"}}
    (tls,) = ing["spec"]["tls"]
    assert tls["hosts"] == ["*.saas.example.com"] and tls["secretName"]
    notes = ing["metadata"]["annotations"]
    assert notes["cert-manager.io/cluster-issuer"] == "letsencrypt-dns01"
    assert notes["nginx.ingress.kubernetes.io/proxy-body-size"] == "512m"
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 720
    assert ing["spec"]["ingressClassName"] == "nginx"


def test_http_route(render):
    docs = render("hpa-gateway-values.yaml")
    assert not [d for d in docs if d["kind"] == "Ingress"]
    route = find(docs, "HTTPRoute")
    assert route["spec"]["hostnames"] == ["*.example.com"]
    first, second = route["spec"]["rules"]
    assert first["matches"][0]["path"]["value"] == "/websocket"
    assert first["backendRefs"][0]["port"] == 8072 and second["backendRefs"][0]["port"] == 8069


def test_network_policy_admits_only_ingress_and_prometheus(render):
    docs = render("ha-values.yaml")
    np = find(docs, "NetworkPolicy", "odoo-odoo-saas")
    selector = np["spec"]["podSelector"]["matchLabels"]
    for obj in workloads(docs):
        labels = (
            obj["spec"]["jobTemplate"]["spec"]["template"]
            if obj["kind"] == "CronJob"
            else obj["spec"]["template"]
        )["metadata"]["labels"]
        assert selector.items() <= labels.items(), obj["metadata"]["name"]
    web_rule, prom_rule = np["spec"]["ingress"]
    assert {p["port"] for p in web_rule["ports"]} == {8069, 8072}
    assert web_rule["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"
    }
    assert {p["port"] for p in prom_rule["ports"]} == {9090}
    # egress: tests/chart/test_network_policy.py; the others admit nothing
    assert np["spec"]["policyTypes"] == ["Ingress", "Egress"]
    others = [d for d in docs if d["kind"] == "NetworkPolicy" and d is not np]
    api = find(docs, "NetworkPolicy", "-api")  # the control API's port, from the ingress only
    assert api["spec"]["policyTypes"] == ["Ingress"]
    assert api["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "api"
    (api_rule,) = api["spec"]["ingress"]
    assert api_rule["from"] == web_rule["from"] and api_rule["ports"] == [
        {"port": 8089, "protocol": "TCP"}
    ]
    others.remove(api)
    assert others and all(o["spec"]["policyTypes"] == ["Egress"] for o in others)


def test_upgrade_hook_runs_preflight_fix_with_module_updates(render):
    job = find(render("ha-values.yaml"), "Job", "-upgrade")
    notes = job["metadata"]["annotations"]
    assert notes["helm.sh/hook"] == "pre-upgrade"
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["activeDeadlineSeconds"] > 0
    (c,) = pod_spec(job)["containers"]
    assert c["args"] == ["odoo-saas", "preflight", "--fix"]
    env = env_of(c)
    assert env["ODOO_AUTO_UPDATE"] == "true" and env["ODOO_SAAS_ROLE"] == "all"


def test_tenants_hook_job(render):
    job = find(render("ha-values.yaml"), "Job", "-tenants")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    spec = pod_spec(job)
    acme, globex = spec["initContainers"]
    assert acme["args"][:2] == ["/bin/sh", "-c"] and acme["args"][3:6] == [
        "provision",
        "acme",
        "--json",
    ]
    assert "--company-name" in acme["args"] and "ACME Ltd's shop" in acme["args"]
    assert "--admin-password-file" in acme["args"]
    assert globex["args"][4] == "globex"
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["admin-0"]["secret"]["secretName"] == "acme-admin"
    assert not [
        d for d in render("minimal-values.yaml") if d["metadata"]["name"].endswith("-tenants")
    ]


def test_one_off_jobs_render_only_on_demand(render):
    assert not [
        d
        for d in render("ha-values.yaml")
        if d["kind"] == "Job" and "restore" in json.dumps(d["metadata"])
    ]
    docs = render(
        "ha-values.yaml",
        sets=(
            "restore.enabled=true",
            "restore.tenant=acme",
            "restore.file=s3://odoo-backups/odoo-backups/acme/acme.zip",
            "restore.force=true",
            "clone.enabled=true",
            "clone.source=acme",
            "clone.target=acme-staging",
        ),
    )
    restore = find(docs, "Job", "-restore-acme")
    (c,) = pod_spec(restore)["containers"]
    assert c["args"] == [
        "odoo-saas", "db", "restore", "--json", "--force", "--",
        "acme", "s3://odoo-backups/odoo-backups/acme/acme.zip",
    ]  # fmt: skip
    assert "AWS_SECRET_ACCESS_KEY_FILE" in env_of(c)
    clone = find(docs, "Job", "-clone-acme-staging")
    (c,) = pod_spec(clone)["containers"]
    assert c["args"] == ["odoo-saas", "db", "clone", "--json", "--", "acme", "acme-staging"]
    assert not any(k.startswith("AWS_") for k in env_of(c))


def test_minimal_case_is_one_web_pod_without_redis(render):
    docs = render("minimal-values.yaml")
    web = find(docs, "Deployment", "-web")
    assert web["spec"]["replicas"] == 1
    env = env_of(pod_spec(web)["containers"][0])
    assert "ODOO_ENABLE_REDIS" not in env and env["TENANT_DB_PREFIX"] == ""
    assert env["TENANT_URL_TEMPLATE"] == "https://{tenant}.example.com"
    assert not [d for d in docs if d["kind"] in CRDS | {"HorizontalPodAutoscaler"}]


def test_spares_are_kept_by_the_cron_pod(render, render_error):
    """PROVISION_SPARES reaches the pods; only the single cron pod runs the `spares` program
    (the role decides, see tests/runtime/test_roles.py)."""
    docs = render("ha-values.yaml", sets=("provisionSpares=10",))
    cron = env_of(pod_spec(find(docs, "Deployment", "-cron"))["containers"][0])
    assert cron["PROVISION_SPARES"] == "10" and cron["ODOO_SAAS_ROLE"] == "cron"
    default = env_of(
        pod_spec(find(render("ha-values.yaml"), "Deployment", "-cron"))["containers"][0]
    )
    assert "PROVISION_SPARES" not in default
    assert "provisionSpares" in render_error("ha-values.yaml", sets=("provisionSpares=-1",))


def mounted_secrets(obj: dict[str, Any]) -> set[tuple[str, str]]:
    """(Secret, key) of everything a workload's pods can read: its Secret volumes and the
    secretKeyRef variables of its containers."""
    spec = pod_spec(obj)
    found = set()
    for v in spec["volumes"]:
        sources = v.get("projected", {}).get("sources", [])
        if "secret" in v:
            sources = [{"secret": {"name": v["secret"]["secretName"], **v["secret"]}}]
        for src in sources:
            if "secret" in src:
                found |= {(src["secret"]["name"], i["key"]) for i in src["secret"]["items"]}
    for c in spec["containers"] + spec.get("initContainers", []):
        for e in c["env"]:
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                found.add((ref["name"], ref["key"]))
    return found


RESTIC = ("backup.offsite=restic", "backup.encryption.existingSecret=odoo-backup-key")


@pytest.mark.parametrize("offsite", ["s3", "restic"])
def test_each_pod_mounts_only_the_secrets_it_needs(render, offsite):
    """Every process of a pod runs as uid 100 with the fsGroup, so whatever a pod mounts its
    Odoo can read: Odoo's pods get the master password's hash only, and no pod gets a secret
    it does not use (the master password's where Odoo is not checked, Redis's and SMTP's where
    Odoo does not run, the exporters' password where no exporter runs, S3's and restic's
    repository key where no backup is made or restored)."""
    docs = render("ha-values.yaml", sets=ONE_OFF_JOBS + (RESTIC if offsite == "restic" else ()))
    pg, admin = ("odoo-pg-app", "password"), ("odoo-admin", "admin-passwd-hash")
    manager = ("odoo-pg-manager", "password")  # odoo-saas's management role: never where Odoo runs
    redis, smtp = ("valkey", "valkey-password"), ("odoo-smtp", "password")
    auth = {("odoo-metrics-auth", "username"), ("odoo-metrics-auth", "password")}
    s3 = {("odoo-backup-s3", "AWS_ACCESS_KEY_ID"), ("odoo-backup-s3", "AWS_SECRET_ACCESS_KEY")}
    expected = {
        "-web": {pg, admin, redis, smtp, *auth},
        "-cron": {pg, admin, redis, smtp},
        "-metrics": {pg, *auth},
        "-backup": {pg, *s3},
        "-restore-acme": {pg, manager, *s3},
        "-clone-acme-staging": {pg, manager},
        # pre-flight checks the settings the new pods will start with, and migrates the roles
        "-upgrade": {pg, admin, manager},
        "-tenants": {pg, manager, ("acme-admin", "password")},
        # the control API creates, restores and drops tenants (S3 only with offsiteBackups)
        "-api": {pg, manager},
    }
    if offsite == "restic":  # the repository's key where restic runs, and nowhere else
        for suffix in ("-backup", "-restore-acme"):
            expected[suffix] = expected[suffix] | {("odoo-backup-key", "password")}
    seen = {}
    for obj in workloads(docs):
        suffix = max((s for s in expected if obj["metadata"]["name"].endswith(s)), key=len)
        seen[suffix] = mounted_secrets(obj)
    assert seen == expected
    assert find(docs, "Deployment", "-web")  # the key read is the hash's, never a clear one
    env = env_of(pod_spec(find(docs, "Deployment", "-web"))["containers"][0])
    assert env["ODOO_ADMIN_PASSWD_FILE"] == "/run/secrets/odoo-saas/admin-passwd-hash"
    for obj in workloads(docs):
        for c in pod_spec(obj)["containers"] + pod_spec(obj).get("initContainers", []):
            for name, value in env_of(c).items():
                if name.endswith("_FILE"):  # every file named is mounted in that pod
                    key = value.rsplit("/", 1)[-1]
                    assert any(
                        key == item.get("path")
                        for v in pod_spec(obj)["volumes"]
                        for src in v.get("projected", {}).get("sources", [])
                        for item in src.get("secret", {}).get("items", [])
                    ) or value.startswith("/run/secrets/tenant-"), (obj["metadata"]["name"], name)


def test_the_default_admin_key_names_a_hash(render):
    docs = render("minimal-values.yaml")
    assert ("odoo-admin", "admin-passwd-hash") in mounted_secrets(find(docs, "Deployment", "-web"))


def test_restic_settings_go_to_the_backup_and_restore_pods_only(render):
    docs = render(
        "ha-values.yaml", sets=ONE_OFF_JOBS + RESTIC + ("backup.prune.schedule=0 4 * * 1",)
    )
    given = {}
    for obj in workloads(docs):
        for c in pod_spec(obj)["containers"] + pod_spec(obj).get("initContainers", []):
            for name, value in env_of(c).items():
                given.setdefault(name, {})[obj["metadata"]["name"]] = value
    backup, restore = "odoo-odoo-saas-backup", "odoo-odoo-saas-restore-acme"
    assert given["BACKUP_OFFSITE"] == {backup: "restic", restore: "restic"}
    key = "/run/secrets/odoo-saas/backup-encryption-password"
    assert given["BACKUP_ENCRYPTION_PASSWORD_FILE"] == {backup: key, restore: key}
    assert given["BACKUP_PRUNE_SCHEDULE"] == {backup: "0 4 * * 1"}  # the run prunes when due
    assert given["RESTORE_MAX_DB_SIZE"] == {restore: "20G"}
    # restic:TENANT@TIME is read in the schedule's time zone, which the exporter knows too
    assert given["BACKUP_TZ"][restore] == given["BACKUP_TZ"][backup] == "Europe/Brussels"
    assert given["AWS_S3_BUCKET"] == {backup: "odoo-backups", restore: "odoo-backups"}


def test_the_control_api_is_its_own_deployment_reached_through_the_ingress_only(render):
    docs = render("ha-values.yaml")
    api = find(docs, "Deployment", "-api")
    assert api["spec"]["replicas"] == 2
    (c,) = pod_spec(api)["containers"]
    env = env_of(c)
    assert env["ODOO_SAAS_ROLE"] == "api" and env["ODOO_SAAS_API_PORT"] == "8089"
    assert env["ODOO_SAAS_DB_PASSWORD_FILE"] == "/run/secrets/odoo-saas/saas-db-password"
    assert "ODOO_ADMIN_PASSWD_FILE" not in env and "AWS_S3_BUCKET" not in env
    assert c["ports"] == [{"name": "api", "containerPort": 8089, "protocol": "TCP"}]
    service = find(docs, "Service", "-api")
    assert service["spec"]["ports"][0]["port"] == 8089
    assert service["spec"]["type"] == "ClusterIP"
    rules = find(docs, "Ingress", "")["spec"]["rules"]
    assert rules[0]["host"] == "api.saas.example.com"
    assert rules[0]["http"]["paths"][0]["backend"]["service"]["name"].endswith("-api")
    policy = find(docs, "NetworkPolicy", "-api")
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": 8089, "protocol": "TCP"}]
    assert all("namespaceSelector" in peer and "podSelector" in peer for peer in rule["from"])
    offsite = render("ha-values.yaml", sets=("api.offsiteBackups=true",))
    env = env_of(pod_spec(find(offsite, "Deployment", "-api"))["containers"][0])
    assert env["AWS_S3_BUCKET"] == "odoo-backups"
    off = render("minimal-values.yaml")
    assert not [d for d in off if d["metadata"]["name"].endswith("-api")]
