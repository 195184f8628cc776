"""The API's bodies and answers, validated by pydantic and described in the OpenAPI document.

Every request body refuses unknown fields (extra="forbid"); every string has a pattern and a
length, so nothing a driver or a file name could choke on (NUL, control characters, a second
line) reaches a domain function.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from odoo_saas_tools.backups.listing import LAST_BACKUP_DIRS
from odoo_saas_tools.core.settings import BACKUP_FORMATS, OFFSITE_ENGINES

NAME = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$"  # tenants.names: what Odoo and PostgreSQL accept
# a tenant's name is at most this long, so that TENANT_DB_PREFIX (at most 13 bytes, see
# Settings.problems) and the name fit PostgreSQL's 63 bytes
NAME_MAX = 50
LINE = r"^[^\x00-\x1f\x7f]*$"  # one line of printable text
PLAN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$"
EMAIL = r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+$"
MODULE = r"^[a-z0-9_]{1,64}$"
LANG = r"^[a-z]{2,3}(_[A-Za-z0-9]{2,4})?(@[a-z]+)?$"
TZ = r"^[A-Za-z0-9_+/-]{1,64}$"
JobState = Literal["queued", "running", "succeeded", "failed"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TenantCreate(Body):
    name: str = Field(
        pattern=NAME,
        min_length=2,
        max_length=NAME_MAX,
        description="the database is TENANT_DB_PREFIX + name",
    )
    plan: str | None = Field(None, pattern=PLAN, description="default: `default`")
    admin_login: str = Field("admin", pattern=LINE, min_length=1, max_length=128)
    admin_email: str | None = Field(None, pattern=EMAIL, max_length=254)
    admin_password: str | None = Field(
        None,
        pattern=LINE,
        min_length=8,
        max_length=128,
        description="omit it to have one generated, returned once in the job's result",
    )
    company_name: str | None = Field(None, pattern=LINE, min_length=1, max_length=128)
    lang: str = Field("en_US", pattern=LANG, max_length=16)
    country: str | None = Field(None, pattern=r"^[A-Za-z]{2}$", description="ISO code: BE")
    tz: str | None = Field(None, pattern=TZ, description="e.g. Europe/Brussels")
    modules: list[Annotated[str, Field(pattern=MODULE)]] = Field(
        default_factory=list,
        max_length=100,
        description="installed besides base, PROVISION_MODULES and the plan's",
    )


class TenantPatch(Body):
    plan: str = Field(pattern=PLAN)


class CloneRequest(Body):
    target: str = Field(pattern=NAME, min_length=2, max_length=NAME_MAX)
    neutralize: bool = Field(True, description="mail servers, crons, payments ... disabled")


class BackupRequest(Body):
    format: Literal[BACKUP_FORMATS] = "zip"  # type: ignore[valid-type]


class RestoreRequest(Body):
    backup: str = Field(
        pattern=LINE,
        min_length=1,
        max_length=1024,
        description="an `id` of GET /v1/tenants/{name}/backups, or restic:DATABASE[@ID|@TIME]",
    )


class SuspendRequest(Body):
    reason: str = Field(pattern=LINE, min_length=1, max_length=500)


class ResumeRequest(Body):
    reason: str = Field("", pattern=LINE, max_length=500)


class DomainAdd(Body):
    domain: str = Field(
        pattern=LINE,
        min_length=1,
        max_length=1024,
        description="a host name (erp.acme.com); IDN names are stored in their xn-- form",
    )


class DnsRecord(BaseModel):
    type: Literal["TXT", "CNAME"]
    name: str
    value: str


class DomainOut(BaseModel):
    domain: str = Field(description="as stored: lowercase, IDNA, no trailing dot")
    tenant: str
    verified: bool = Field(description="it serves the tenant (Odoo's routing, TLS)")
    primary: bool = Field(description="the tenant's URL (web.base.url) is https://domain")
    record: DnsRecord = Field(description="the DNS record that proves the claim (TXT)")
    alternative: DnsRecord | None = Field(
        None, description="or this CNAME to the pool's host name (ODOO_SAAS_POOL_HOST)"
    )
    created_at: datetime = Field(description="when it was added")
    verified_at: datetime | None
    proof: str | None = Field(None, description="how a verify just now proved it")
    ingress: str | None = Field(None, description="what the Ingress sync said, when it ran")


class DomainList(BaseModel):
    items: list[DomainOut]


class SizeOut(BaseModel):
    day: date = Field(description="UTC")
    db_bytes: int
    filestore_bytes: int


class SizeList(BaseModel):
    items: list[SizeOut] = Field(description="oldest first")


class LastBackupOut(BaseModel):
    at: datetime
    size_bytes: int
    verified: bool = Field(description="checked when it was written (sha256 sidecar)")
    offsite: str = Field(description="verified | failed | disabled (scheduled runs)")
    file: str


class TenantOut(BaseModel):
    name: str
    database: str
    state: str = Field(
        description="provisioning | active | suspended | deleting, or what `db list` shows "
        "for a killed operation (orphaned-provisioning, in-progress-restore ...)"
    )
    db_state: str | None = Field(description="`db list`'s: ready, neutralized, pending ...")
    plan: str
    state_reason: str
    state_changed_at: datetime | None
    database_bytes: int
    filestore_bytes: int
    active_users: int | None = Field(
        description="active internal users (GET /v1/tenants/{name} only; null in lists)"
    )
    last_backup: LastBackupOut | None
    url: str | None
    created_at: datetime | None
    odoo_version: str | None
    job: str | None = Field(description="the job queued or running on it")
    leftovers: list[str]
    domains: list[dict[str, Any]]


class JobOut(BaseModel):
    id: str
    kind: str
    tenant: str | None
    database: str | None
    state: JobState
    progress: str
    error: str | None = Field(description="one line, when it failed")
    result: dict[str, Any] | None
    params: dict[str, Any]
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class Accepted(BaseModel):
    job: JobOut
    tenant: TenantOut


class TenantPage(BaseModel):
    items: list[TenantOut]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class JobPage(BaseModel):
    items: list[JobOut]
    limit: int
    offset: int
    next_offset: int | None


# Where a backup is: a folder here (backups.listing) or an off-site engine (its name): a new
# engine is one module in backups/offsite, nothing here.
BackupWhere = Literal[("local", *LAST_BACKUP_DIRS, *OFFSITE_ENGINES)]  # type: ignore[valid-type]


class BackupOut(BaseModel):
    id: str = Field(description="what POST …/restore takes as `backup`")
    where: BackupWhere
    taken_at: datetime
    format: str | None
    size_bytes: int | None
    verified: bool


class BackupList(BaseModel):
    items: list[BackupOut]


class MeOut(BaseModel):
    name: str = Field(description="the token's name (`sso:<operator>` behind single sign-on)")
    scope: Literal["read", "write", "admin"]
    backup_period_seconds: float | None = Field(
        description="longest gap between two scheduled backups; null when they are off"
    )


class TokenOut(BaseModel):
    name: str
    scope: Literal["read", "write", "admin"]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenList(BaseModel):
    items: list[TokenOut]


class PlanOut(BaseModel):
    name: str
    modules: list[str]
    lang: str | None
    country: str | None
    max_users: int | None
    max_storage_mb: int | None
    trial_days: int | None
    suspend_over_storage: bool


class PlanList(BaseModel):
    items: list[PlanOut]
