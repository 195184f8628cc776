"""The chart's NetworkPolicies, evaluated the way Kubernetes does for each pod of the release.

Egress is what matters here: web pods run addons, and an addon that reaches the cloud metadata
address or the Kubernetes API can take the node's or the cluster's credentials. Each pod may
reach DNS and PostgreSQL; Odoo's pods (web, cron) also Redis and SMTP; only the backup and
restore pods S3; nothing else.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from tests.chart.conftest import Docs, find, workloads

METADATA = ["169.254.169.254", "fd00:ec2::254", "169.254.170.2"]  # EC2/GCE/Azure, IPv6, ECS
API_SERVER = [("10.96.0.1", 443), ("172.18.0.2", 6443), ("10.0.0.1", 443)]
POSTGRES = ("10.42.7.9", 5432)
REDIS = ("10.42.7.10", 6379)
SMTP = ("198.51.100.25", 587)  # ha-values: smtp.example.com:587
S3 = ("52.95.170.1", 443)
ELSEWHERE = [("93.184.215.14", 443), ("93.184.215.14", 80), ("10.42.7.11", 8080)]
KUBE_DNS = ({"kubernetes.io/metadata.name": "kube-system"}, {"k8s-app": "kube-dns"})
ONE_OFF = ("restore.enabled=true", "restore.tenant=acme", "restore.file=s3://b/k.zip",
           "clone.enabled=true", "clone.source=acme", "clone.target=acme-staging")  # fmt: skip


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    spec = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
    return spec["template"]["metadata"]["labels"]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A LabelSelector against labels (matchLabels and matchExpressions, as Kubernetes)."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def policies_of(docs: Docs, labels: dict[str, str], kind: str) -> list[dict[str, Any]]:
    """The NetworkPolicies (of the namespace) selecting a pod with labels, for kind."""
    return [
        d
        for d in docs
        if d["kind"] == "NetworkPolicy"
        and kind in d["spec"].get("policyTypes", ["Ingress"])
        and selects(d["spec"]["podSelector"], labels)
    ]


def port_matches(ports: list[dict[str, Any]] | None, port: int, protocol: str) -> bool:
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        if "port" not in p:
            return True
        if isinstance(p["port"], str):
            raise AssertionError(f"named egress port {p['port']!r}: cannot be checked here")
        if p["port"] <= port <= p.get("endPort", p["port"]):
            return True
    return False


def peer_matches(peers: list[dict[str, Any]] | None, to: Any) -> bool:
    """to: an address (str), or (namespace labels, pod labels) for a pod of the cluster."""
    if not peers:
        return True
    for peer in peers:
        if "ipBlock" in peer:
            if not isinstance(to, str):
                continue  # pod IPs by ipBlock: implementation-defined, never relied upon
            ip = ipaddress.ip_address(to)
            block = ipaddress.ip_network(peer["ipBlock"]["cidr"])
            if ip.version != block.version or ip not in block:
                continue
            if any(
                ip.version == ipaddress.ip_network(e).version and ip in ipaddress.ip_network(e)
                for e in peer["ipBlock"].get("except", [])
            ):
                continue
            return True
        elif not isinstance(to, str):
            ns_labels, labels = to
            ns_ok = (
                selects(peer["namespaceSelector"], ns_labels)
                if "namespaceSelector" in peer
                else ns_labels.get("kubernetes.io/metadata.name") == "saas"
            )
            if ns_ok and selects(peer.get("podSelector", {}), labels):
                return True
    return False


def egress_allowed(docs: Docs, labels: dict[str, str], to: Any, port: int, protocol="TCP"):
    chosen = policies_of(docs, labels, "Egress")
    if not chosen:
        return True  # not isolated for egress: everything goes
    return any(
        port_matches(rule.get("ports"), port, protocol) and peer_matches(rule.get("to"), to)
        for policy in chosen
        for rule in policy["spec"].get("egress", [])
    )


def pods(docs: Docs) -> dict[str, dict[str, str]]:
    """component -> its pods' labels."""
    return {pod_labels(o)["app.kubernetes.io/component"]: pod_labels(o) for o in workloads(docs)}


