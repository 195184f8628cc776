"""The settings object: built once from the environment, the only reader of os.environ.

Every variable the image understands is a field below, with its environment name, default and
documentation; the README's table is checked against this list by the tests. Parsing collects
every problem at once so a hoster fixes a bad environment in one go.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any

from odoo_saas_tools.core import runtime_dir as runtime_location
from odoo_saas_tools.core import tenant_roles
from odoo_saas_tools.core.errors import REDACTED, ConfigError
from odoo_saas_tools.core.files import path_component
from odoo_saas_tools.core.reserved import RESERVED_PREFIX

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}
SIZE_SUFFIX = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
LOG_LEVELS = ("debug", "info", "warn", "error", "critical")
SSE_MODES = ("", "AES256", "aws:kms")
BACKUP_FORMATS = ("zip", "dump", "sql.gz")  # backups.names: a backup file's extension
# The off-site engines (BACKUP_OFFSITE): each is one module, backups/offsite/<name>.py; here only
# what each needs set, and why (checked at start, so every command refuses a half-configured one).
OFFSITE_ENGINES: dict[str, dict[str, str]] = {
    "s3": {},
    "restic": {
        "BACKUP_ENCRYPTION_PASSWORD": "(or BACKUP_ENCRYPTION_PASSWORD_FILE): the repository is "
        "encrypted with it",
        "AWS_S3_BUCKET": "(the repository's bucket)",
    },
}
# Secrets only the backup programs use (off-site copies); nothing else keeps them.
BACKUP_SECRETS = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "BACKUP_ENCRYPTION_PASSWORD",
}
ROLES = ("all", "web", "cron", "backup", "metrics", "api")
# odoo-saas's own database (catalog/): plans, suspension, domains, jobs, tokens, webhooks.
CATALOG_DATABASE = "odoo_saas_catalog"
# Databases of the server itself, reached as the management role (or ODOO_DB_USER): never a
# tenant's, so no tenant role logs in there.
SERVER_DATABASES = frozenset({"postgres", CATALOG_DATABASE})
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
MAX_PREFIX_BYTES = 13  # TENANT_DB_PREFIX: room for a tenant name of 50 in PostgreSQL's 63 bytes
# Filters that let every database through: with the manager listed, anyone sees every tenant.
OPEN_FILTERS = {"", ".*", "^.*$", ".+", "^.+$", ".*$"}


def var(
    env: str,
    doc: str,
    default: Any = MISSING,
    *,
    kind: str = "str",
    secret: bool = False,
    choices: tuple[str, ...] = (),
    minimum: int | None = None,
    shown_default: str | None = None,
) -> Any:
    """A settings field bound to one environment variable."""
    meta = {
        "env": env,
        "doc": doc,
        "kind": kind,
        "secret": secret,
        "choices": choices,
        "minimum": minimum,
        "shown_default": shown_default,
    }
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Settings:
    """Everything configurable, typed. Read it; never read os.environ elsewhere."""

    # --- PostgreSQL -----------------------------------------------------------------------
    db_host: str = var("ODOO_DB_HOST", "PostgreSQL host name, or a socket directory.", "db")
    db_port: int = var("ODOO_DB_PORT", "PostgreSQL port.", 5432, kind="port")
    db_user: str = var(
        "ODOO_DB_USER",
        "PostgreSQL role Odoo's processes log in as to find their tenants (not `postgres`): it "
        "owns nothing and creates nothing; each tenant database is served by a role of its own "
        "(`odoo_saas_t_…`, see docs/security.md).",
        "odoo",
    )
    db_password: str = var(
        "ODOO_DB_PASSWORD",
        "Password of that role; the tenant roles' passwords are derived from it.",
        "",
        kind="str",
        secret=True,
    )
    saas_db_user: str = var(
        "ODOO_SAAS_DB_USER",
        "PostgreSQL role odoo-saas manages tenants with (CREATEDB, CREATEROLE): it owns every "
        "tenant database and their roles, and never runs a tenant's SQL. Never given to Odoo.",
        "odoo_saas",
    )
    saas_db_password: str = var(
        "ODOO_SAAS_DB_PASSWORD",
        "Password of the management role. Only where it is given can odoo-saas create, copy, "
        "rename, restore or drop tenants; elsewhere it reads as ODOO_DB_USER.",
        "",
        secret=True,
    )
    db_name: tuple[str, ...] = var(
        "ODOO_DB_NAME",
        "Comma-separated database(s) to serve (single tenant). Empty: any the filter allows.",
        (),
        kind="list",
    )
    db_sslmode: str = var(
        "ODOO_DB_SSLMODE",
        "Encryption of the PostgreSQL connection (libpq sslmode).",
        "prefer",
        kind="choice",
        choices=SSL_MODES,
    )
    db_filter: str = var(
        "ODOO_DB_FILTER",
        "Odoo dbfilter regex; `^%d$` serves the database named like the host's first label "
        "(odoo-saas's own `odoo_saas_*` databases are never served).",
        "",
    )
    list_db: bool = var(
        "ODOO_LIST_DB", "Expose the database manager and the database list.", False, kind="bool"
    )
    db_maxconn: int = var(
        "ODOO_DB_MAXCONN", "Connections per Odoo process to PostgreSQL.", 64, kind="int", minimum=1
    )
    db_wait_timeout: int = var(
        "ODOO_DB_WAIT_TIMEOUT",
        "Seconds the entrypoint waits for PostgreSQL before giving up.",
        60,
        kind="int",
        minimum=0,
    )

    # --- Odoo server ------------------------------------------------------------------------
    admin_passwd: str = var(
        "ODOO_ADMIN_PASSWD",
        "Master password of the database manager, or its pbkdf2-sha512 hash "
        "(`odoo-saas hash-password`; the hash is what a file Odoo's user can read must hold); "
        "required where Odoo runs; written hashed.",
        "",
        secret=True,
    )
    proxy_mode: bool = var(
        "ODOO_PROXY_MODE",
        "Trust X-Forwarded-* headers (set behind a reverse proxy).",
        False,
        kind="bool",
    )
    workers: int | None = var(
        "ODOO_WORKERS",
        "HTTP worker processes; 0 = threaded mode. Unset: derived from the container's CPU and "
        "memory limits (see below).",
        None,
        kind="int?",
        minimum=0,
        shown_default="auto",
    )
    max_cron_threads: int = var("ODOO_MAX_CRON_THREADS", "Cron workers.", 2, kind="int", minimum=0)
    limit_memory_soft: int = var(
        "ODOO_LIMIT_MEMORY_SOFT",
        "Per-worker virtual memory after which a worker is recycled (bytes, or 2G / 512M).",
        2048 * 1024**2,
        kind="size",
        shown_default="2G",
    )
    limit_memory_hard: int = var(
        "ODOO_LIMIT_MEMORY_HARD",
        "Per-worker virtual memory at which a request is killed (bytes, or 2560M).",
        2560 * 1024**2,
        kind="size",
        shown_default="2560M",
    )
    limit_time_cpu: int = var(
        "ODOO_LIMIT_TIME_CPU", "CPU seconds per request.", 60, kind="int", minimum=1
    )
    limit_time_real: int = var(
        "ODOO_LIMIT_TIME_REAL", "Wall-clock seconds per request.", 120, kind="int", minimum=1
    )
    limit_request: int = var(
        "ODOO_LIMIT_REQUEST",
        "Requests a worker serves before it is recycled.",
        65536,
        kind="int",
        minimum=1,
    )
    http_port: int = var("ODOO_HTTP_PORT", "Odoo's HTTP port.", 8069, kind="port")
    gevent_port: int = var(
        "ODOO_GEVENT_PORT",
        "Odoo's websocket (gevent) port, used when workers > 0.",
        8072,
        kind="port",
    )
    http_interface: str = var(
        "ODOO_HTTP_INTERFACE",
        "Address Odoo listens on (all interfaces inside a container).",
        "0.0.0.0",
    )
    data_dir: Path = var(
        "ODOO_DATA_DIR",
        "Odoo's data directory (filestores, sessions; odoo-saas's caches in .odoo-saas).",
        Path("/var/lib/odoo"),
        kind="path",
    )
    extra_addons: tuple[Path, ...] = var(
        "ODOO_EXTRA_ADDONS",
        "Comma-separated addon directories put before Odoo's own on the addons path.",
        (Path("/mnt/extra-addons"),),
        kind="paths",
    )
    odoo_bin: str = var("ODOO_BIN", "The Odoo executable.", "odoo")
    log_level: str = var(
        "ODOO_LOG_LEVEL", "Odoo's log level.", "info", kind="choice", choices=LOG_LEVELS
    )
    stop_timeout: int = var(
        "ODOO_STOP_TIMEOUT",
        "Seconds Odoo gets to finish requests on stop; keep below `docker stop -t`.",
        8,
        kind="int",
        minimum=1,
    )
    runtime_dir: Path = var(
        runtime_location.VARIABLE,
        "Where rendered odoo.conf / supervisord.conf, the supervisor socket and pid files go.",
        Path(runtime_location.DEFAULT),
        kind="path",
    )
    runtime_user: str = var(
        "ODOO_SAAS_USER", "User the stack drops to when started as root.", "odoo"
    )

    # --- Outgoing mail ----------------------------------------------------------------------
    smtp_server: str = var("ODOO_SMTP_SERVER", "SMTP host; empty keeps Odoo's default.", "")
    smtp_port: int = var("ODOO_SMTP_PORT", "SMTP port.", 25, kind="port")
    smtp_user: str = var("ODOO_SMTP_USER", "SMTP login.", "")
    smtp_password: str = var("ODOO_SMTP_PASSWORD", "SMTP password.", "", secret=True)
    smtp_ssl: bool = var("ODOO_SMTP_SSL", "Use SMTP over TLS.", False, kind="bool")
    email_from: str = var("ODOO_EMAIL_FROM", "Default sender address.", "")

    # --- Redis sessions ---------------------------------------------------------------------
    enable_redis: bool = var(
        "ODOO_ENABLE_REDIS",
        "Store HTTP sessions in Redis (several Odoo replicas).",
        False,
        kind="bool",
    )
    redis_host: str = var("ODOO_REDIS_HOST", "Redis host.", "redis")
    redis_port: int = var("ODOO_REDIS_PORT", "Redis port.", 6379, kind="port")
    redis_dbindex: int = var(
        "ODOO_REDIS_DBINDEX", "Redis database number.", 0, kind="int", minimum=0
    )
    redis_password: str = var("ODOO_REDIS_PASSWORD", "Redis password.", "", secret=True)
    redis_url: str = var(
        "ODOO_REDIS_URL",
        "`redis://` or `rediss://` (TLS) URL; replaces host/port/dbindex/password when set.",
        "",
        secret=True,
    )
    redis_prefix: str = var(
        "ODOO_REDIS_PREFIX",
        "Key prefix, so several stacks can share one Redis.",
        "odoo:session:",
    )

    # --- Role ------------------------------------------------------------------------------
    role: str = var(
        "ODOO_SAAS_ROLE",
        "What this container runs under supervisord: `all` (Odoo with HTTP and crons, the backup "
        "scheduler when ODOO_AUTO_BACKUP, the exporter), `web` (Odoo without crons, exporter with "
        "this pod's process figures), `cron` (Odoo's crons without HTTP), `backup` (the backup "
        "scheduler only), `metrics` (the exporter with the pool's per-tenant figures only), "
        "`api` (the control API only, docs/api.md).",
        "all",
        kind="choice",
        choices=ROLES,
    )

    # --- Backups ----------------------------------------------------------------------------
    auto_backup: bool = var(
        "ODOO_AUTO_BACKUP", "Run the backup-scheduler program.", False, kind="bool"
    )
    backup_dir: Path = var(
        "BACKUP_DIR", "Where backups are written (a volume).", Path("/mnt/backups"), kind="path"
    )
    backup_schedule: str = var(
        "BACKUP_SCHEDULE", "Cron expression of scheduled backups.", "0 */6 * * *", kind="cron"
    )
    backup_tz: str = var("BACKUP_TZ", "Time zone the schedule is read in.", "UTC", kind="tz")
    backup_format: str = var(
        "BACKUP_FORMAT",
        "Format of scheduled backups.",
        "zip",
        kind="choice",
        choices=BACKUP_FORMATS,
    )
    backup_retention_days: int = var(
        "BACKUP_RETENTION_DAYS",
        "Days a backup is kept (unless BACKUP_KEEP_* are set).",
        7,
        kind="int",
        minimum=1,
    )
    backup_keep_daily: int | None = var(
        "BACKUP_KEEP_DAILY",
        "Daily backups kept (grandfather-father-son).",
        None,
        kind="int?",
        minimum=0,
        shown_default="unset",
    )
    backup_keep_weekly: int | None = var(
        "BACKUP_KEEP_WEEKLY",
        "Weekly backups kept.",
        None,
        kind="int?",
        minimum=0,
        shown_default="unset",
    )
    backup_keep_monthly: int | None = var(
        "BACKUP_KEEP_MONTHLY",
        "Monthly backups kept.",
        None,
        kind="int?",
        minimum=0,
        shown_default="unset",
    )
    backup_concurrency: int = var(
        "BACKUP_CONCURRENCY", "Tenants backed up in parallel.", 1, kind="int", minimum=1
    )
    backup_s3_prefix: str = var(
        "BACKUP_S3_PREFIX", "Key prefix of off-site copies in the bucket.", "odoo-backups"
    )
    aws_s3_bucket: str = var("AWS_S3_BUCKET", "Bucket for off-site copies; empty = none.", "")
    aws_access_key_id: str = var(
        "AWS_ACCESS_KEY_ID", "S3 access key (or instance role).", "", secret=True
    )
    aws_secret_access_key: str = var("AWS_SECRET_ACCESS_KEY", "S3 secret key.", "", secret=True)
    aws_session_token: str = var("AWS_SESSION_TOKEN", "S3 session token.", "", secret=True)
    aws_region: str = var("AWS_DEFAULT_REGION", "S3 region.", "us-east-1")
    aws_s3_endpoint_url: str = var(
        "AWS_S3_ENDPOINT_URL", "Endpoint of an S3-compatible store (MinIO, SeaweedFS ...).", ""
    )
    aws_s3_sse: str = var(
        "AWS_S3_SSE",
        "Server-side encryption: empty, AES256 or aws:kms.",
        "",
        kind="choice",
        choices=SSE_MODES,
    )
    aws_s3_sse_kms_key_id: str = var("AWS_S3_SSE_KMS_KEY_ID", "KMS key for aws:kms.", "")
    backup_offsite: str = var(
        "BACKUP_OFFSITE",
        "Off-site engine: `s3` (verified copies of each backup file) or `restic` (deduplicated, "
        "encrypted snapshots in a restic repository under BACKUP_S3_PREFIX, see docs/backups.md).",
        "s3",
        kind="choice",
        choices=tuple(OFFSITE_ENGINES),
    )
    backup_encryption_password: str = var(
        "BACKUP_ENCRYPTION_PASSWORD",
        "Key of the restic repository (client-side encryption); required with "
        "BACKUP_OFFSITE=restic. Losing it loses every snapshot.",
        "",
        secret=True,
    )
    backup_maintenance_schedule: str = var(
        "BACKUP_PRUNE_SCHEDULE",
        "Cron expression (BACKUP_TZ) of the off-site store's maintenance (restic: `restic prune`, "
        "its garbage collection; not retention), run after the first backup run due.",
        "0 3 * * 0",
        kind="cron",
    )
    restore_max_db_size: int = var(
        "RESTORE_MAX_DB_SIZE",
        "Most a restore (or `backup verify --restore-test`) may load into PostgreSQL, whose disk "
        "every tenant shares: the backup's SQL and the database it grows (bytes, or 20G / 500M). "
        "PostgreSQL's free space bounds it too where odoo-saas can see it (same host); 0: only "
        "that free space, when seen.",
        20 * 1024**3,
        kind="size",
        shown_default="20G",
    )

    # --- Metrics and health -----------------------------------------------------------------
    metrics_enabled: bool = var(
        "ODOO_METRICS_ENABLED", "Run the Prometheus exporter program.", True, kind="bool"
    )
    metrics_port: int = var("ODOO_METRICS_PORT", "Exporter port.", 9090, kind="port")
    metrics_bind: str = var("ODOO_METRICS_BIND", "Exporter bind address.", "0.0.0.0")
    metrics_user: str = var("ODOO_METRICS_USER", "Basic-auth user for the exporter.", "")
    metrics_password: str = var(
        "ODOO_METRICS_PASSWORD", "Basic-auth password for the exporter.", "", secret=True
    )
    metrics_refresh_seconds: int = var(
        "ODOO_METRICS_REFRESH_SECONDS",
        "How often sizes are re-measured in the background.",
        60,
        kind="int",
        minimum=1,
    )
    memory_warn_percent: int = var(
        "ODOO_MEMORY_WARN_PERCENT",
        "Health warns when Odoo's memory passes this share of the container limit.",
        85,
        kind="int",
        minimum=1,
    )

    # --- Tenants ----------------------------------------------------------------------------
    tenant_db_prefix: str = var(
        "TENANT_DB_PREFIX", "Prefix of tenant databases created by provisioning.", "odoo_"
    )
    provision_modules: tuple[str, ...] = var(
        "PROVISION_MODULES",
        "Comma-separated modules installed on every new tenant.",
        (),
        kind="list",
    )
    tenant_url_template: str = var(
        "TENANT_URL_TEMPLATE", "URL of a tenant, `{tenant}` replaced (sets web.base.url).", ""
    )
    plans_file: str = var(
        "ODOO_SAAS_PLANS_FILE",
        "YAML file declaring the plans tenants are on: modules, language and country, user and "
        "storage limits, trial days (docs/tenants.md). Empty: one plan, `default`, no limits.",
        "",
    )
    suspended_message: str = var(
        "ODOO_SAAS_SUSPENDED_MESSAGE",
        "What a suspended tenant's users read (HTTP 503, served by Odoo): plain text, "
        "HTML-escaped; `{database}` and `{reason}` (the suspension's, not shown unless asked "
        "for) are replaced.",
        "This Odoo database is suspended. Please contact your provider.",
    )
    template_cache_max_age_days: int = var(
        "TEMPLATE_CACHE_MAX_AGE_DAYS",
        "Age after which a cached template database is rebuilt.",
        30,
        kind="int",
        minimum=1,
    )
    template_cache_max_count: int = var(
        "TEMPLATE_CACHE_MAX_COUNT", "Cached template databases kept.", 5, kind="int", minimum=1
    )
    provision_spares: int = var(
        "PROVISION_SPARES",
        "Spare copies of the default template kept ready for instant signups (0: none).",
        0,
        kind="int",
        minimum=0,
    )

    # --- Custom domains (docs/domains.md) ----------------------------------------------------
    pool_domain_setting: str = var(
        "ODOO_DOMAIN",
        "The pool's own domain: tenants are served at `<tenant>.<ODOO_DOMAIN>`, and hosts that "
        "are neither under it nor a verified custom domain get a plain 404. Empty: the host of "
        "TENANT_URL_TEMPLATE without its `{tenant}.` label.",
        "",
    )
    pool_host: str = var(
        "ODOO_SAAS_POOL_HOST",
        "Host name of the pool's front proxy that a custom domain may point at with a CNAME (its "
        "proof of ownership besides the TXT record); empty: TXT records only.",
        "",
    )
    dns_servers: tuple[str, ...] = var(
        "ODOO_SAAS_DNS_SERVERS",
        "Comma-separated `IP[:PORT]` of the DNS servers custom domains are verified against "
        "(IPv6 as `[IP]:PORT`); empty: the system's resolvers.",
        (),
        kind="list",
    )
    ingress_service: str = var(
        "ODOO_SAAS_INGRESS_SERVICE",
        "Kubernetes: the Service of the web pods (ports `http` and `websocket`); when set, one "
        "Ingress per verified custom domain is kept in the pod's namespace (cert-manager issues "
        "its certificate). Empty: no Ingress is made (Caddy's on-demand TLS serves them).",
        "",
    )
    ingress_class: str = var(
        "ODOO_SAAS_INGRESS_CLASS", "ingressClassName of those Ingresses; empty: the default.", ""
    )
    ingress_issuer: str = var(
        "ODOO_SAAS_INGRESS_ISSUER",
        "cert-manager ClusterIssuer named in those Ingresses (HTTP-01 suits a single name).",
        "",
    )
    ingress_annotations: str = var(
        "ODOO_SAAS_INGRESS_ANNOTATIONS",
        "More annotations of those Ingresses, as a JSON object of strings (body size, "
        "timeouts of the ingress controller).",
        "",
    )
    kubernetes_host: str = var(
        "KUBERNETES_SERVICE_HOST",
        "The Kubernetes API's address (set by Kubernetes in every pod).",
        "",
    )
    kubernetes_port: int = var(
        "KUBERNETES_SERVICE_PORT",
        "The Kubernetes API's port (set by Kubernetes).",
        443,
        kind="port",
    )

    # --- Control API ------------------------------------------------------------------------
    api_enabled: bool = var(
        "ODOO_SAAS_API_ENABLED",
        "Run the control API (program `api`, docs/api.md) beside Odoo in role `all`; role `api` "
        "runs it alone. It holds the management role's password.",
        False,
        kind="bool",
    )
    api_port: int = var("ODOO_SAAS_API_PORT", "Control API port.", 8089, kind="port")
    api_bind: str = var("ODOO_SAAS_API_BIND", "Control API bind address.", "0.0.0.0")
    api_jobs: int = var(
        "ODOO_SAAS_API_JOBS",
        "Jobs (create, clone, backup, restore, delete) one API process runs at once.",
        4,
        kind="int",
        minimum=1,
    )
    lifecycle_seconds: int = var(
        "ODOO_SAAS_LIFECYCLE_SECONDS",
        "Seconds between the API process's lifecycle turns (ended trials suspended, storage "
        "over a plan's limit told): `odoo-saas tenant lifecycle --once` is one turn.",
        60,
        kind="int",
        minimum=5,
    )
    console_sso_header: str = var(
        "ODOO_SAAS_CONSOLE_SSO_HEADER",
        "Header the hoster's single sign-on proxy sets to the signed-in operator (e.g. "
        "X-Forwarded-User): a request carrying it from ODOO_SAAS_CONSOLE_SSO_PROXIES and no "
        "token is that operator (docs/console.md). Empty: off, the console asks for a token.",
        "",
    )
    console_sso_scope: str = var(
        "ODOO_SAAS_CONSOLE_SSO_SCOPE",
        "Scope of an operator signed in by that header: read, write or admin.",
        "read",
        kind="choice",
        choices=("read", "write", "admin"),
    )
    console_sso_proxies: tuple[str, ...] = var(
        "ODOO_SAAS_CONSOLE_SSO_PROXIES",
        "Comma-separated addresses or networks of the proxies whose requests may carry that "
        "header (required with it); from any other peer it is ignored.",
        (),
        kind="list",
    )

    # --- Auto-patch -------------------------------------------------------------------------
    auto_patch_deps: bool = var(
        "ODOO_AUTO_PATCH_DEPS",
        "Install addons' missing Python dependencies at start.",
        False,
        kind="bool",
    )
    auto_update: bool = var(
        "ODOO_AUTO_UPDATE",
        "Upgrade changed modules of every tenant at start (with rollback).",
        False,
        kind="bool",
    )
    deps_dir: Path = var(
        "ODOO_DEPS_DIR",
        "Persistent directory for auto-installed Python packages.",
        Path("/var/lib/odoo/python-deps"),
        kind="path",
    )
    pip_index_url: str = var(
        "PIP_INDEX_URL", "Package index used for auto-installed dependencies; empty = pip's.", ""
    )
    min_free_disk_mb: int = var(
        "ODOO_MIN_FREE_DISK_MB",
        "Free space under which pre-flight warns.",
        1024,
        kind="int",
        minimum=0,
    )

    # Not a variable: the file each secret given as <NAME>_FILE was read from (by NAME), so
    # that the start can tell whether Odoo's user could read it there too.
    secret_files: Mapping[str, Path] = field(default_factory=dict, compare=False, repr=False)

    # ------------------------------------------------------------------------------------
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Parse the environment; raise ConfigError listing every bad variable, one per line."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        files: dict[str, Path] = {}
        errors: list[str] = []
        for f in variables():
            meta = f.metadata
            name = meta["env"]
            try:
                raw = _read_raw(env, name, meta["secret"])
                if raw is None:
                    continue
                values[f.name] = parse_value(name, raw, meta)
                if meta["secret"] and env.get(f"{name}_FILE"):
                    files[name] = Path(env[f"{name}_FILE"])
            except ConfigError as exc:
                errors.append(str(exc))
        if errors:
            raise ConfigError("\n".join(errors))
        settings = cls(**values, secret_files=files)
        problems = settings.problems()
        if problems:
            raise ConfigError("\n".join(problems))
        return settings

    # --- what the role runs -----------------------------------------------------------------
    @property
    def runs_odoo(self) -> bool:
        return self.role in ("all", "web", "cron")

    @property
    def runs_backup_scheduler(self) -> bool:
        return self.role == "backup" or (self.role == "all" and self.auto_backup)

    @property
    def runs_metrics(self) -> bool:
        return self.role == "metrics" or (self.metrics_enabled and self.runs_odoo)

    @property
    def runs_spares(self) -> bool:
        """The spare tenants are kept once per pool: by the all-in-one or the cron container."""
        return self.provision_spares > 0 and self.role in ("all", "cron")

    @property
    def runs_api(self) -> bool:
        """The control API: alone in role api, beside Odoo in role all when enabled."""
        return self.role == "api" or (self.role == "all" and self.api_enabled)

    @property
    def metrics_pool(self) -> bool:
        """Per-tenant figures (sizes, connections, crons, backups): once per pool, not per pod."""
        return self.role in ("all", "metrics")

    @property
    def cron_threads(self) -> int:
        """Cron threads Odoo runs: none in web replicas, so crons run in exactly one place."""
        return 0 if self.role == "web" else self.max_cron_threads

    @property
    def http_enabled(self) -> bool:
        return self.role != "cron"

    @property
    def main_programs(self) -> list[str]:
        """supervisord programs whose FATAL state ends the container."""
        return {"backup": ["backup-scheduler"], "metrics": ["metrics"], "api": ["api"]}.get(
            self.role, ["odoo"]
        )

    @property
    def console_sso_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The proxies allowed to set the single sign-on header (valid ones: see problems)."""
        out = []
        for text in self.console_sso_proxies:
            try:
                out.append(ipaddress.ip_network(text.strip(), strict=False))
            except ValueError:
                continue
        return tuple(out)

    def _console_sso_problems(self) -> list[str]:
        header = self.console_sso_header
        if not header:
            return []
        if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", header) or header.lower() in (
            "authorization",
            "cookie",
            "host",
        ):
            return [f"ODOO_SAAS_CONSOLE_SSO_HEADER {header!r} is not a header a proxy may set"]
        if not self.console_sso_proxies:
            return [
                "ODOO_SAAS_CONSOLE_SSO_HEADER needs ODOO_SAAS_CONSOLE_SSO_PROXIES: without it "
                "anyone reaching the API could send the header"
            ]
        if len(self.console_sso_networks) != len(self.console_sso_proxies):
            return ["ODOO_SAAS_CONSOLE_SSO_PROXIES holds something that is no address or network"]
        return []

    # --- validation across fields -----------------------------------------------------------
    def problems(self) -> list[str]:
        """Errors no command can work with."""
        out: list[str] = []
        if self.limit_memory_hard < self.limit_memory_soft:
            out.append(
                "ODOO_LIMIT_MEMORY_HARD must be at least ODOO_LIMIT_MEMORY_SOFT "
                f"({self.limit_memory_hard} < {self.limit_memory_soft})"
            )
        ports = {"ODOO_HTTP_PORT": self.http_port, "ODOO_GEVENT_PORT": self.gevent_port}
        if self.runs_metrics:
            ports["ODOO_METRICS_PORT"] = self.metrics_port
        if self.runs_api:
            ports["ODOO_SAAS_API_PORT"] = self.api_port
        seen: dict[int, str] = {}
        for name, port in ports.items():
            if port in seen:
                out.append(f"{name} and {seen[port]} are both {port}: each needs its own port")
            seen[port] = name
        try:
            re.compile(self.db_filter.replace("%d", "x").replace("%h", "x"))
        except re.error as exc:
            out.append(f"ODOO_DB_FILTER is not a valid regular expression: {exc}")
        if self.list_db and not self.db_name and self.db_filter.strip() in OPEN_FILTERS:
            out.append(
                "ODOO_LIST_DB=true with ODOO_DB_FILTER matching every database would show every "
                "tenant to any visitor: set ODOO_DB_FILTER (e.g. ^%d$) or ODOO_LIST_DB=false"
            )
        if self.enable_redis and self.redis_url and not self.redis_url.startswith(REDIS_SCHEMES):
            out.append("ODOO_REDIS_URL must start with redis://, rediss:// (TLS) or unix://")
        out.extend(self._console_sso_problems())
        if self.db_user == "postgres":
            out.append("ODOO_DB_USER must not be postgres: Odoo refuses to run as the superuser")
        if not self.saas_db_user:
            out.append("ODOO_SAAS_DB_USER must not be empty: it names the role owning the tenants")
        elif self.saas_db_user == self.db_user:
            out.append(
                f"ODOO_SAAS_DB_USER and ODOO_DB_USER are both {self.db_user}: the role that owns "
                "and creates tenants must not be the one Odoo logs in as"
            )
        for name, role in (
            ("ODOO_DB_USER", self.db_user),
            ("ODOO_SAAS_DB_USER", self.saas_db_user),
        ):
            if role.startswith(RESERVED_PREFIX):
                out.append(f"{name}={role} uses the prefix {RESERVED_PREFIX} odoo-saas keeps")
        if len(self.tenant_db_prefix.encode()) > MAX_PREFIX_BYTES:
            out.append(
                f"TENANT_DB_PREFIX={self.tenant_db_prefix!r} is longer than {MAX_PREFIX_BYTES} "
                "bytes: with a tenant name of up to 50 it must fit PostgreSQL's 63"
            )
        if self.tenant_url_template and "{tenant}" not in self.tenant_url_template:
            out.append(
                "TENANT_URL_TEMPLATE must contain {tenant}, e.g. https://{tenant}.example.com"
            )
        out.extend(self._domain_problems())
        if self.metrics_user and not self.metrics_password:
            out.append("ODOO_METRICS_USER is set but ODOO_METRICS_PASSWORD is empty")
        if self.metrics_password and not self.metrics_user:
            out.append(
                "ODOO_METRICS_PASSWORD is set but ODOO_METRICS_USER is empty: basic auth needs "
                "both (without a user the exporter would be open)"
            )
        if self.aws_s3_sse == "aws:kms" and not self.aws_s3_sse_kms_key_id:
            out.append("AWS_S3_SSE=aws:kms needs AWS_S3_SSE_KMS_KEY_ID")
        by_env = {f.metadata["env"]: f.name for f in variables()}
        for env, why in OFFSITE_ENGINES.get(self.backup_offsite, {}).items():
            if not getattr(self, by_env[env]):
                out.append(f"BACKUP_OFFSITE={self.backup_offsite} needs {env} {why}")
        for name in self.db_name:
            if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", name) or len(name.encode()) > 63:
                out.append(
                    f"ODOO_DB_NAME: {name!r} is not a valid database name "
                    "(letters, digits, _ . -; at most 63 bytes)"
                )
        return out

    def _domain_problems(self) -> list[str]:
        out: list[str] = []
        hostname = re.compile(r"([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?")
        for name, value in (
            ("ODOO_DOMAIN", self.pool_domain_setting),
            ("ODOO_SAAS_POOL_HOST", self.pool_host),
        ):
            if value and not hostname.fullmatch(value.lower().rstrip(".")):
                out.append(f"{name}={value!r} is not a host name (letters, digits, - and dots)")
        for server in self.dns_servers:
            if parse_dns_server(server) is None:
                out.append(
                    f"ODOO_SAAS_DNS_SERVERS: {server!r} is not IP[:PORT] (IPv6 as [IP]:PORT)"
                )
        if self.ingress_annotations:
            try:
                notes = json.loads(self.ingress_annotations)
            except ValueError:
                notes = None
            if not isinstance(notes, dict) or not all(isinstance(v, str) for v in notes.values()):
                out.append("ODOO_SAAS_INGRESS_ANNOTATIONS must be a JSON object of strings")
        return out

    def server_problems(self) -> list[str]:
        """Errors that only matter when the stack (Odoo itself) is started."""
        out: list[str] = []
        if self.runs_odoo:  # backup and metrics roles have no database manager to guard
            if not self.admin_passwd:
                out.append(
                    "ODOO_ADMIN_PASSWD is not set: a master password is required (or "
                    "ODOO_ADMIN_PASSWD_FILE); without one the first visitor could set it"
                )
            elif self.admin_passwd == "admin":  # noqa: S105 - refusing Odoo's default
                out.append("ODOO_ADMIN_PASSWD must not be 'admin', Odoo's well-known default")
        if not self.db_password and not self.db_host.startswith("/"):
            out.append(
                "ODOO_DB_PASSWORD is not set (or ODOO_DB_PASSWORD_FILE): needed to reach "
                f"PostgreSQL at {self.db_host}:{self.db_port}"
            )
        return out

    def warnings(self) -> list[str]:
        """Risky but workable choices, said once at start."""
        out: list[str] = []
        if self.list_db:
            out.append(
                "ODOO_LIST_DB=true: the database manager (create/backup/drop) is reachable "
                "over HTTP, guarded only by the master password"
            )
        if self.db_filter and not (self.db_filter.startswith("^") and self.db_filter.endswith("$")):
            out.append(
                f"ODOO_DB_FILTER={self.db_filter!r} is not anchored: Odoo uses re.match, so "
                "write ^...$ to stop one tenant's name matching another's"
            )
        if self.workers == 0 and (self.enable_redis or not self.db_name):
            out.append("ODOO_WORKERS=0 runs Odoo threaded: one process for every tenant")
        if self.proxy_mode is False and "%d" in self.db_filter:
            out.append(
                "ODOO_DB_FILTER uses %d without ODOO_PROXY_MODE=true: behind a reverse proxy "
                "the host seen by Odoo must be the tenant's"
            )
        if self.role == "all" and not self.auto_backup:
            out.append("ODOO_AUTO_BACKUP=false: no scheduled backups are taken")
        if self.role == "all" and self.auto_backup and self.aws_secret_access_key:
            out.append(
                "the S3 keys run under Odoo's user in role all: a compromised addon could read "
                "them; run the backup role in its own container (compose multi-tenant, the Helm "
                "chart) or give this one a key that can only put objects (see docs/security.md)"
            )
        if self.role == "all" and self.aws_s3_bucket and not self.auto_backup:
            out.append("AWS_S3_BUCKET is set but ODOO_AUTO_BACKUP=false: nothing is uploaded")
        if (
            self.admin_passwd
            and not self.admin_passwd.startswith("$pbkdf2-sha512$")
            and len(self.admin_passwd) < 12
        ):
            out.append("ODOO_ADMIN_PASSWD is shorter than 12 characters")
        return out

    # --- derived values ---------------------------------------------------------------------
    @property
    def odoo_conf(self) -> Path:
        return self.runtime_dir / "odoo.conf"

    @property
    def supervisord_conf(self) -> Path:
        return self.runtime_dir / "supervisord.conf"

    @property
    def supervisor_socket(self) -> Path:
        return self.runtime_dir / "supervisor.sock"

    @property
    def command_socket(self) -> Path:
        return self.runtime_dir / runtime_location.COMMAND_SOCKET

    @property
    def filestore_root(self) -> Path:
        return self.data_dir / "filestore"

    def filestore(self, db: str) -> Path:
        return self.filestore_root / path_component(db)

    @property
    def sessions_dir(self) -> Path:
        return self.data_dir / "sessions"

    @property
    def state_dir(self) -> Path:
        """Caches odoo-saas keeps beside the filestores, so that a new container (an image
        upgrade, a restarted pod) finds them; nothing secret goes there (the data volume is
        snapshotted and copied: spare passwords stay in the runtime directory)."""
        return self.data_dir / ".odoo-saas"

    @property
    def pool_domain(self) -> str:
        """The pool's own domain, lowercase: ODOO_DOMAIN, else what follows `{tenant}.` in
        TENANT_URL_TEMPLATE's host; empty when neither says (no host routing then)."""
        domain = self.pool_domain_setting
        if not domain:
            host = urllib.parse.urlsplit(self.tenant_url_template).hostname or ""
            domain = host.removeprefix("{tenant}.") if host.startswith("{tenant}.") else ""
        return domain.strip().rstrip(".").lower()

    @property
    def offsite(self) -> str | None:
        """The off-site engine backups go to (BACKUP_OFFSITE), or None: without a bucket there
        is no off-site store (backups/offsite/ builds the engine from this name)."""
        return self.backup_offsite if self.aws_s3_bucket else None

    def secret_values(self) -> list[str]:
        """Every secret's value, for blanking out of logs."""
        return [
            getattr(self, f.name)
            for f in variables()
            if f.metadata["secret"] and getattr(self, f.name)
        ]

    def supervisor_environment(self) -> dict[str, str]:
        """The environment supervisord (and so Odoo's siblings) starts with: this container's,
        less every secret no supervised program of this role needs. Odoo runs as the same user
        as supervisord and can read /proc/<pid>/environ of both: the clear master password
        never stays there, and the S3 keys only where the backup scheduler runs."""
        keep = {"ODOO_DB_PASSWORD", "ODOO_REDIS_PASSWORD", "ODOO_REDIS_URL"}  # also in odoo.conf
        if self.runs_metrics:
            keep.add("ODOO_METRICS_PASSWORD")
        if self.runs_backup_scheduler:
            keep |= BACKUP_SECRETS
        if self.runs_spares or self.runs_api:
            # the spares program copies templates; the API creates, restores and drops tenants
            keep.add("ODOO_SAAS_DB_PASSWORD")
        if self.role == "api":
            # restores from off-site copies; in role all they stay with the backup scheduler
            keep |= BACKUP_SECRETS
        secret = {f.metadata["env"] for f in variables() if f.metadata["secret"]}
        dropped = {n for s in secret - keep for n in (s, f"{s}_FILE")}
        return {k: v for k, v in os.environ.items() if k not in dropped}

    @property
    def manages(self) -> bool:
        """Whether this process holds the management role's credentials (create, copy,
        rename, restore, drop); without them the server is only read, as ODOO_DB_USER."""
        return bool(self.saas_db_password)

    def login_for(self, dbname: str | None) -> tuple[str, str]:
        """(role, password) for a connection to dbname: the server's own databases as the
        management role (or ODOO_DB_USER where this process does not manage), any other
        database as that database's own role, so nothing a tenant planted in its database
        ever runs with more rights than the tenant's (core/tenant_roles.py)."""
        if dbname is None or dbname in SERVER_DATABASES:
            if self.manages:
                return self.saas_db_user, self.saas_db_password
            return self.db_user, self.db_password
        role = tenant_roles.role_for(dbname)
        return role, tenant_roles.password_for(self.db_password, role)

    def libpq_env(self, dbname: str | None = None) -> dict[str, str]:
        """Connection settings for libpq tools (psql, pg_dump): in the environment, never argv."""
        user, password = self.login_for(dbname)
        env = {
            "PGHOST": self.db_host,
            "PGPORT": str(self.db_port),
            "PGUSER": user,
            "PGSSLMODE": self.db_sslmode,
            "PGAPPNAME": "odoo-saas",
        }
        if password:
            env["PGPASSWORD"] = password
        if dbname:
            env["PGDATABASE"] = dbname
        return env

    def connect_kwargs(self, dbname: str = "postgres") -> dict[str, Any]:
        """Keyword arguments for psycopg2.connect."""
        user, password = self.login_for(dbname)
        kwargs: dict[str, Any] = {
            "host": self.db_host,
            "port": self.db_port,
            "user": user,
            "dbname": dbname,
            "sslmode": self.db_sslmode,
            "application_name": "odoo-saas",
        }
        if password:
            kwargs["password"] = password
        return kwargs

    def public_dict(self) -> dict[str, Any]:
        """Every setting by variable name, secrets masked: for `odoo-saas settings --json`."""
        out: dict[str, Any] = {}
        for f in variables():
            value = getattr(self, f.name)
            if f.metadata["secret"]:
                value = REDACTED if value else ""
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = [str(v) for v in value]
            out[f.metadata["env"]] = value
        return out


