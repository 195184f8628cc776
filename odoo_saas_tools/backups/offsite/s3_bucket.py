"""The bucket of the s3 engine (or any S3-compatible store): upload, verify, list, delete, download.

A backup counts as off-site only once the object in the bucket is proven identical to the local
file: the upload carries SHA-256 checksums (the server checks every part on receipt), the object
records the file's sha256 as metadata, and a HEAD afterwards compares size, metadata and the
server's own checksum (whole-object, or the composite of the parts for multipart uploads) with
what we computed locally. Stores that return no checksum are verified by reading the object back.
An object is only visible once its upload completed (single PUT or CompleteMultipartUpload), and
one that fails verification is deleted, so a failed upload never leaves a "good" remote backup.

Credentials come from the settings (AWS_* variables or their _FILE secrets) or boto3's default
chain (instance role); never from arguments, never logged.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from odoo_saas_tools.backups.names import (
    parse_backup_name,
    partial_path,
    read_checksum,
    write_checksum,
)
from odoo_saas_tools.core.errors import ConfigError, SaasError
from odoo_saas_tools.core.settings import Settings

log = logging.getLogger(__name__)

MIB = 1024 * 1024
MULTIPART_THRESHOLD = 64 * MIB
MIN_PART = 16 * MIB
MAX_PARTS = 9000  # S3 allows 10,000; stay clear so the transfer library never re-sizes parts
ATTEMPTS = 3
BACKOFF_SECONDS = 2.0
# Errors that retrying cannot fix: wrong keys, no permission, no bucket.
FATAL_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "NoSuchBucket",
    "InvalidBucketName",
    "AllAccessDisabled",
    "InvalidArgument",
}

T = TypeVar("T")


@dataclass(frozen=True)
class RemoteBackup:
    """One backup object in the bucket."""

    key: str
    database: str
    name: str
    size_bytes: int
    last_modified: datetime
    timestamp: datetime  # from the name: when the backup was taken


@dataclass(frozen=True)
class Checksums:
    """What a file's bytes hash to: our sha256 and the value S3 reports as ChecksumSHA256."""

    sha256: str
    s3_checksum: str
    size: int
    part_size: int | None  # None: single PUT


class IntegrityError(SaasError):
    """The object in the bucket is not byte-for-byte the local file."""