@pytest.fixture(scope="module")
def ha(render) -> Docs:
    return render("ha-values.yaml", sets=ONE_OFF)


def test_every_pod_is_isolated_for_ingress_and_egress(ha):
    main = find(ha, "NetworkPolicy", "odoo-odoo-saas")
    assert main["spec"]["policyTypes"] == ["Ingress", "Egress"]
    for component, labels in pods(ha).items():
        assert main in policies_of(ha, labels, "Egress"), component
        assert main in policies_of(ha, labels, "Ingress"), component


@pytest.mark.parametrize("case", ["minimal-values.yaml", "ha-values.yaml"])
def test_no_pod_reaches_the_metadata_address_nor_the_kubernetes_api(render, case):
    docs = render(case, sets=(*ONE_OFF, "upgrade.patchDeps=true"))
    for component, labels in pods(docs).items():
        for address in METADATA:
            for port in (80, 443, 53, 5432, 6379, 587, 8080):
                for protocol in ("TCP", "UDP"):
                    assert not egress_allowed(docs, labels, address, port, protocol), (
                        component,
                        address,
                        port,
                    )
        if component in ("backup", "restore", "upgrade"):
            continue  # HTTPS to S3 / the package index: see below
        for address, port in API_SERVER + ELSEWHERE:
            assert not egress_allowed(docs, labels, address, port), (component, address, port)


def test_each_pod_reaches_only_its_services(ha):
    expected = {  # (postgres, redis, smtp, s3)
        "web": (True, True, True, False),
        "cron": (True, True, True, False),
        "metrics": (True, False, False, False),
        "backup": (True, False, False, True),
        "restore": (True, False, False, True),
        "clone": (True, False, False, False),
        "upgrade": (True, False, False, False),
        "tenants": (True, False, False, False),
        "api": (True, False, False, False),  # S3 only with api.offsiteBackups
    }
    labels_of = pods(ha)
    assert set(labels_of) == set(expected)
    for component, (pg, redis, smtp, s3) in expected.items():
        labels = labels_of[component]
        reach = [egress_allowed(ha, labels, *where) for where in (POSTGRES, REDIS, SMTP, S3)]
        assert reach == [pg, redis, smtp, s3], component
        assert egress_allowed(ha, labels, KUBE_DNS, 53, "UDP"), component
        assert egress_allowed(ha, labels, KUBE_DNS, 53, "TCP"), component
        # PostgreSQL as a pod of the cluster (CloudNativePG), in its own namespace
        pg_pod = ({"kubernetes.io/metadata.name": "databases"}, {"cnpg.io/cluster": "odoo-pg"})
        assert egress_allowed(ha, labels, pg_pod, 5432), component
        assert not egress_allowed(ha, labels, pg_pod, 8000), component


def test_the_api_reaches_s3_only_when_it_restores_off_site_copies(render):
    docs = render("ha-values.yaml", sets=("api.offsiteBackups=true",))
    assert egress_allowed(docs, pods(docs)["api"], *S3)
    assert not egress_allowed(docs, pods(docs)["web"], *S3)


def test_the_api_reaches_webhook_receivers_only_when_told(render):
    docs = render("ha-values.yaml", sets=("api.webhooks=true",))
    assert egress_allowed(docs, pods(docs)["api"], "93.184.215.14", 443)
    assert not egress_allowed(docs, pods(docs)["api"], "93.184.215.14", 80)
    assert not egress_allowed(docs, pods(docs)["web"], "93.184.215.14", 443)
    for address in METADATA:
        assert not egress_allowed(docs, pods(docs)["api"], address, 443)
    plain = render("ha-values.yaml")
    assert not egress_allowed(plain, pods(plain)["api"], "93.184.215.14", 443)