def variables() -> list[Field[Any]]:
    """The settings bound to an environment variable (every field but secret_files)."""
    return [f for f in fields(Settings) if "env" in f.metadata]


def _read_raw(env: Mapping[str, str], name: str, secret: bool) -> str | None:
    """The raw value of NAME, or of the file NAME_FILE names (Docker secrets)."""
    file_name = f"{name}_FILE"
    if secret and env.get(file_name):
        if env.get(name):
            raise ConfigError(f"{name} and {file_name} are both set: keep one")
        path = Path(env[file_name])
        try:
            return path.read_text().rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"{file_name}: cannot read {path}: {exc.strerror}") from exc
    return env.get(name)


def parse_value(name: str, raw: str, meta: Mapping[str, Any]) -> Any:
    """Turn one raw string into its typed value, or raise ConfigError naming the variable."""
    if "\n" in raw or "\r" in raw:
        raise ConfigError(f"{name} must be a single line")
    parser = PARSERS.get(meta["kind"])
    if parser is None:
        raise AssertionError(f"unknown kind {meta['kind']}")
    return parser(name, raw, raw.strip(), meta)


# Each parser gets the variable's name, its raw value, that value stripped, and its field's
# metadata (var()); it returns the typed value or raises ConfigError naming the variable.
Parser = Callable[[str, str, str, Mapping[str, Any]], Any]


