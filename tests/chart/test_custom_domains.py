"""The chart's two ways to serve tenants' custom domains (issue 29), rendered and validated
against the Kubernetes 1.30 schemas: the Caddy front (customDomains.mode=caddy) and one Ingress
per verified domain kept by the API through a Role on Ingresses only (mode=ingress)."""

from __future__ import annotations

import kubernetes_validate
import pytest

from tests.chart.conftest import ROOT, env_of, find, pod_spec

K8S_VERSION = "1.30.0"
BASE = "minimal-values.yaml"
API = "api.enabled=true"  # the API verifies domains: both modes need it
CADDY = (API, "customDomains.mode=caddy", "customDomains.poolHost=edge.example.com")
ISSUER = "customDomains.ingress.clusterIssuer=letsencrypt-http"
INGRESS = (API, "customDomains.mode=ingress", ISSUER)


@pytest.mark.parametrize("sets", [CADDY, INGRESS], ids=["caddy", "ingress"])
def test_both_modes_render_valid_objects(render, sets):
    docs = render(BASE, sets=sets)
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    web = find(docs, "Deployment", "-web")
    env = env_of(pod_spec(web)["containers"][0])
    assert env["ODOO_DOMAIN"] == "example.com"  # Odoo routes <tenant>.example.com and domains


def test_caddy_front_runs_the_shipped_caddyfile_restricted_with_certificates_kept(render):
    docs = render(BASE, sets=CADDY)
    config = find(docs, "ConfigMap", "-caddy")
    assert config["data"]["Caddyfile"] == (ROOT / "compose/caddy/Caddyfile").read_text()
    caddy = find(docs, "Deployment", "-caddy")
    spec = pod_spec(caddy)
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    (c,) = spec["containers"]
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] and sc["capabilities"] == {"drop": ["ALL"]}
    assert not sc["allowPrivilegeEscalation"]
    env = env_of(c)
    assert env["ODOO_SAAS_TLS_ASK"] == "http://odoo-odoo-saas-api:8089/v1/tls/allowed"
    assert env["ODOO_WEB"] == "odoo-odoo-saas-web" and env["ODOO_DOMAIN"] == "example.com"
    assert env["CADDY_TLS"] == "" and env["CADDY_WILDCARD_TLS"] == "internal"
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    claim = volumes[mounts["/data"]]["persistentVolumeClaim"]["claimName"]
    assert find(docs, "PersistentVolumeClaim", "-caddy")["metadata"]["name"] == claim
    service = find(docs, "Service", "-caddy")
    assert service["spec"]["type"] == "LoadBalancer"
    assert {p["port"] for p in service["spec"]["ports"]} == {80, 443}
    # a wildcard from cert-manager (DNS-01) instead of the local CA
    docs = render(BASE, sets=(*CADDY, "customDomains.caddy.wildcardSecret=wildcard-tls"))
    c = pod_spec(find(docs, "Deployment", "-caddy"))["containers"][0]
    assert env_of(c)["CADDY_WILDCARD_TLS"] == "/certs/tls.crt /certs/tls.key"
    assert {"mountPath": "/certs", "name": "wildcard", "readOnly": True} in c["volumeMounts"]


def test_caddy_reaches_web_and_the_ask_endpoint_and_only_caddy_is_open(render):
    docs = render(BASE, sets=CADDY)
    main = find(docs, "NetworkPolicy", "odoo-saas")
    froms = [peer for rule in main["spec"]["ingress"] for peer in rule["from"]]
    caddy_peer = {"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "odoo-saas", "app.kubernetes.io/instance": "odoo",
        "app.kubernetes.io/component": "caddy"}}}  # fmt: skip
    assert caddy_peer in froms
    front = find(docs, "NetworkPolicy", "-caddy")
    assert front["spec"]["ingress"] == [
        {"ports": [{"port": 8080, "protocol": "TCP"}, {"port": 8443, "protocol": "TCP"}]}
    ]
    reached = {
        rule["to"][0]
        .get("podSelector", {})
        .get("matchLabels", {})
        .get("app.kubernetes.io/component", "outside"): sorted(p["port"] for p in rule["ports"])
        for rule in front["spec"]["egress"]
    }
    assert reached == {"web": [8069, 8072], "api": [8089], "outside": [80, 443]}
    ask = find(docs, "NetworkPolicy", "-api-tls-ask")
    assert ask["spec"]["ingress"][0]["ports"] == [{"port": 8089, "protocol": "TCP"}]
    assert not [d for d in docs if d["kind"] in ("Role", "RoleBinding")]


def test_ingress_mode_gives_the_api_a_role_on_ingresses_only(render, render_error):
    docs = render(BASE, sets=INGRESS)
    role = find(docs, "Role", "-domains")
    assert role["metadata"].get("namespace") in (None, "saas")  # namespaced, never a ClusterRole
    assert role["rules"] == [
        {
            "apiGroups": ["networking.k8s.io"],
            "resources": ["ingresses"],
            "verbs": ["get", "list", "create", "update", "patch", "delete"],
        }
    ]
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    binding = find(docs, "RoleBinding", "-domains")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    (subject,) = binding["subjects"]
    account = find(docs, "ServiceAccount", "-api")
    assert subject == {"kind": "ServiceAccount", "name": account["metadata"]["name"],
                       "namespace": "saas"}  # fmt: skip
    # only the api pod reaches the Kubernetes API; every other pod still does not
    egress = find(docs, "NetworkPolicy", "-api-kubernetes")
    assert egress["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "api"
    assert {p["port"] for p in egress["spec"]["egress"][0]["ports"]} == {443, 6443}
    # the api pod alone runs as that account and mounts its token; no other pod gets one
    api = pod_spec(find(docs, "Deployment", "-api"))
    assert api["serviceAccountName"] == account["metadata"]["name"]
    assert api["automountServiceAccountToken"] is True
    for obj in docs:
        if obj["kind"] in ("Deployment", "Job", "CronJob") and pod_spec(obj) is not api:
            assert pod_spec(obj)["serviceAccountName"] != account["metadata"]["name"]
            assert pod_spec(obj)["automountServiceAccountToken"] is False
    assert "clusterIssuer" in render_error(BASE, sets=(API, "customDomains.mode=ingress"))
    assert "api.enabled" in render_error(BASE, sets=INGRESS[1:])


def test_no_custom_domains_by_default(render):
    docs = render(BASE)
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert not [k for k in kinds if k[1].endswith(("-caddy", "-domains", "-api"))], kinds