def test_web_pods_never_reach_s3_while_backups_do(ha):
    labels = pods(ha)
    assert egress_allowed(ha, labels["backup"], *S3)
    assert not egress_allowed(ha, labels["web"], *S3)
    assert not egress_allowed(ha, labels["cron"], *S3)


def test_the_package_index_only_for_the_upgrade_job_that_installs_dependencies(render):
    docs = render("ha-values.yaml", sets=("upgrade.patchDeps=true",))
    labels = pods(docs)
    assert egress_allowed(docs, labels["upgrade"], "151.101.0.223", 443)
    assert not egress_allowed(docs, labels["web"], "151.101.0.223", 443)
    plain = render("ha-values.yaml")
    assert not egress_allowed(plain, pods(plain)["upgrade"], "151.101.0.223", 443)


def test_no_redis_or_smtp_without_them(render):
    docs = render("minimal-values.yaml")
    web = pods(docs)["web"]
    assert egress_allowed(docs, web, *POSTGRES)
    assert not egress_allowed(docs, web, *REDIS)
    assert not egress_allowed(docs, web, "198.51.100.25", 25)


def test_each_destination_is_a_value(render):
    docs = render(
        "ha-values.yaml",
        sets=(
            "networkPolicy.egress.postgresql.to[0].ipBlock.cidr=10.50.0.0/16",
            "networkPolicy.egress.postgresql.ports[0].port=6432",
            "networkPolicy.egress.s3.to[0].ipBlock.cidr=52.95.0.0/16",
            "networkPolicy.egress.dns.to[0].ipBlock.cidr=10.96.0.10/32",
            "networkPolicy.egress.redis.to[0].podSelector.matchLabels.app=valkey",
            "networkPolicy.egress.smtp.ports[0].port=465",
        ),
    )
    web, backup = pods(docs)["web"], pods(docs)["backup"]
    assert egress_allowed(docs, web, "10.50.3.4", 6432)
    assert not egress_allowed(docs, web, *POSTGRES)  # another network, the default port
    assert not egress_allowed(docs, web, "10.50.3.4", 5432)
    assert egress_allowed(docs, backup, *S3)
    assert not egress_allowed(docs, backup, "3.5.0.1", 443)
    assert egress_allowed(docs, web, "10.96.0.10", 53, "UDP")
    assert not egress_allowed(docs, web, KUBE_DNS, 53, "UDP")
    valkey = ({"kubernetes.io/metadata.name": "saas"}, {"app": "valkey"})
    assert egress_allowed(docs, web, valkey, 6379)
    assert not egress_allowed(docs, web, *REDIS)
    assert egress_allowed(docs, web, "198.51.100.25", 465)
    assert not egress_allowed(docs, web, *SMTP)


def test_extra_destinations_for_every_pod(render):
    docs = render(
        "minimal-values.yaml",
        sets=(
            "networkPolicy.egress.extra[0].to[0].ipBlock.cidr=203.0.113.0/24",
            "networkPolicy.egress.extra[0].ports[0].port=443",
        ),
    )
    for component, labels in pods(docs).items():
        assert egress_allowed(docs, labels, "203.0.113.7", 443), component
        assert not egress_allowed(docs, labels, "203.0.114.7", 443), component


def test_an_open_destination_is_refused(render_error):
    """An empty `to` would mean everywhere, metadata address included: the schema refuses it."""
    err = render_error("minimal-values.yaml", sets=("networkPolicy.egress.postgresql.to={}",))
    assert "/networkPolicy/egress/postgresql/to" in err
    err = render_error("minimal-values.yaml", sets=("networkPolicy.egress.s3.to=null",))
    assert "/networkPolicy/egress/s3" in err and "'to'" in err
    err = render_error(
        "minimal-values.yaml",
        sets=(
            "networkPolicy.egress.dns.to[0].ipBlock.cidr=0.0.0.0/0",
            "networkPolicy.egress.dns.to[0].podSelector.matchLabels.a=b",
        ),
    )
    assert "/networkPolicy/egress/dns/to/0" in err