def _parse_str(name: str, raw: str, value: str, meta: Mapping[str, Any]) -> str:
    return value if not meta["secret"] else raw  # a secret is kept byte for byte


def _parse_bool(name: str, raw: str, value: str, meta: Mapping[str, Any]) -> bool:
    low = value.lower()
    if low in TRUE:
        return True
    if low in FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean: use true or false")


def _whole_number(name: str, raw: str, value: str, low: int | None) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if low is not None and number < low:
        raise ConfigError(f"{name}={number} is too small: at least {low}")
    return number


def _parse_int(name: str, raw: str, value: str, meta: Mapping[str, Any]) -> int:
    return _whole_number(name, raw, value, meta["minimum"])


def _parse_int_or_auto(name: str, raw: str, value: str, meta: Mapping[str, Any]) -> int | None:
    """ "int?": empty or `auto` is None (computed elsewhere)."""
    if value.lower() in ("", "auto"):
        return None
    return _parse_int(name, raw, value, meta)


def _parse_port(name: str, raw: str, value: str, meta: Mapping[str, Any]) -> int:
    number = _whole_number(name, raw, value, 1)
    if number > 65535:
        raise ConfigError(f"{name}={number} is not a port: 1 to 65535")
    return number


def _parse_size(name: str, raw: str, value: str, meta: Mapping[str, Any]) -> int:
    match = re.fullmatch(r"(\d+)\s*([kKmMgGtT]?)[bB]?", value)
    if not match:
        raise ConfigError(f"{name}={raw!r} is not a size: bytes, or a number with K, M or G")
    return int(match.group(1)) * SIZE_SUFFIX[match.group(2).lower()]


