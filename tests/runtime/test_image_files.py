"""What the image is built from, checked without a Docker engine: Dockerfile, compose, wrappers."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from odoo_saas_tools.core.passwords import verify_password

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
    # buildah (podman build) warns about every ARG without a default that the build is not given
    for arg in args:
        assert "=" in arg, f"ARG {arg} has no default"
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


@pytest.mark.parametrize("env_file", [None, "example.env"], ids=["defaults", "example.env"])
@pytest.mark.parametrize("compose_file", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_file_is_valid(compose_file, env_file):
    """Valid with no .env at all (the fresh-machine start) and with the documented overrides."""
    extra = ["--env-file", str(ROOT / "compose" / env_file)] if env_file else []
    proc = subprocess.run(
        [tool("docker-compose"), *extra, "-f", str(compose_file), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr


def odoo_services(doc: dict) -> dict[str, dict]:
    return {
        name: svc
        for name, svc in doc["services"].items()
        if svc.get("image", "").startswith("insightpulse-odoo") and name != "init-secrets"
    }


@pytest.mark.parametrize("compose_file", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_keeps_secrets_out_and_gates_on_health(compose_file):
    doc = yaml.safe_load(compose_file.read_text())
    for name, service in doc["services"].items():
        env = service.get("environment", {}) or {}
        for key, value in env.items():
            if re.search(r"PASSW|SECRET|ACCESS_KEY", key) and not key.endswith("_FILE"):
                raise AssertionError(f"{compose_file.name}: {name}.{key} is not a secret file")
            if key.endswith("_FILE"):
                assert str(value).startswith("/run/secrets/"), f"{name}.{key}"
        for dep, cond in (service.get("depends_on") or {}).items():
            one_shot = dep in ("init-secrets", "manage")  # pre-flight's fixes, then exit 0
            wanted = "service_completed_successfully" if one_shot else "service_healthy"
            assert cond == {"condition": wanted}, f"{name} -> {dep} not gated"
        if "image" in service and service["image"].startswith(("postgres", "redis")):
            assert "healthcheck" in service
        if name != "init-secrets" and any("secrets" in str(v) for v in service.get("volumes", [])):
            assert "init-secrets" in service["depends_on"], f"{name} may start before its secrets"
            assert all(
                str(v).endswith(":ro") for v in service["volumes"] if "secrets:" in str(v)
            ), f"{name} may write secrets"
    services = odoo_services(doc)
    assert services
    for svc in [*services.values(), doc["services"]["init-secrets"]]:
        assert svc["build"]["dockerfile"] == "Dockerfile.custom"
    # the one-shot init creates what every service reads, from the image, as root
    init = doc["services"]["init-secrets"]
    assert init["user"] == "root" and init["restart"] == "no"
    assert "./init-secrets.sh:/usr/local/share/odoo-saas/init-secrets.sh:ro" in init["volumes"]
    created = {spec.split(":")[0].rsplit("/", 1)[-1] for spec in init["command"][2:]}
    read = {
        str(v).rsplit("/", 1)[-1]
        for svc in doc["services"].values()
        for k, v in (svc.get("environment") or {}).items()
        if k.endswith("_FILE")
    }
    assert read <= created, f"secrets nobody creates: {read - created}"


def test_multi_tenant_stack_splits_roles_like_the_chart():
    doc = yaml.safe_load((ROOT / "compose" / "multi-tenant.yml").read_text())
    services = odoo_services(doc)
    roles = {name: svc["environment"]["ODOO_SAAS_ROLE"] for name, svc in services.items()}
    assert roles == {
        "web": "web",
        "cron": "cron",
        "backup": "backup",
        "metrics": "metrics",
        "manage": "all",  # a one-shot pre-flight --fix: it runs no supervisord
        "api": "api",  # the control API: not published, nginx routes api.<domain> to it
    }
    # Odoo's services never hold the management role, and wait for its pre-flight
    for name in ("web", "cron", "backup", "metrics"):
        assert "ODOO_SAAS_DB_PASSWORD_FILE" not in services[name]["environment"], name
    for name in ("web", "cron"):
        assert services[name]["depends_on"]["manage"] == {
            "condition": "service_completed_successfully"
        }
    assert services["manage"]["command"] == ["odoo-saas", "preflight", "--fix"]
    # the control API: the management role, never published (nginx routes api.<domain> to it)
    api = services["api"]
    assert "ports" not in api and api["expose"] == ["8089"]
    assert api["environment"]["ODOO_SAAS_DB_PASSWORD_FILE"] == "/run/secrets/saas_db_password"
    assert api["depends_on"]["manage"] == {"condition": "service_completed_successfully"}
    web = services["web"]
    # scalable: no fixed name, no host port; sessions shared through Redis
    assert "container_name" not in web and "ports" not in web
    assert web["environment"]["ODOO_ENABLE_REDIS"] == "true"
    assert web["environment"]["ODOO_DB_FILTER"] == "^%d$$"  # $$ is compose's escape for $
    assert web["environment"]["ODOO_PROXY_MODE"] == "true"
    # S3 credentials in the backup service only, through its own volume
    with_aws = {
        n
        for n, s in doc["services"].items()
        if any("AWS_" in k for k in s.get("environment") or {})
    }
    assert with_aws == {"backup"}
    mounting = {
        n
        for n, s in doc["services"].items()
        if any(str(v).startswith("s3-secrets:") for v in s.get("volumes", []))
    }
    assert mounting == {"backup", "init-secrets"}
    assert doc["services"]["proxy"]["depends_on"] == {"web": {"condition": "service_healthy"}}


def test_multi_tenant_nginx_resolves_the_web_replicas_per_request():
    nginx = (ROOT / "compose" / "nginx" / "odoo.conf").read_text()
    # the resolver is the container network's (Docker's 127.0.0.11, Podman's gateway): written
    # at the proxy's start by resolver.sh, run by nginx's entrypoint from /docker-entrypoint.d
    assert not re.search(r"^\s*resolver ", nginx, re.M)
    proxy = yaml.safe_load((ROOT / "compose" / "multi-tenant.yml").read_text())["services"]["proxy"]
    hook = "./nginx/resolver.sh:/docker-entrypoint.d/15-odoo-saas-resolver.sh:ro"
    assert hook in proxy["volumes"]
    assert os.access(ROOT / "compose" / "nginx" / "resolver.sh", os.X_OK), "nginx skips it"
    subprocess.run(["sh", "-n", str(ROOT / "compose" / "nginx" / "resolver.sh")], check=True)
    assert "upstream" not in nginx, "an upstream block resolves once, at start"
    assert re.search(r"location /websocket \{[^}]*proxy_pass http://\$odoo_web:8072;", nginx)
    assert re.search(r"location / \{[^}]*proxy_pass http://\$odoo_web:8069;", nginx)
    assert "set $odoo_web web;" in nginx
    for header in ("X-Forwarded-Host", "X-Forwarded-For", "X-Forwarded-Proto"):
        assert f"proxy_set_header {header}" in nginx


INIT_SECRETS = ROOT / "compose" / "init-secrets.sh"


def run_init(dest: Path, seed: Path, *specs: str) -> subprocess.CompletedProcess[str]:
    """The script as the image runs it: `odoo-saas` on PATH."""
    path = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    return subprocess.run(
        ["sh", str(INIT_SECRETS), str(dest), str(seed), *specs],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": path},
    )


def test_init_secrets_creates_missing_ones_0600_and_keeps_existing(tmp_path):
    dest, seed = tmp_path / "secrets", tmp_path / "seed"
    seed.mkdir()
    (seed / "admin_passwd.txt").write_text("my-own-master-password")
    dest.mkdir()
    (dest / "db_password").write_text("already-there")
    owner = "nobody" if os.geteuid() == 0 else str(os.getuid())
    specs = [
        f"db_password:{owner}:random",
        f"admin_passwd:{owner}:random",
        f"redis_password:{owner}:random",
        f"s3/aws_access_key_id:{owner}:empty",
    ]
    proc = run_init(dest, seed, *specs)
    assert proc.returncode == 0, proc.stderr
    assert (dest / "db_password").read_text() == "already-there"
    assert (dest / "admin_passwd").read_text() == "my-own-master-password"
    generated = (dest / "redis_password").read_text()
    assert re.fullmatch(r"[A-Za-z0-9]{32}", generated)
    assert (dest / "s3" / "aws_access_key_id").read_text() == ""
    uid = int(owner) if owner.isdigit() else __import__("pwd").getpwnam(owner).pw_uid
    for name in ("admin_passwd", "redis_password", "s3/aws_access_key_id"):
        st = (dest / name).stat()
        assert stat_mode(st) == 0o600 and st.st_uid == uid, name
    assert stat_mode(dest.stat()) == 0o755
    assert [p.name for p in dest.iterdir() if p.name.startswith(".")] == []
    # values never reach the output
    assert generated not in proc.stdout + proc.stderr
    assert "my-own-master-password" not in proc.stdout
    # a second run (every `up`) changes nothing, even when the seed changes
    (seed / "admin_passwd.txt").write_text("changed-later")
    again = run_init(dest, seed, *specs)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("exists, kept") == 4
    assert (dest / "redis_password").read_text() == generated
    assert (dest / "admin_passwd").read_text() == "my-own-master-password"
    # two fresh runs never produce the same password
    other = tmp_path / "other"
    assert run_init(other, seed, f"redis_password:{owner}:random").returncode == 0
    assert (other / "redis_password").read_text() != generated


def test_init_secrets_refuses_an_unknown_kind(tmp_path):
    proc = run_init(tmp_path / "s", tmp_path, f"x:{os.getuid()}:guess")
    assert proc.returncode == 2
    assert "KIND must be random, empty, copy=SRC or hash=SRC" in proc.stderr
    assert not (tmp_path / "s" / "x").exists()


def test_init_secrets_gives_each_service_copies_and_odoo_the_hash_only(tmp_path):
    """The store keeps the clear master password (root's); a service's volume gets copies of
    what it reads, as its user, and Odoo's the hash; they follow the store at every run."""
    dest, seed = tmp_path / "secrets", tmp_path / "seed"
    seed.mkdir()
    (seed / "admin_passwd.txt").write_text("my-own-master-password\n")
    (seed / "db_password.txt").write_text("seeded-db")
    runtime = "nobody" if os.geteuid() == 0 else str(os.getuid())
    store = "root" if os.geteuid() == 0 else str(os.getuid())
    specs = [
        f"db_password:{store}:random",
        f"admin_passwd:{store}:random",
        f"web/db_password:{runtime}:copy=db_password",
        f"web/admin_passwd_hash:{runtime}:hash=admin_passwd",
    ]
    proc = run_init(dest, seed, *specs)
    assert proc.returncode == 0, proc.stderr
    assert "my-own-master-password" not in proc.stdout + proc.stderr
    hashed = (dest / "web" / "admin_passwd_hash").read_text().strip()
    assert verify_password("my-own-master-password", hashed)
    assert (dest / "web" / "db_password").read_text() == "seeded-db"
    uid = pwd.getpwnam(runtime).pw_uid if not runtime.isdigit() else int(runtime)
    for name in ("web/admin_passwd_hash", "web/db_password"):
        st = (dest / name).stat()
        assert stat_mode(st) == 0o600 and st.st_uid == uid, name
    st = (dest / "admin_passwd").stat()
    assert stat_mode(st) == 0o600 and st.st_uid == os.geteuid()
    assert sorted(p.name for p in (dest / "web").iterdir()) == ["admin_passwd_hash", "db_password"]
    # a replaced secret reaches the copies at the next run; a seed never writes a copy
    (dest / "admin_passwd").unlink()
    (seed / "admin_passwd.txt").write_text("rotated-master-password")
    (seed / "admin_passwd_hash.txt").write_text("not-a-hash")
    proc = run_init(dest, seed, *specs)
    assert proc.returncode == 0, proc.stderr
    hashed = (dest / "web" / "admin_passwd_hash").read_text().strip()
    assert verify_password("rotated-master-password", hashed)
    # a copy of a secret nobody made, or a hash of nothing, stops the run
    assert run_init(dest, seed, f"x/y:{runtime}:copy=missing").returncode == 2
    (dest / "blank").write_text("")
    proc = run_init(dest, seed, f"x/h:{runtime}:hash=blank")
    assert proc.returncode == 2 and "cannot hash blank" in proc.stderr
    assert not (dest / "x" / "h").exists()


def stat_mode(st: os.stat_result) -> int:
    return st.st_mode & 0o7777


def secrets_by_volume(doc: dict) -> dict[str, dict[str, tuple[str, str]]]:
    """What init-secrets puts in each volume: volume -> {path in it: (owner, kind)}."""
    init = doc["services"]["init-secrets"]
    dest = init["command"][0]
    where = {}  # mount point in init-secrets -> volume
    for v in init["volumes"]:
        volume, target = str(v).split(":")[:2]
        if volume in (doc.get("volumes") or {}):
            where[target] = volume
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for spec in init["command"][2:]:
        name, owner, kind = spec.split(":", 2)
        path = f"{dest}/{name}"
        mount = max((m for m in where if path.startswith(m + "/")), key=len)
        out.setdefault(where[mount], {})[path[len(mount) + 1 :]] = (owner, kind)
    return out


def visible_secrets(doc: dict, service: str) -> dict[str, tuple[str, str]]:
    """Every secret file a service can see: its path there -> (owner, kind)."""
    volumes = secrets_by_volume(doc)
    seen = {}
    for v in doc["services"][service].get("volumes", []):
        volume, target = str(v).split(":")[:2]
        for rel, what in volumes.get(volume, {}).items():
            seen[f"{target}/{rel}"] = what
    return seen


MULTI_TENANT_SECRETS = {
    # the superuser's, and the two roles it makes (compose/postgres/roles.sh)
    "db": {"db_password", "saas_db_password", "postgres_password"},
    # the management role: only here, in no service that runs Odoo
    "manage": {"db_password", "saas_db_password"},
    "redis": {"redis_password"},
    "web": {"db_password", "admin_passwd_hash", "redis_password", "smtp_password"},
    "cron": {"db_password", "admin_passwd_hash", "smtp_password"},
    "backup": {"db_password", "s3/aws_access_key_id", "s3/aws_secret_access_key"},
    "metrics": {"db_password"},
    # the control API creates, restores and drops tenants: the management role, no Odoo
    "api": {"db_password", "saas_db_password"},
    "grafana": {"grafana_admin_password"},
    "proxy": set(),
    "prometheus": set(),
}
SINGLE_TENANT_SECRETS = {
    "db": {"db_password", "saas_db_password", "postgres_password"},
    "odoo": {
        "db_password",
        "saas_db_password",
        "admin_passwd_hash",
        "smtp_password",
        "aws_access_key_id",
        "aws_secret_access_key",
    },
}


@pytest.mark.parametrize(
    ("name", "expected"),
    [("multi-tenant.yml", MULTI_TENANT_SECRETS), ("single-tenant.yml", SINGLE_TENANT_SECRETS)],
)
def test_compose_mounts_each_secret_only_where_it_is_read(name, expected):
    """A service sees the secrets it reads and no other; the clear master password is in no
    service but init-secrets (Odoo's services get its hash, as its user: an addon could read
    anything they mount)."""
    doc = yaml.safe_load((ROOT / "compose" / name).read_text())
    for service, wanted in expected.items():
        seen = visible_secrets(doc, service)
        assert {p.removeprefix("/run/secrets/") for p in seen} == wanted, service
        for path, (owner, kind) in seen.items():
            assert path.startswith("/run/secrets/"), (service, path)
            if path.endswith("admin_passwd_hash"):
                assert kind == "hash=admin_passwd", (service, kind)
            if service in ("web", "cron", "backup", "metrics", "odoo", "manage", "api"):
                assert owner == "odoo", (service, path)  # its user reads it: never root's
            elif service == "grafana":
                assert owner == "472", (service, path)
        env = doc["services"][service].get("environment") or {}
        files = {v for k, v in env.items() if k.endswith("_FILE")}
        assert files <= set(seen), (service, files - set(seen))
    clear = {
        service
        for service in doc["services"]
        for path, (_, kind) in visible_secrets(doc, service).items()
        if path.endswith("/admin_passwd")
    }
    assert clear == {"init-secrets"}
    store = secrets_by_volume(doc)["secrets"]
    assert store["admin_passwd"] == ("root", "random")  # only root reads the clear one


def test_caddy_front_replaces_nginx_on_top_of_the_multi_tenant_stack():
    """compose/caddy/compose.yml is an override: with it, Caddy serves and nginx stays off."""
    proc = subprocess.run(
        [tool("docker-compose"), "-f", "compose/multi-tenant.yml", "-f",
         "compose/caddy/compose.yml", "config"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0 and "WARNING" not in proc.stderr, proc.stderr
    doc = yaml.safe_load(proc.stdout)
    assert doc["services"]["proxy"]["profiles"] == ["nginx"]
    caddy = doc["services"]["caddy"]
    assert {p["target"] for p in caddy["ports"]} == {80, 443}
    assert caddy["environment"]["ODOO_SAAS_TLS_ASK"] == "http://api:8089/v1/tls/allowed"
    assert caddy["environment"]["CADDY_TLS"] == "internal"  # never ACME by accident locally
    assert any("caddy/Caddyfile:/etc/caddy/Caddyfile" in str(v) for v in caddy["volumes"])
    assert doc["services"]["web"]["environment"]["ODOO_DOMAIN"] == "localhost"
