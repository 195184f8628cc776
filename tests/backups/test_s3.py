"""Off-site copies against a real S3 server (SeaweedFS): upload, verify, list, download."""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from odoo_saas_tools.backups.names import read_checksum
from odoo_saas_tools.backups.offsite import s3_bucket as s3
from odoo_saas_tools.core.errors import ConfigError, SaasError
from odoo_saas_tools.core.settings import Settings
from tests.backups.helpers import make_backup

WHEN = datetime(2026, 11, 26, 17, 18, 0, tzinfo=timezone.utc)


@pytest.fixture
def s3_settings(s3_env: dict[str, str]) -> Settings:
    return Settings.from_env(s3_env)


def test_upload_round_trip_single_put(s3_settings, seaweed, tmp_path):
    path = make_backup(tmp_path / "src", "acme", WHEN, size=200_000)
    url = s3.upload(s3_settings, path)
    bucket = s3_settings.aws_s3_bucket
    assert url == f"s3://{bucket}/odoo-backups/acme/acme_20261126T171800Z.zip"
    head = seaweed.client().head_object(
        Bucket=bucket, Key="odoo-backups/acme/acme_20261126T171800Z.zip", ChecksumMode="ENABLED"
    )
    assert head["Metadata"]["sha256"] == read_checksum(path)
    assert head["ChecksumSHA256"]  # the store checked the bytes we sent

    got = s3.download(s3_settings, url, tmp_path / "dst")
    assert got.name == path.name
    assert got.read_bytes() == path.read_bytes()
    assert read_checksum(got) == read_checksum(path)
    assert not [p for p in got.parent.iterdir() if p.name.endswith(".partial")]

    listed = s3.list_backups(s3_settings)
    assert [(b.database, b.name, b.size_bytes) for b in listed] == [("acme", path.name, 200_000)]


def test_multipart_upload_is_verified_by_composite_checksum(s3_settings, seaweed, tmp_path):
    path = make_backup(tmp_path, "big", WHEN, size=11 * 1024 * 1024 + 17)
    started = time.monotonic()
    url = s3.upload(s3_settings, path, multipart_threshold=5 * 1024 * 1024)
    elapsed = time.monotonic() - started
    _bucket, key = s3.parse_url(url)
    head = seaweed.client().head_object(
        Bucket=s3_settings.aws_s3_bucket, Key=key, ChecksumMode="ENABLED"
    )
    assert head["ChecksumSHA256"].endswith("-3")  # three parts, checksum of checksums
    assert head["ContentLength"] == path.stat().st_size
    expected = s3.checksums(path, 5 * 1024 * 1024)
    assert head["ChecksumSHA256"] == expected.s3_checksum
    back = s3.download(s3_settings, url, tmp_path / "dl")
    assert hashlib.sha256(back.read_bytes()).hexdigest() == read_checksum(path)
    print(f"11 MiB multipart upload + verify: {elapsed:.2f} s")


def test_wrong_keys_are_refused_without_leaking_them(s3_env, tmp_path):
    env = {**s3_env, "AWS_SECRET_ACCESS_KEY_FILE": str(tmp_path / "bad")}
    (tmp_path / "bad").write_text("not-the-secret-4411\n")
    settings = Settings.from_env(env)
    path = make_backup(tmp_path, "acme", WHEN)
    with pytest.raises(SaasError) as err:
        s3.upload(settings, path, attempts=1)
    assert "SignatureDoesNotMatch" in str(err.value) or "AccessDenied" in str(err.value)
    assert "not-the-secret-4411" not in str(err.value)
    good = Settings.from_env(s3_env)
    assert s3.list_backups(good) == []


def test_damaged_local_file_is_not_uploaded(s3_settings, tmp_path):
    path = make_backup(tmp_path, "acme", WHEN)
    with open(path, "r+b") as fh:
        fh.write(b"X")
    with pytest.raises(SaasError, match="does not match its recorded sha256"):
        s3.upload(s3_settings, path)
    assert s3.list_backups(s3_settings) == []


def test_download_refuses_an_object_that_does_not_match(s3_settings, seaweed, tmp_path):
    path = make_backup(tmp_path / "src", "acme", WHEN)
    url = s3.upload(s3_settings, path)
    _bucket, key = s3.parse_url(url)
    # Someone replaces the object's bytes but keeps the recorded checksum.
    seaweed.client().put_object(
        Bucket=s3_settings.aws_s3_bucket,
        Key=key,
        Body=b"tampered" + path.read_bytes()[8:],
        Metadata={"sha256": read_checksum(path)},
    )
    dest = tmp_path / "dst"
    with pytest.raises(SaasError, match="does not match its recorded sha256"):
        s3.download(s3_settings, url, dest)
    assert list(dest.iterdir()) == []  # no file, no partial left behind


def test_verify_detects_a_replaced_object(s3_settings, seaweed, tmp_path):
    path = make_backup(tmp_path, "acme", WHEN)
    url = s3.upload(s3_settings, path)
    _bucket, key = s3.parse_url(url)
    seaweed.client().put_object(
        Bucket=s3_settings.aws_s3_bucket,
        Key=key,
        Body=path.read_bytes()[::-1],
        Metadata={"sha256": read_checksum(path)},
    )
    expected = s3.checksums(path, None)
    with pytest.raises(s3.IntegrityError):
        s3.verify_object(s3.client(s3_settings), s3_settings.aws_s3_bucket, key, expected)


def test_download_rejects_bad_urls(s3_settings, tmp_path):
    for url in ("http://x/y.zip", "s3://bucket/", "s3://bucket/odoo/acme/notabackup.txt"):
        with pytest.raises(ConfigError):
            s3.download(s3_settings, url, tmp_path)


def test_server_down_is_retried_then_fails(s3_settings, tmp_path):
    dead = replace(s3_settings, aws_s3_endpoint_url="http://127.0.0.1:9")
    path = make_backup(tmp_path, "acme", WHEN)
    started = time.monotonic()
    with pytest.raises(SaasError, match="upload of acme_"):
        s3.upload(dead, path, attempts=2, backoff=0.1)
    assert time.monotonic() - started < 30


def test_server_side_encryption_is_requested(s3_env, seaweed, tmp_path):
    settings = Settings.from_env({**s3_env, "AWS_S3_SSE": "AES256"})
    path = make_backup(tmp_path, "acme", WHEN)
    url = s3.upload(settings, path)
    _bucket, key = s3.parse_url(url)
    head = seaweed.client().head_object(Bucket=settings.aws_s3_bucket, Key=key)
    assert head.get("ServerSideEncryption") == "AES256"
    assert s3.download(settings, url, tmp_path / "dl").read_bytes() == path.read_bytes()
