"""The chart's commands run for real, with the environment the chart gives each container.

Render the chart pointed at this suite's PostgreSQL and SeaweedFS (S3), take a container's env,
resolve its Secret references to test values (mounted files for the project's *_FILE variables,
secretKeyRef values inline), map the pod's mount paths to private directories, and run the
container's arguments through `odoo-saas entrypoint` as the image does.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from odoo_saas_tools.core.passwords import hash_password
from odoo_saas_tools.core.settings import Settings
from tests.backups.conftest import ACCESS_KEY, SECRET_KEY, SeaweedS3, make_tenant
from tests.chart.conftest import find, pod_spec
from tests.conftest import ADMIN_PASSWD
from tests.support.cli import base_env, run_cli
from tests.support.net import free_port
from tests.support.pg import MANAGER_PASSWORD, ROLE, ROLE_PASSWORD, PgCluster
from tests.tenants.conftest import make_fake_odoo

# What the Secrets named in ci/ha-values.yaml hold in this test.
SECRETS = {
    ("odoo-pg-app", "password"): ROLE_PASSWORD,
    ("odoo-pg-manager", "password"): MANAGER_PASSWORD,
    ("odoo-admin", "admin-passwd-hash"): hash_password(ADMIN_PASSWD),
    ("valkey", "valkey-password"): "valkey-test-secret",
    ("odoo-smtp", "password"): "smtp-test-secret",
    ("odoo-metrics-auth", "username"): "prometheus",
    ("odoo-metrics-auth", "password"): "metrics-test-secret",
    ("odoo-backup-s3", "AWS_ACCESS_KEY_ID"): ACCESS_KEY,
    ("odoo-backup-s3", "AWS_SECRET_ACCESS_KEY"): SECRET_KEY,
    ("acme-admin", "password"): "acme-admin-secret-42",
    ("odoo-backup-key", "password"): "restic-chart-key-9c41d2",
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[PgCluster]:
    """A cluster of this module's own: the backup Job backs up every tenant it sees."""
    c = PgCluster().init()
    yield c
    c.destroy()


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pool's shared volumes (data, backups), as the PVCs are shared by the pods."""
    root = tmp_path_factory.mktemp("pool")
    for name in ("data", "backups", "addons"):
        (root / name).mkdir()
    return root


@pytest.fixture(scope="module")
def bucket(seaweed: SeaweedS3) -> str:
    return seaweed.new_bucket()


@pytest.fixture(scope="module")
def chart_sets(cluster: PgCluster, seaweed: SeaweedS3, bucket: str) -> tuple[str, ...]:
    return (
        "postgresql.host=127.0.0.1",
        f"postgresql.port={cluster.port}",
        f"postgresql.user={ROLE}",
        "postgresql.sslmode=disable",
        f"backup.s3.bucket={bucket}",
        f"backup.s3.endpointUrl={seaweed.endpoint}",
        "backup.s3.region=us-east-1",
        "backup.s3.sse=",
    )


def container_env(
    spec: dict[str, Any],
    container: dict[str, Any],
    pool: Path,
    scratch: Path,
    secrets: dict[tuple[str, str], str] = SECRETS,
) -> tuple[dict[str, str], dict[str, Path]]:
    """The container's environment on this machine (Secrets resolved, mounts mapped), and its
    mounts (mount path -> directory here)."""
    mounts: dict[str, Path] = {}
    volumes = {v["name"]: v for v in spec["volumes"]}
    for m in container["volumeMounts"]:
        volume = volumes[m["name"]]
        if "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"]["claimName"]
            target = pool / ("backups" if claim.endswith("-backups") else "data")
        else:  # emptyDir or Secret: private to the pod
            target = scratch / m["name"]
            target.mkdir(exist_ok=True)
        sources = volume.get("projected", {}).get("sources", [])
        if "secret" in volume:
            sources = [{"secret": {"name": volume["secret"]["secretName"], **volume["secret"]}}]
        for src in sources:
            for item in src["secret"]["items"]:
                path = target / item["path"]
                path.write_text(secrets[(src["secret"]["name"], item["key"])])
                path.chmod(0o400)
        mounts[m["mountPath"]] = target
    env: dict[str, str] = {}
    for e in container["env"]:
        if "valueFrom" in e:
            ref = e["valueFrom"]["secretKeyRef"]
            env[e["name"]] = secrets[(ref["name"], ref["key"])]
            continue
        env[e["name"]] = mapped(e["value"], mounts)
    # What the image provides: its addons directory, and the runtime user it runs as.
    env["ODOO_EXTRA_ADDONS"] = str(pool / "addons")
    if os.geteuid() == 0:
        env["ODOO_SAAS_USER"] = "root"
    if os.environ.get("ODOO_BIN"):  # the image has Odoo on its PATH; here ODOO_BIN finds it
        env["ODOO_BIN"] = os.environ["ODOO_BIN"]
    bindir = str(Path(sys.executable).parent)
    path = f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    return base_env({**env, "PATH": path}), mounts


