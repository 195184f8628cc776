"""The image built and the multi-tenant compose stack run for real, with Podman (opt-in).

Runs only where `podman` and `docker-compose` are installed and the base images are present
locally (odoo:19.0, postgres:16, redis:7, nginx:1.27): it never pulls, so CI skips it. It builds
Dockerfile.custom, starts compose/multi-tenant.yml with two web replicas through Podman's Docker
API (a private `podman system service`), provisions a tenant through `exec`, logs in through nginx,
uses that session on each web replica (sessions in Redis), checks supervisorctl, the HEALTHCHECK,
the log lines, and that `stop` ends every container with 0.

    pytest -m container tests/container -v
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "insightpulse-odoo:19.0-saas"
BASE_IMAGES = ("odoo:19.0", "postgres:16", "redis:7", "nginx:1.27")
TENANT = "acme"


def missing() -> list[str]:
    """What this machine lacks to run the test (empty: run it)."""
    lacks = [tool for tool in ("podman", "docker-compose") if not shutil.which(tool)]
    if "podman" in lacks:
        return lacks
    for image in BASE_IMAGES:
        found = subprocess.run(["podman", "image", "exists", image], capture_output=True)
        if found.returncode != 0:
            lacks.append(f"image {image}")
    return lacks


MISSING = missing()
pytestmark = [
    pytest.mark.container,
    pytest.mark.skipif(
        bool(MISSING),
        reason="needs podman, docker-compose and the base images present locally "
        f"(never pulled): missing {', '.join(MISSING)}",
    ),
]


def run(*cmd: str, env: dict[str, str] | None = None, timeout: float = 600, check: bool = True):
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def build_image() -> None:
    """Dockerfile.custom as it ships; the host's CA bundle (PIP_CERT) replaces the image's for
    the build, for machines whose PyPI goes through a TLS-inspecting proxy."""
    extra: list[str] = []
    cert = os.environ.get("PIP_CERT")
    if cert and Path(cert).is_file():
        extra += ["--volume", f"{cert}:/etc/ssl/certs/ca-certificates.crt:ro"]
    isolation = os.environ.get("BUILDAH_ISOLATION", "chroot")
    run(
        "podman", "build", "--isolation", isolation, "--format", "docker", *extra,
        "-f", str(ROOT / "Dockerfile.custom"), "-t", IMAGE, str(ROOT),
        timeout=1800,
    )  # fmt: skip


class Stack:
    """compose/multi-tenant.yml as a compose project of its own, driven through Podman's API."""

    def __init__(self, workdir: Path) -> None:
        self.project = f"saasct{os.getpid()}"
        self.http_port = free_port()
        socket = workdir / "podman.sock"
        self.service = subprocess.Popen(
            ["podman", "system", "service", "--time=0", f"unix://{socket}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not socket.exists():
            assert time.monotonic() < deadline, "podman system service did not start"
            time.sleep(0.2)
        self.env = {
            **os.environ,
            "DOCKER_HOST": f"unix://{socket}",
            "HTTP_PORT": str(self.http_port),
            "COMPOSE_PROJECT_NAME": self.project,
        }
        self._pumping = threading.Event()
        self._pump = threading.Thread(target=self._run_healthchecks, daemon=True)

    def compose(self, *args: str, timeout: float = 900, check: bool = True):
        file = str(ROOT / "compose" / "multi-tenant.yml")
        return run("docker-compose", "-f", file, *args, env=self.env, timeout=timeout, check=check)

    def containers(self, service: str | None = None) -> list[str]:
        filters = ["--filter", f"label=com.docker.compose.project={self.project}"]
        if service:
            filters += ["--filter", f"label=com.docker.compose.service={service}"]
        out = run("podman", "ps", "-a", *filters, "--format", "{{.Names}}").stdout
        return sorted(out.split())

    def _run_healthchecks(self) -> None:
        """Podman schedules HEALTHCHECKs with systemd timers; without systemd nothing runs them
        and `depends_on: service_healthy` would wait forever, so run them here as well."""
        while not self._pumping.wait(3):
            for name in self.containers():
                subprocess.run(["podman", "healthcheck", "run", name], capture_output=True)

    def up(self) -> None:
        self._pump.start()
        self.compose("up", "-d", "--scale", "web=2")

    def down(self) -> None:
        self._pumping.set()
        self.compose("down", "-v", "--timeout", "5", check=False)
        self.service.terminate()
        self.service.wait(timeout=30)

    def exec(self, container: str, *cmd: str, timeout: float = 600):
        return run("podman", "exec", container, *cmd, timeout=timeout)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    build_image()
    workdir = Path(tempfile.mkdtemp(prefix="odoo-saas-podman-"))
    s = Stack(workdir)
    try:
        s.up()
        yield s
    finally:
        s.down()
        shutil.rmtree(workdir, ignore_errors=True)


def login_through_nginx(port: int, password: str) -> str:
    """Odoo's login form through the proxy, as a browser does it; returns the session id."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    host = {"Host": f"{TENANT}.localhost"}

    def request(path: str, data: bytes | None = None):
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=host)
        return opener.open(req, timeout=120)

    page = request("/web/login").read().decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf, page[:2000]
    form = {"login": "admin", "password": password, "csrf_token": csrf.group(1), "redirect": ""}
    answer = request("/web/login", urllib.parse.urlencode(form).encode())
    assert answer.status == 200
    assert "/web/login" not in answer.geturl(), "the login form came back: wrong password?"
    sessions = [c.value for c in jar if c.name == "session_id"]
    assert sessions, "no session cookie"
    return sessions[0]


# Run inside a web replica: the session's user and database as that replica sees them.
SESSION_INFO = """
import json, os, urllib.request
req = urllib.request.Request(
    "http://127.0.0.1:8069/web/session/get_session_info",
    data=b'{"jsonrpc": "2.0", "method": "call", "params": {}}',
    headers={"Host": os.environ["TENANT_HOST"], "Content-Type": "application/json",
             "Cookie": "session_id=" + os.environ["SID"]},
)
print(json.dumps(json.load(urllib.request.urlopen(req, timeout=60)).get("result")))
"""


def test_tenant_login_through_nginx_is_shared_by_every_web_replica(stack):
    web = stack.containers("web")
    assert len(web) == 2, web
    proc = stack.compose("exec", "-T", "web", "odoo-provision-tenant.sh", TENANT, "--json")
    provisioned = json.loads(proc.stdout)
    assert provisioned["database"] == TENANT and provisioned["created"] is True
    assert provisioned["admin_password"]
    sid = login_through_nginx(stack.http_port, provisioned["admin_password"])
    for replica in web:
        info = run(
            "podman", "exec", "-e", f"SID={sid}", "-e", f"TENANT_HOST={TENANT}.localhost",
            replica, "/opt/odoo-saas/venv/bin/python", "-c", SESSION_INFO,
        ).stdout  # fmt: skip
        result = json.loads(info)
        assert result and result["uid"] and result["db"] == TENANT, f"{replica}: {info}"


EXPECTED_PROGRAMS = {
    "web": {"odoo", "metrics", "watchdog"},
    "cron": {"odoo", "watchdog"},
    "backup": {"backup-scheduler", "watchdog"},
    "metrics": {"metrics", "watchdog"},
}


def test_every_role_runs_its_programs_and_is_healthy(stack):
    for service, programs in EXPECTED_PROGRAMS.items():
        for container in stack.containers(service):
            status = stack.exec(container, "supervisorctl", "status").stdout
            running = {
                line.split()[0] for line in status.splitlines() if line.split()[1:2] == ["RUNNING"]
            }
            assert running == programs, f"{container}:\n{status}"
            # the service's health check, as the engine runs it (compose's or the image's)
            health = run("podman", "healthcheck", "run", container, check=False)
            assert health.returncode == 0, f"{container}: {health.stdout}{health.stderr}"
            # the image's own HEALTHCHECK command, which must suit every role without compose
            image_check = run("podman", "exec", container, "health-check.sh", check=False)
            assert image_check.returncode == 0, f"{container}: {image_check.stdout}"
    # code installed as root, not writable by the runtime user; data directories are its own
    web = stack.containers("web")[0]
    probe = stack.exec(
        web,
        "sh",
        "-c",
        "id -un; touch /opt/odoo-saas/x 2>/dev/null && echo code-writable; "
        "stat -c '%U %n' /var/lib/odoo /run/odoo-saas; stat -c '%a %U' /run/secrets/db_password",
    ).stdout.split("\n")
    assert probe[0] == "odoo" and "code-writable" not in probe
    assert "odoo /var/lib/odoo" in probe and "odoo /run/odoo-saas" in probe
    assert "600 odoo" in probe


def test_logs_hold_each_line_once_and_no_traceback(stack):
    for container in stack.containers("web") + stack.containers("cron"):
        logs = run("podman", "logs", container).stdout
        logs += run("podman", "logs", container).stderr
        assert logs.count("supervisord started with pid") == 1, container
        assert "Traceback" not in logs, f"{container}:\n{logs[-4000:]}"


def test_stop_ends_every_container_with_0(stack):
    stack.compose("stop")
    codes = {
        name: run("podman", "inspect", name, "--format", "{{.State.ExitCode}}").stdout.strip()
        for name in stack.containers()
    }
    assert codes and set(codes.values()) == {"0"}, codes
    web = stack.containers("web")[0]
    logs = run("podman", "logs", web).stdout
    assert "stopped: odoo (exit status 0)" in logs
    assert "WARN" not in "".join(ln for ln in logs.splitlines(True) if "stopped:" in ln)