# --- client and keys -------------------------------------------------------------------------
def client(settings: Settings) -> Any:
    """A boto3 S3 client from the settings; the default credential chain when no keys are set."""
    if not settings.aws_s3_bucket:
        raise ConfigError("AWS_S3_BUCKET is not set: off-site copies are disabled")
    import boto3
    from botocore.config import Config

    session_kwargs: dict[str, str] = {"region_name": settings.aws_region}
    if settings.aws_access_key_id or settings.aws_secret_access_key:
        session_kwargs["aws_access_key_id"] = settings.aws_access_key_id
        session_kwargs["aws_secret_access_key"] = settings.aws_secret_access_key
        if settings.aws_session_token:
            session_kwargs["aws_session_token"] = settings.aws_session_token
    session = boto3.session.Session(**session_kwargs)
    config = Config(
        retries={"max_attempts": 4, "mode": "standard"},
        connect_timeout=10,
        read_timeout=120,
        s3={"addressing_style": "path" if settings.aws_s3_endpoint_url else "auto"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return session.client("s3", endpoint_url=settings.aws_s3_endpoint_url or None, config=config)


def prefix(settings: Settings) -> str:
    return settings.backup_s3_prefix.strip("/")


def tenant_prefix(settings: Settings, database: str) -> str:
    base = prefix(settings)
    return f"{base}/{database}/" if base else f"{database}/"


def key_for(settings: Settings, database: str, filename: str) -> str:
    """s3://$AWS_S3_BUCKET/$BACKUP_S3_PREFIX/<db>/<file> -> the key part."""
    return tenant_prefix(settings, database) + filename


def url_for(settings: Settings, key: str) -> str:
    return f"s3://{settings.aws_s3_bucket}/{key}"


def parse_url(url: str) -> tuple[str, str]:
    """(bucket, key) of an s3:// URL, or ConfigError."""
    parsed = urlparse(url)
    key = parsed.path.lstrip("/")
    if parsed.scheme != "s3" or not parsed.netloc or not key or key.endswith("/"):
        raise ConfigError(f"{url!r} is not an s3://BUCKET/KEY URL of a backup")
    return parsed.netloc, key


# --- errors and retries ----------------------------------------------------------------------
def _client_error(exc: BaseException) -> BaseException:
    """The ClientError under boto3's S3UploadFailedError wrapper (or exc itself)."""
    inner = exc.__cause__ or exc.__context__
    if not getattr(exc, "response", None) and getattr(inner, "response", None):
        return inner  # type: ignore[return-value]
    return exc


def _error_code(exc: BaseException) -> str:
    response = getattr(_client_error(exc), "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def describe(exc: BaseException) -> str:
    """One line for an S3 failure (no credentials ever appear in botocore's messages)."""
    from botocore.exceptions import ClientError, NoCredentialsError

    exc = _client_error(exc)
    if isinstance(exc, NoCredentialsError):
        return "no S3 credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or use a role"
    if isinstance(exc, ClientError):
        code = _error_code(exc)
        msg = exc.response.get("Error", {}).get("Message", "") or str(exc)
        return f"S3 {code}: {msg}".strip()
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _fatal(exc: BaseException) -> bool:
    from botocore.exceptions import NoCredentialsError

    return isinstance(exc, (NoCredentialsError, ConfigError)) or _error_code(exc) in FATAL_CODES


def with_retries(
    what: str,
    func: Callable[[], T],
    *,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF_SECONDS,
) -> T:
    """Call func; on a transient failure wait backoff, 2*backoff ... and try again."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    for attempt in range(1, attempts + 1):
        try:
            return func()
        except (BotoCoreError, ClientError, Boto3Error, IntegrityError, OSError) as exc:
            if _fatal(exc) or attempt == attempts:
                raise SaasError(f"{what}: {describe(exc)}") from exc
            delay = backoff * 2 ** (attempt - 1)
            log.warning("%s failed (%s); retrying in %.0f s", what, describe(exc), delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


# --- checksums -------------------------------------------------------------------------------
def part_size_for(size: int, threshold: int = MULTIPART_THRESHOLD) -> int | None:
    """Part size of the multipart upload of a file of `size` bytes (None: one PUT)."""
    if size < threshold:
        return None
    return max(min(MIN_PART, threshold), math.ceil(size / MAX_PARTS / MIB) * MIB)


def checksums(path: Path, part_size: int | None) -> Checksums:
    """sha256 of the file and S3's ChecksumSHA256 for that upload shape, in one read."""
    whole = hashlib.sha256()
    parts: list[bytes] = []
    size = 0
    block = part_size or 8 * MIB
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            whole.update(chunk)
            size += len(chunk)
            if part_size:
                parts.append(hashlib.sha256(chunk).digest())
    if part_size:
        composite = hashlib.sha256(b"".join(parts)).digest()
        s3_checksum = f"{base64.b64encode(composite).decode()}-{len(parts)}"
    else:
        s3_checksum = base64.b64encode(whole.digest()).decode()
    return Checksums(whole.hexdigest(), s3_checksum, size, part_size)


def _read_back_sha256(s3: Any, bucket: str, key: str) -> str:
    digest = hashlib.sha256()
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    for chunk in iter(lambda: body.read(MIB), b""):
        digest.update(chunk)
    return digest.hexdigest()


def verify_object(s3: Any, bucket: str, key: str, expected: Checksums) -> str:
    """Raise IntegrityError unless the object is the file; return how it was proven."""
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    if head["ContentLength"] != expected.size:
        raise IntegrityError(
            f"{key}: {head['ContentLength']} bytes in the bucket, {expected.size} locally"
        )
    recorded = head.get("Metadata", {}).get("sha256", "").lower()
    if recorded != expected.sha256:
        raise IntegrityError(f"{key}: recorded sha256 {recorded or '(none)'} is not the file's")
    server = head.get("ChecksumSHA256")
    if server:
        if server == expected.s3_checksum:
            return "checksum"
        if "-" not in server and "-" not in expected.s3_checksum:
            raise IntegrityError(f"{key}: the store's SHA-256 differs from the file's")
    # No usable server checksum (older store, different part layout): read the bytes back.
    if _read_back_sha256(s3, bucket, key) != expected.sha256:
        raise IntegrityError(f"{key}: the bytes in the bucket differ from the file")
    return "read-back"


# --- operations ------------------------------------------------------------------------------
def _extra_args(settings: Settings, sha256: str) -> dict[str, Any]:
    extra: dict[str, Any] = {"Metadata": {"sha256": sha256}, "ChecksumAlgorithm": "SHA256"}
    if settings.aws_s3_sse:
        extra["ServerSideEncryption"] = settings.aws_s3_sse
        if settings.aws_s3_sse == "aws:kms":
            extra["SSEKMSKeyId"] = settings.aws_s3_sse_kms_key_id
    return extra


def upload(
    settings: Settings,
    path: Path,
    database: str | None = None,
    *,
    s3: Any = None,
    multipart_threshold: int = MULTIPART_THRESHOLD,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF_SECONDS,
) -> str:
    """Upload one finished backup and prove the copy; return its s3:// URL.

    The local file is first checked against its recorded sha256, so a damaged local file is
    never shipped as a good off-site copy.
    """
    from boto3.s3.transfer import TransferConfig

    parsed = parse_backup_name(path.name)
    if parsed is None:
        raise SaasError(f"{path.name} is not a backup file name (<db>_<timestamp>.<ext>)")
    database = database or parsed.database
    part_size = part_size_for(path.stat().st_size, multipart_threshold)
    local = checksums(path, part_size)
    recorded = read_checksum(path)
    if recorded and recorded != local.sha256:
        raise IntegrityError(f"{path}: the file does not match its recorded sha256; not uploaded")
    s3 = s3 or client(settings)
    bucket = settings.aws_s3_bucket
    key = key_for(settings, database, path.name)
    transfer = TransferConfig(
        multipart_threshold=multipart_threshold,
        multipart_chunksize=part_size or multipart_threshold,
        max_concurrency=4,
    )

    def attempt() -> str:
        s3.upload_file(
            str(path),
            bucket,
            key,
            ExtraArgs=_extra_args(settings, local.sha256),
            Config=transfer,
        )
        try:
            return verify_object(s3, bucket, key, local)
        except IntegrityError:
            with contextlib.suppress(Exception):
                s3.delete_object(Bucket=bucket, Key=key)
            raise

    started = time.monotonic()
    how = with_retries(f"upload of {path.name}", attempt, attempts=attempts, backoff=backoff)
    log.info(
        "uploaded %s to %s in %.1f s (verified by %s)",
        path.name,
        url_for(settings, key),
        time.monotonic() - started,
        how,
    )
    return url_for(settings, key)


def list_backups(
    settings: Settings, database: str | None = None, *, s3: Any = None
) -> list[RemoteBackup]:
    """Backups in the bucket under the prefix (one tenant, or all), oldest first."""
    s3 = s3 or client(settings)
    start = tenant_prefix(settings, database) if database else (prefix(settings) + "/").lstrip("/")
    out: list[RemoteBackup] = []

    def collect() -> None:
        out.clear()
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=settings.aws_s3_bucket, Prefix=start):
            for obj in page.get("Contents", []):
                rel = obj["Key"][len(start) :]
                parts = rel.split("/")
                db, name = (database, parts[-1]) if database else (parts[0], parts[-1])
                parsed = parse_backup_name(name)
                expected_len = 1 if database else 2
                if len(parts) != expected_len or parsed is None or parsed.database != db:
                    continue
                out.append(
                    RemoteBackup(
                        obj["Key"],
                        db,
                        name,
                        obj["Size"],
                        obj["LastModified"],
                        parsed.timestamp,
                    )
                )

    with_retries("listing the bucket", collect)
    return sorted(out, key=lambda b: (b.database, b.timestamp))


def delete(settings: Settings, keys: list[str], *, s3: Any = None) -> None:
    """Delete objects (what retention forgets); one request per 1000 keys."""
    if not keys:
        return
    s3 = s3 or client(settings)
    for i in range(0, len(keys), 1000):
        batch = [{"Key": k} for k in keys[i : i + 1000]]

        def remove(batch: list[dict[str, str]] = batch) -> None:
            result = s3.delete_objects(
                Bucket=settings.aws_s3_bucket, Delete={"Objects": batch, "Quiet": True}
            )
            errors = result.get("Errors") or []
            if errors:
                first = errors[0]
                raise SaasError(f"could not delete {first.get('Key')}: {first.get('Message')}")

        with_retries("deleting old backups", remove)


def download(settings: Settings, url: str, dest_dir: Path) -> Path:
    """Fetch s3://BUCKET/KEY into dest_dir, check it against its recorded sha256, return the path.

    Written under a partial name and renamed only once verified; the sha256 sidecar is written
    next to it so the restore (and `backup verify`) can check it again.
    """
    bucket, key = parse_url(url)
    name = key.rsplit("/", 1)[-1]
    if name.startswith(".") or parse_backup_name(name) is None:
        raise ConfigError(f"{url}: {name!r} is not a backup file name (<db>_<timestamp>.<ext>)")
    s3 = _download_client(settings)
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / name
    tmp = partial_path(final)
    try:
        head = with_retries(
            f"reading {url}",
            lambda: s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED"),
        )
        recorded = head.get("Metadata", {}).get("sha256", "").lower()
        with_retries(f"download of {url}", lambda: s3.download_file(bucket, key, str(tmp)))
        part_size = None
        server = head.get("ChecksumSHA256") or ""
        if "-" in server:
            part_size = part_size_for(head["ContentLength"])
        got = checksums(tmp, part_size)
        if got.size != head["ContentLength"]:
            raise IntegrityError(f"{url}: downloaded {got.size} of {head['ContentLength']} bytes")
        if recorded:
            if got.sha256 != recorded:
                raise IntegrityError(f"{url}: the download does not match its recorded sha256")
        elif server and server == got.s3_checksum:
            pass
        else:
            raise IntegrityError(
                f"{url}: the object has no recorded sha256 (not uploaded by odoo-saas); "
                "cannot verify it"
            )
        os.replace(tmp, final)
        write_checksum(final, got.sha256)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    log.info("downloaded %s to %s (sha256 verified)", url, final)
    return final


def _download_client(settings: Settings) -> Any:
    """The configured client; a bucket in the URL other than AWS_S3_BUCKET uses the same keys."""
    if settings.aws_s3_bucket:
        return client(settings)
    from dataclasses import replace

    return client(replace(settings, aws_s3_bucket="-"))