def _parse_choice(name: str, raw: str, value: str, meta: Mapping[str, Any]) -> str:
    if value not in meta["choices"]:
        allowed = ", ".join(c or "(empty)" for c in meta["choices"])
        raise ConfigError(f"{name}={raw!r} is not one of: {allowed}")
    return value


def _parse_path(name: str, raw: str, value: str, meta: Mapping[str, Any]) -> Path:
    if not value:
        raise ConfigError(f"{name} must not be empty")
    return Path(value)


def _parse_paths(name: str, raw: str, value: str, meta: Mapping[str, Any]) -> tuple[Path, ...]:
    return tuple(Path(p.strip()) for p in value.split(",") if p.strip())


def _parse_list(name: str, raw: str, value: str, meta: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(p.strip() for p in value.split(",") if p.strip())


def _parse_cron(name: str, raw: str, value: str, meta: Mapping[str, Any]) -> str:
    from croniter import croniter  # only when a schedule is read (start-up cost of every command)

    if not croniter.is_valid(value):
        raise ConfigError(
            f"{name}={raw!r} is not a cron expression (five fields, e.g. '0 */6 * * *')"
        )
    return value


def _parse_tz(name: str, raw: str, value: str, meta: Mapping[str, Any]) -> str:
    import zoneinfo  # only when a time zone is set (start-up cost of every command)

    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{name}={raw!r} is not a known time zone (e.g. UTC, Europe/Brussels)"
        ) from None
    return value