def mapped(value: str, mounts: dict[str, Path]) -> str:
    """A path inside the pod as the directory that stands for it here."""
    for mount_path, target in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
        if value == mount_path or value.startswith(mount_path + "/"):
            return str(target) + value[len(mount_path) :]
    return value


@pytest.fixture
def run_container(
    render: Callable[..., Any], chart_sets: tuple[str, ...], pool: Path, tmp_path: Path
) -> Callable[..., tuple[Any, dict[str, str]]]:
    """run_container(kind, suffix, sets=(), init=None, args=None, secrets=SECRETS)
    -> (proc, env)."""

    def do(
        kind: str,
        suffix: str,
        sets: tuple[str, ...] = (),
        *,
        init: int | None = None,
        args: list[str] | None = None,
        secrets: dict[tuple[str, str], str] = SECRETS,
    ) -> tuple[Any, dict[str, str]]:
        obj = find(render("ha-values.yaml", sets=chart_sets + sets), kind, suffix)
        spec = pod_spec(obj)
        container = spec["initContainers"][init] if init is not None else spec["containers"][0]
        scratch = tmp_path / f"pod-{uuid.uuid4().hex[:6]}"
        scratch.mkdir()
        env, mounts = container_env(spec, container, pool, scratch, secrets)
        command = args if args is not None else container.get("args", [])
        command = [mapped(arg, mounts) for arg in command]
        return run_cli(env, "entrypoint", *command, timeout=600), env

    return do


def tenant_name() -> str:
    return f"kt{uuid.uuid4().hex[:8]}"


def test_web_and_cron_pods_render_their_roles(run_container):
    proc, env = run_container("Deployment", "-web", args=["true"])
    assert proc.returncode == 0, proc.stderr
    conf = (Path(env["ODOO_SAAS_RUNTIME_DIR"]) / "odoo.conf").read_text()
    assert "max_cron_threads = 0" in conf and "http_enable = True" in conf
    assert "proxy_mode = True" in conf and "dbfilter = (?!odoo_saas_)(?:^%d$)" in conf
    assert "[session_redis]" in conf and "valkey-test-secret" in conf
    assert ROLE_PASSWORD in conf and ADMIN_PASSWD not in conf  # master password hashed
    assert "db_maxconn = 8" in conf and "workers = 4" in conf

    proc, env = run_container("Deployment", "-cron", args=["true"])
    assert proc.returncode == 0, proc.stderr
    conf = (Path(env["ODOO_SAAS_RUNTIME_DIR"]) / "odoo.conf").read_text()
    assert "http_enable = False" in conf and "max_cron_threads = 2" in conf


