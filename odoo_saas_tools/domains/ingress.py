"""Kubernetes without Caddy: one Ingress per verified custom domain, in the pod's namespace, with
a cert-manager annotation so that cert-manager gets each domain its certificate (HTTP-01).

The Kubernetes API is called over HTTPS with the pod's service-account token and CA (urllib: no
client library). The chart gives the api pod a Role that may touch Ingresses only, in its own
namespace. `sync` makes the cluster match the catalog: creates what is missing, replaces what
differs, deletes the Ingresses of domains no longer verified; it only ever touches Ingresses
labelled as made by this pool (ODOO_SAAS_INGRESS_SERVICE names it).
"""

from __future__ import annotations

import hashlib
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odoo_saas_tools.catalog import domains as rows
from odoo_saas_tools.catalog import store
from odoo_saas_tools.core.errors import ConfigError, SaasError
from odoo_saas_tools.core.settings import Settings

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
API = "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses"
OWNER_LABEL = "odoo-saas/domains-of"  # value: the web Service: one pool's Ingresses
DOMAIN_ANNOTATION = "odoo-saas/domain"
TIMEOUT = 10.0


@dataclass(frozen=True)
class Cluster:
    """Where the Kubernetes API is and how this pod proves who it is."""

    base_url: str
    namespace: str
    token_file: Path
    ca_file: Path

    @classmethod
    def in_pod(cls, settings: Settings, account_dir: Path | None = None) -> Cluster:
        account_dir = account_dir or SERVICE_ACCOUNT
        if not settings.kubernetes_host:
            raise ConfigError(
                "ODOO_SAAS_INGRESS_SERVICE is set but KUBERNETES_SERVICE_HOST is not: Ingresses "
                "are made from a pod of the cluster"
            )
        host = settings.kubernetes_host
        host = f"[{host}]" if ":" in host else host
        try:
            namespace = (account_dir / "namespace").read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"no service-account token in {account_dir} ({exc.strerror}): the api pod needs "
                "automountServiceAccountToken with the chart's Role"
            ) from None
        return cls(
            f"https://{host}:{settings.kubernetes_port}",
            namespace,
            account_dir / "token",
            account_dir / "ca.crt",
        )

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One API call; the decoded answer, SaasError with the API's own message otherwise."""
        token = self.token_file.read_text().strip()  # read each time: bound tokens rotate
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - https only, base_url is ours
            self.base_url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}
            | ({"Content-Type": "application/json"} if data else {}),
        )
        context = ssl.create_default_context(cafile=str(self.ca_file))
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT, context=context) as resp:  # noqa: S310
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("message", "")
            except ValueError:
                message = ""
            raise SaasError(
                f"Kubernetes API {method} {path}: {exc.code} {message or exc.reason}".strip()
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SaasError(f"Kubernetes API {self.base_url} unreachable: {reason}") from None


@dataclass
class SyncResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{len(v)} {k}" for k, v in vars(self).items() if v]
        return "Ingresses: " + (", ".join(parts) if parts else "up to date")


def ingress_name(settings: Settings, domain: str) -> str:
    """A DNS-1123 name per domain (a domain may be longer than a label): hashed."""
    digest = hashlib.sha256(domain.encode()).hexdigest()[:16]
    return f"{settings.ingress_service[:40].rstrip('-')}-domain-{digest}"


def manifest(settings: Settings, domain: str) -> dict[str, Any]:
    """The Ingress of one verified domain: its host to the web Service, /websocket to the
    websocket port (Odoo's gevent server), a certificate from cert-manager."""
    name = ingress_name(settings, domain)
    annotations = json.loads(settings.ingress_annotations) if settings.ingress_annotations else {}
    annotations[DOMAIN_ANNOTATION] = domain
    if settings.ingress_issuer:
        annotations["cert-manager.io/cluster-issuer"] = settings.ingress_issuer

    def path(prefix: str, port: str) -> dict[str, Any]:
        backend = {"service": {"name": settings.ingress_service, "port": {"name": port}}}
        return {"path": prefix, "pathType": "Prefix", "backend": backend}

    spec: dict[str, Any] = {
        "tls": [{"hosts": [domain], "secretName": f"{name}-tls"}],
        "rules": [
            {
                "host": domain,
                "http": {"paths": [path("/websocket", "websocket"), path("/", "http")]},
            }
        ],
    }
    if settings.ingress_class:
        spec["ingressClassName"] = settings.ingress_class
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "labels": {
                "app.kubernetes.io/managed-by": "odoo-saas",
                OWNER_LABEL: settings.ingress_service,
            },
            "annotations": annotations,
        },
        "spec": spec,
    }


def sync(settings: Settings, cluster: Cluster | None = None) -> SyncResult:
    """The cluster's Ingresses of this pool made to match the verified domains."""
    cluster = cluster or Cluster.in_pod(settings)
    with store.session(settings) as cr:
        verified = [row.domain for row in rows.of_tenants(cr) if row.verified]
    wanted = {ingress_name(settings, d): manifest(settings, d) for d in verified}
    base = API.format(ns=urllib.parse.quote(cluster.namespace, safe=""))
    selector = urllib.parse.urlencode(
        {"labelSelector": f"{OWNER_LABEL}={settings.ingress_service}"}
    )
    existing = {
        item["metadata"]["name"]: item
        for item in cluster.call("GET", f"{base}?{selector}")["items"]
    }
    result = SyncResult()
    for name, body in sorted(wanted.items()):
        have = existing.get(name)
        if have is None:
            cluster.call("POST", base, body)
            result.created.append(name)
        elif not _same(have, body):
            body = {**body, "metadata": {**body["metadata"]}}
            body["metadata"]["resourceVersion"] = have["metadata"].get("resourceVersion", "")
            cluster.call("PUT", f"{base}/{name}", body)
            result.updated.append(name)
    for name in sorted(set(existing) - set(wanted)):
        cluster.call("DELETE", f"{base}/{name}")
        result.deleted.append(name)
    return result


def sync_if_enabled(settings: Settings) -> str | None:
    """After a change: the Ingresses follow when this pool makes them (a failure is said, not
    raised: the domain's change is made, and the next sync catches up)."""
    if not settings.ingress_service:
        return None
    try:
        return sync(settings).summary()
    except SaasError as exc:
        return f"Ingresses not synced: {exc}"


def _same(have: dict[str, Any], want: dict[str, Any]) -> bool:
    meta, wanted = have.get("metadata", {}), want["metadata"]
    return (
        have.get("spec") == want["spec"]
        and all(meta.get("annotations", {}).get(k) == v for k, v in wanted["annotations"].items())
        and all(meta.get("labels", {}).get(k) == v for k, v in wanted["labels"].items())
    )
