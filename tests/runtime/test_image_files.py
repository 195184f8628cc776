"""What the image is built from, checked without a Docker engine: Dockerfile, compose, wrappers."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile.custom"
COMPOSE_FILES = sorted((ROOT / "compose").glob("*.yml"))
SCRIPTS = sorted(p for p in (ROOT / "scripts").iterdir() if p.is_file())


def tool(name: str) -> str:
    """A checker the test suite depends on; missing means a broken install, not a skip."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"{name} is not installed (see .ci/run)"
    return found


def test_dockerfile_passes_hadolint():
    proc = subprocess.run([tool("hadolint"), str(DOCKERFILE)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile_is_what_the_runtime_expects():
    ins = instructions()
    args = [rest for kw, rest in ins if kw == "ARG"]
    assert "ODOO_IMAGE=odoo:19.0" in args
    assert ("FROM", "${ODOO_IMAGE}") in ins
    assert set(next(rest for kw, rest in ins if kw == "EXPOSE").split()) == {"8069", "8072", "9090"}
    volume = next(rest for kw, rest in ins if kw == "VOLUME")
    assert all(v in volume for v in ("/var/lib/odoo", "/mnt/extra-addons", "/mnt/backups"))
    assert "health-check.sh" in next(rest for kw, rest in ins if kw == "HEALTHCHECK")
    users = [rest for kw, rest in ins if kw == "USER"]
    assert users[-1] == "odoo", "the runtime user must not be root"
    assert ("ENTRYPOINT", '["/usr/local/bin/odoo-saas", "entrypoint"]') in ins
    assert ins[-1] == ("CMD", "[]"), "the base image's CMD must be reset"
    # the package goes into its own venv; the copied files are the ones the package needs
    run = " ".join(rest for kw, rest in ins if kw == "RUN")
    assert "python3 -m venv /opt/odoo-saas/venv" in run
    for kw, rest in ins:
        if kw == "COPY":
            for src in rest.split()[:-1]:
                if not src.startswith("--"):
                    assert (ROOT / src).exists(), f"COPY source {src} missing"


def test_every_script_the_dockerfile_installs_is_a_thin_wrapper():
    names = {p.name for p in SCRIPTS}
    assert {
        "odoo-db-manager.sh",
        "odoo-provision-tenant.sh",
        "odoo-auto-backup.sh",
        "odoo-metrics.py",
        "health-check.sh",
    } <= names
    for script in SCRIPTS:
        assert os.access(script, os.X_OK), f"{script.name} is not executable"
        body = [
            ln
            for ln in script.read_text().splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")
        ]
        if script.suffix == ".sh":
            subprocess.run(["sh", "-n", str(script)], check=True)
            assert body[-1].startswith("exec odoo-saas "), script.name
            assert len(body) <= 2, f"{script.name} holds logic; it belongs in odoo_saas_tools"


def test_wrappers_reach_the_cli():
    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "LANG": "C.UTF-8"}
    for script in SCRIPTS:
        proc = subprocess.run(
            [str(script), "--help"], env=env, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, f"{script.name} --help: {proc.stderr}"
        assert "usage: odoo-saas" in proc.stdout


@pytest.mark.parametrize("compose_file", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_file_is_valid(compose_file):
    proc = subprocess.run(
        [tool("docker-compose"), "-f", str(compose_file), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("compose_file", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_keeps_secrets_out_and_gates_on_health(compose_file):
    doc = yaml.safe_load(compose_file.read_text())
    for name, service in doc["services"].items():
        env = service.get("environment", {}) or {}
        for key, value in env.items():
            if re.search(r"PASSW|SECRET", key) and not key.endswith("_FILE"):
                assert value is None or str(value).startswith("${"), (
                    f"{compose_file.name}: {name}.{key} is a literal secret"
                )
        for dep, cond in (service.get("depends_on") or {}).items():
            assert cond == {"condition": "service_healthy"}, f"{name} -> {dep} not health-gated"
        if "image" in service and service["image"].startswith(("postgres", "redis")):
            assert "healthcheck" in service
    odoo = doc["services"]["odoo"]
    assert odoo["build"]["dockerfile"] == "Dockerfile.custom"


def test_multi_tenant_stack_routes_tenants_and_websocket():
    doc = yaml.safe_load((ROOT / "compose" / "multi-tenant.yml").read_text())
    odoo_env = doc["services"]["odoo"]["environment"]
    assert odoo_env["ODOO_DB_FILTER"] == "^%d$$"  # $$ is compose's escape for $
    assert odoo_env["ODOO_PROXY_MODE"] == "true"
    nginx = (ROOT / "compose" / "nginx" / "odoo.conf").read_text()
    assert re.search(r"location /websocket \{[^}]*proxy_pass http://odoo_websocket", nginx)
    assert "server odoo:8072" in nginx and "server odoo:8069" in nginx
    for header in ("X-Forwarded-Host", "X-Forwarded-For", "X-Forwarded-Proto"):
        assert f"proxy_set_header {header}" in nginx