def test_backup_job_then_pool_metrics_restore_and_clone_jobs(
    run_container,
    cluster,
    pool,
    seaweed,
    bucket,
):
    _, env = run_container("CronJob", "-backup", args=["true"])
    assert "ODOO_SAAS_DB_PASSWORD_FILE" not in env  # backups need no management role
    tenant = tenant_name()
    # looks like an Odoo 19 tenant, made as odoo-saas makes tenants (the management role)
    make_fake_odoo(Settings.from_env({**env, "ODOO_SAAS_DB_PASSWORD": MANAGER_PASSWORD}), tenant)

    proc, _ = run_container("CronJob", "-backup")  # odoo-saas backup run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    keys = seaweed.keys(bucket, f"odoo-backups/{tenant}/")
    archives = [k for k in keys if k.endswith(".zip")]
    assert len(archives) == 1, keys
    assert list((pool / "backups" / tenant).glob(f"{tenant}_*.zip"))

    # the pool exporter sees that backup and judges its age by the CronJob's schedule
    proc, _ = run_container("Deployment", "-metrics", args=["odoo-saas", "metrics", "show"])
    assert proc.returncode == 0, proc.stderr
    assert f'odoo_backup_last_success_timestamp_seconds{{database="{tenant}"}}' in proc.stdout
    assert "odoo_backup_period_seconds 14400.0" in proc.stdout  # "15 */4 * * *"
    assert f'odoo_database_size_bytes{{database="{tenant}"}}' in proc.stdout

    # one-off restore from the off-site copy, as a new tenant
    restored = tenant_name()
    proc, _ = run_container(
        "Job",
        f"-restore-{restored}",
        (
            "restore.enabled=true",
            f"restore.tenant={restored}",
            f"restore.file=s3://{bucket}/{archives[0]}",
            "restore.copy=true",
        ),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert restored in cluster.databases()
    assert json.loads(proc.stdout)

    # one-off staging clone (neutralizing reads the modules' neutralize.sql: needs real Odoo,
    # covered by tests/tenants)
    staging = f"{tenant}-staging"
    proc, _ = run_container(
        "Job",
        f"-clone-{staging}",
        (
            "clone.enabled=true",
            f"clone.source={tenant}",
            f"clone.target={staging}",
            "clone.neutralize=false",
        ),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert staging in cluster.databases()
    assert (pool / "data" / "filestore" / staging).is_dir()


def test_backup_job_with_restic_then_a_restore_job_from_its_snapshot(
    run_container, cluster, pool, seaweed
):
    """backup.offsite=restic: the CronJob's run snapshots every tenant into the encrypted
    repository in the bucket (no local file), the pool exporter sees it, and the restore Job
    loads restic:TENANT; with another key it refuses and makes nothing."""
    bucket = seaweed.new_bucket()  # a repository of this test's own
    restic = (
        f"backup.s3.bucket={bucket}",
        "backup.offsite=restic",
        "backup.encryption.existingSecret=odoo-backup-key",
    )
    _, env = run_container("CronJob", "-backup", restic, args=["true"])
    assert env["BACKUP_OFFSITE"] == "restic" and "BACKUP_PRUNE_SCHEDULE" in env
    tenant = tenant_name()
    manager = Settings.from_env({**env, "ODOO_SAAS_DB_PASSWORD": MANAGER_PASSWORD})
    make_fake_odoo(manager, tenant)
    files = sorted(p.name for p in manager.filestore(tenant).rglob("*") if p.is_file())

    proc, _ = run_container("CronJob", "-backup", restic)  # odoo-saas backup run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    keys = seaweed.keys(bucket)
    assert keys and all(k.startswith("odoo-backups/restic/") for k in keys), keys
    assert not list((pool / "backups" / tenant).glob(f"{tenant}_*"))  # no local backup file
    assert SECRETS[("odoo-backup-key", "password")] not in proc.stdout + proc.stderr

    proc, _ = run_container("Deployment", "-metrics", restic, args=["odoo-saas", "metrics", "show"])
    assert proc.returncode == 0, proc.stderr
    assert f'odoo_backup_last_success_timestamp_seconds{{database="{tenant}"}}' in proc.stdout
    assert f'odoo_backup_last_added_bytes{{database="{tenant}"}}' in proc.stdout
    assert "\nodoo_backup_repository_size_bytes " in proc.stdout

    def restore(name: str, secrets: dict[tuple[str, str], str] = SECRETS) -> Any:
        sets = (
            "restore.enabled=true",
            f"restore.tenant={name}",
            f"restore.file=restic:{tenant}",
            "restore.copy=true",
        )
        return run_container("Job", f"-restore-{name}", restic + sets, secrets=secrets)[0]

    refused = tenant_name()
    proc = restore(refused, {**SECRETS, ("odoo-backup-key", "password"): "not-the-key"})
    assert proc.returncode != 0 and "does not open the restic repository" in proc.stderr
    assert "not-the-key" not in proc.stdout + proc.stderr
    assert refused not in cluster.databases()

    restored = tenant_name()
    proc = restore(restored)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert restored in cluster.databases()
    assert json.loads(proc.stdout)
    back = sorted(p.name for p in manager.filestore(restored).rglob("*") if p.is_file())
    assert back == files and files


def test_tenants_job_treats_an_existing_tenant_as_success(run_container):
    _, env = run_container("CronJob", "-backup", args=["true"])
    manager = Settings.from_env({**env, "ODOO_SAAS_DB_PASSWORD": MANAGER_PASSWORD})
    existing = make_tenant(manager, tenant_name())
    sets = (f"tenants[0].name={existing}", "tenants[0].companyName=Existing Ltd")
    proc, _ = run_container("Job", "-tenants", sets, init=0)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"tenant {existing} exists: nothing to do" in proc.stdout
    proc, _ = run_container("Job", "-tenants", sets)  # the main container: a summary line
    assert proc.returncode == 0 and "2 tenant(s) provisioned or present" in proc.stdout


def test_tenants_job_fails_on_real_errors(run_container):
    # a bad option value is exit 2, not "exists": the Job must fail
    sets = ("tenants[0].name=ktbad", "tenants[0].lang=xx_NOPE")
    proc, _ = run_container("Job", "-tenants", sets, init=0)
    assert proc.returncode not in (0, 3), proc.stdout + proc.stderr


@pytest.mark.odoo
def test_tenants_job_provisions_with_real_odoo(run_container, odoo_bin, cluster):
    name = tenant_name()
    proc, _ = run_container("Job", "-tenants", (f"tenants[0].name={name}",), init=0)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert name in cluster.databases()
    proc, _ = run_container("Job", "-tenants", (f"tenants[0].name={name}",), init=0)
    assert proc.returncode == 0 and "exists" in proc.stdout


@pytest.mark.odoo
def test_tenants_job_finishes_a_provisioning_killed_half_way(run_container, odoo_bin, cluster):
    """Issue 26 item 4: the Job's pod killed after the template's copy (a node lost, kill -9)
    left a tenant its rerun took for an existing one (exit 3 = success), served with the
    template's admin/admin. The rerun now finishes it and says so."""
    from tests.tenants.test_unfinished import COPY_STEPS, KILLED, provision

    name = tenant_name()
    sets = (f"tenants[0].name={name}",)
    _, env = run_container("Job", "-tenants", sets, init=0, args=["true"])
    killed = provision(env, None, [name], COPY_STEPS["files"])
    assert killed.returncode == KILLED, killed.stderr
    assert name not in cluster.databases()
    proc, _ = run_container("Job", "-tenants", sets, init=0)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "exists" not in proc.stdout and json.loads(proc.stdout)["created"] is True
    assert name in cluster.databases()
    assert not [db for db in cluster.databases() if db.startswith("odoo_saas_newtenant_")]


def test_upgrade_job_runs_preflight_fix(run_container):
    """Without Odoo here the checks run and refuse on exactly that; with it, see below."""
    proc, _ = run_container("Job", "-upgrade")
    out = proc.stdout + proc.stderr
    errors = [line for line in proc.stdout.splitlines() if line.startswith("ERROR")]
    if proc.returncode == 0:
        assert not errors
        return
    assert proc.returncode == 1, out
    assert len(errors) == 1 and "ODOO_BIN=odoo: not found" in errors[0], out
    assert "postgres" in out and "reachable" in out


@pytest.mark.odoo
def test_upgrade_job_passes_with_real_odoo(run_container, odoo_bin):
    proc, _ = run_container("Job", "-upgrade")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("deployment", ["-web", "-cron"])
def test_odoo_pods_refuse_a_clear_master_password_and_start_with_its_hash(
    render, chart_sets, pool, deployment
):
    """Whatever a pod mounts, every process of it can read (one uid, the fsGroup): Odoo's pods
    start only when the Secret holds the master password's hash."""
    spec = pod_spec(find(render("ha-values.yaml", sets=chart_sets), "Deployment", deployment))
    container = spec["containers"][0]

    def start(master: str) -> Any:
        scratch = Path(tempfile.mkdtemp(prefix="odoo-saas-pod-"))
        scratch.chmod(0o755)  # the pod's user reaches its mounts
        secrets = {**SECRETS, ("odoo-admin", "admin-passwd-hash"): master}
        env, mounts = container_env(spec, container, pool, scratch, secrets)
        for mounted in mounts["/run/secrets/odoo-saas"].iterdir():
            mounted.chmod(0o444)  # 0440 with the pod's fsGroup: readable by its user
        if os.geteuid() == 0:  # the pod runs as uid 100, never root
            env["ODOO_SAAS_USER"] = "nobody"
            env["ODOO_DATA_DIR"] = str(scratch / "data")
        env["ODOO_DB_PORT"], env["ODOO_DB_WAIT_TIMEOUT"] = str(free_port()), "1"
        try:
            return run_cli(env, "entrypoint", timeout=60)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    proc = start(ADMIN_PASSWD)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "clear master password" in proc.stderr and ADMIN_PASSWD not in proc.stderr
    proc = start(hash_password(ADMIN_PASSWD))  # past every check, to waiting for PostgreSQL
    assert proc.returncode == 1 and "did not answer within 1 s" in proc.stderr, proc.stderr