# var(kind=...) -> its parser: a new kind of setting is one function and one line here.
PARSERS: dict[str, Parser] = {
    "str": _parse_str,
    "bool": _parse_bool,
    "int": _parse_int,
    "int?": _parse_int_or_auto,
    "port": _parse_port,
    "size": _parse_size,
    "choice": _parse_choice,
    "path": _parse_path,
    "paths": _parse_paths,
    "list": _parse_list,
    "cron": _parse_cron,
    "tz": _parse_tz,
}


def documented_variables() -> list[dict[str, Any]]:
    """Every variable with default and doc, in declaration order (README table, tests)."""
    rows = []
    for f in variables():
        meta = f.metadata
        if meta["shown_default"] is not None:
            default = meta["shown_default"]
        elif f.default is not MISSING:
            default = f.default
            if isinstance(default, bool):
                default = str(default).lower()
        else:
            default = ",".join(str(p) for p in f.default_factory())  # type: ignore[misc]
        rows.append(
            {
                "name": meta["env"],
                "default": str(default),
                "doc": meta["doc"],
                "secret": meta["secret"],
            }
        )
    return rows


def markdown_table() -> str:
    """The README's variable table: generated, so it cannot drift from the code."""
    lines = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for row in documented_variables():
        default = f"`{row['default']}`" if row["default"] else "(empty)"
        doc = row["doc"] + (" Also `_FILE`." if row["secret"] else "")
        lines.append(f"| `{row['name']}` | {default} | {doc.replace('|', '/')} |")
    return "\n".join(lines)


def parse_dns_server(text: str) -> tuple[str, int] | None:
    """`IP`, `IP:PORT` or `[IPv6]:PORT` -> (ip, port); None when it is not one."""
    text = text.strip()
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                return None
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, digits = text.partition(":")
        if not digits.isdigit():
            return None
        port = int(digits)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    return (host, port) if 0 < port < 65536 else None
