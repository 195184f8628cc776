"""domains/ingress.py against a fake Kubernetes API over HTTPS (its own CA, a bearer token),
with the verified domains of the real catalog: one Ingress per verified domain, only this pool's
Ingresses touched."""

from __future__ import annotations

import copy
import dataclasses
import http.server
import json
import ssl
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.domains import ingress, manage
from tests.support.net import free_port

TOKEN = "service-account-token-1"
NAMESPACE = "saas"
BASE = f"/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/ingresses"


class FakeKubernetes(http.server.ThreadingHTTPServer):
    """Ingresses of one namespace in memory; every request recorded."""

    def __init__(self, certfile: Path) -> None:
        self.items: dict[str, dict] = {}
        self.calls: list[tuple[str, str]] = []
        self.version = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                outer.calls.append((self.command, url.path))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._answer(401, {"message": "Unauthorized"})
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                name = url.path.removeprefix(BASE).strip("/")
                if not url.path.startswith(BASE):
                    return self._answer(403, {"message": "forbidden: ingresses only"})
                if self.command == "GET" and not name:
                    selector = urllib.parse.parse_qs(url.query).get("labelSelector", [""])[0]
                    key, _, value = selector.partition("=")
                    items = [
                        i for i in outer.items.values()
                        if not key or i["metadata"].get("labels", {}).get(key) == value
                    ]  # fmt: skip
                    return self._answer(200, {"items": items})
                if self.command == "POST":
                    outer.version += 1
                    body["metadata"]["resourceVersion"] = str(outer.version)
                    outer.items[body["metadata"]["name"]] = body
                    return self._answer(201, body)
                if self.command == "PUT":
                    have = outer.items[name]["metadata"]["resourceVersion"]
                    if body["metadata"].get("resourceVersion") != have:
                        return self._answer(409, {"message": "the object has been modified"})
                    outer.version += 1
                    body["metadata"]["resourceVersion"] = str(outer.version)
                    outer.items[name] = body
                    return self._answer(200, body)
                if self.command == "DELETE":
                    outer.items.pop(name)
                    return self._answer(200, {"status": "Success"})
                return self._answer(405, {"message": "no"})

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", free_port()), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture
def cluster(tmp_path) -> Iterator[tuple[FakeKubernetes, Path]]:
    account = tmp_path / "serviceaccount"
    account.mkdir()
    pem = tmp_path / "server.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=kubernetes", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(tmp_path / "key.pem"), "-out", str(account / "ca.crt")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    pem.write_text((tmp_path / "key.pem").read_text() + (account / "ca.crt").read_text())
    (account / "token").write_text(TOKEN + "\n")
    (account / "namespace").write_text(NAMESPACE)
    server = FakeKubernetes(pem)
    yield server, account
    server.shutdown()
    server.server_close()


def pool_settings(dsettings, port: int):
    return dataclasses.replace(
        dsettings,
        ingress_service="odoo-odoo-saas-web",
        ingress_class="nginx",
        ingress_issuer="letsencrypt-http",
        ingress_annotations='{"nginx.ingress.kubernetes.io/proxy-body-size": "512m"}',
        kubernetes_host="127.0.0.1",
        kubernetes_port=port,
    )


def test_one_ingress_per_verified_domain_and_nothing_else_touched(
    cluster, dsettings, dnsd, tenant, domain, monkeypatch
):
    server, account = cluster
    monkeypatch.setattr(ingress, "SERVICE_ACCOUNT", account)  # the pod's, for manage's sync
    settings = pool_settings(dsettings, server.server_address[1])
    acme, name, pending = tenant(), domain(), domain("pending")
    dnsd.set(txt={f"_odoo-saas-challenge.{name}": manage.add(settings, acme, name).row.token})
    manage.verify(dsettings, acme, name)  # without the sync: the next sync catches up
    manage.add(settings, acme, pending)
    theirs = {"metadata": {"name": "other-pool", "labels": {ingress.OWNER_LABEL: "x-web"},
                           "resourceVersion": "1"}, "spec": {}}  # fmt: skip
    stale = ingress.manifest(settings, "gone.example.org")
    stale["metadata"]["resourceVersion"] = "1"
    outdated = ingress.manifest(dataclasses.replace(settings, ingress_issuer="old"), name)
    outdated["metadata"]["resourceVersion"] = "2"
    server.items = {
        "other-pool": theirs,
        stale["metadata"]["name"]: stale,
        outdated["metadata"]["name"]: outdated,
    }
    untouched = copy.deepcopy(theirs)
    cl = ingress.Cluster.in_pod(settings, account)
    result = ingress.sync(settings, cl)

    mine = ingress.ingress_name(settings, name)
    assert mine in result.updated and stale["metadata"]["name"] in result.deleted
    assert ingress.ingress_name(settings, pending) not in server.items  # not verified
    assert server.items["other-pool"] == untouched
    made = server.items[mine]
    assert made["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-http"
    assert made["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"] == "512m"
    assert made["spec"]["ingressClassName"] == "nginx"
    assert made["spec"]["tls"] == [{"hosts": [name], "secretName": f"{mine}-tls"}]
    paths = {p["path"]: p["backend"]["service"] for p in made["spec"]["rules"][0]["http"]["paths"]}
    assert paths == {
        "/websocket": {"name": "odoo-odoo-saas-web", "port": {"name": "websocket"}},
        "/": {"name": "odoo-odoo-saas-web", "port": {"name": "http"}},
    }
    assert made["spec"]["rules"][0]["host"] == name

    server.calls.clear()
    assert ingress.sync(settings, cl).summary() == "Ingresses: up to date"
    assert [c[0] for c in server.calls] == ["GET"]

    # removing the domain through the usual command removes its Ingress (the sync follows)
    removed = manage.remove(settings, acme, name)
    assert removed.ingress and "1 deleted" in removed.ingress
    assert mine not in server.items


def test_a_refused_token_is_one_line_and_the_change_stands(
    cluster, dsettings, tenant, domain, monkeypatch
):
    server, account = cluster
    monkeypatch.setattr(ingress, "SERVICE_ACCOUNT", account)
    (account / "token").write_text("stolen-or-expired")
    settings = pool_settings(dsettings, server.server_address[1])
    with pytest.raises(SaasError, match=r"^Kubernetes API GET .*: 401 Unauthorized$"):
        ingress.sync(settings, ingress.Cluster.in_pod(settings, account))
    acme, name = tenant(), domain()
    manage.add(settings, acme, name)
    removed = manage.remove(settings, acme, name)
    assert removed.ingress.startswith("Ingresses not synced: Kubernetes API GET")
    assert manage.listing(settings, acme) == []


def test_outside_a_pod_the_sync_says_why(dsettings):
    settings = dataclasses.replace(dsettings, ingress_service="web", kubernetes_host="")
    assert "KUBERNETES_SERVICE_HOST is not" in ingress.sync_if_enabled(settings)
