"""The operations on custom domains, one function each for the CLI and the API: add (a claim and
the DNS record that proves it), verify (the domain serves its tenant from then on), list,
remove, primary (the tenant's web.base.url).

Every change is one catalog transaction that bumps the change counter, so Odoo's routing and the
TLS ask endpoint see it within a second. The tenant is the database Odoo serves (as `db list`
names it).
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from typing import Any

import psycopg2.errors

from odoo_saas_tools.catalog import domains as rows
from odoo_saas_tools.catalog import store
from odoo_saas_tools.core.errors import EXIT_UNCHANGED, ConfigError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.domains import base_url, dns_check, ingress
from odoo_saas_tools.domains.names import normalize
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.tenants.locks import tenant_lock
from odoo_saas_tools.tenants.names import check_name


class Unclaimed(ConfigError):
    """The domain is no claim at all (the API answers 404; the CLI exits 2, or 3 for a remove)."""


class NotVerified(ConfigError):
    """The domain is the tenant's but not verified yet (the API answers 409)."""


@dataclass(frozen=True)
class Claim:
    """A domain and what its owner must do or has done."""

    row: rows.Domain
    pool_host: str
    proof: str | None = None  # how it was verified, when it was just now
    created: bool = False
    ingress: str | None = None  # what the Ingress sync said, when it ran

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "domain": self.row.domain,
            "tenant": self.row.tenant,
            "verified": self.row.verified,
            "verified_at": self.row.verified_at.isoformat() if self.row.verified_at else None,
            "primary": self.row.is_primary,
            "created_at": self.row.created_at.isoformat(),
            "record": record(self.row),
        }
        if self.pool_host:
            out["alternative"] = {"type": "CNAME", "name": self.row.domain, "value": self.pool_host}
        if self.proof:
            out["proof"] = self.proof
        if self.ingress:
            out["ingress"] = self.ingress
        return out


def record(row: rows.Domain) -> dict[str, str]:
    """The DNS record that proves the claim."""
    return {"type": "TXT", "name": dns_check.challenge_name(row.domain), "value": row.token}


def add(settings: Settings, tenant: str, domain: str) -> Claim:
    """Claim domain for tenant (unverified: it serves nothing yet). Claiming it again for the
    same tenant gives the same claim back; another tenant's domain is refused."""
    tenant, name = _checked(settings, tenant, domain)
    if not databases.exists(settings, tenant):
        raise ConfigError(f"there is no tenant {tenant}")
    with store.session(settings) as cr:
        existing = rows.get(cr, name)
        if existing is not None:
            _owned_by(existing, tenant)
            return Claim(existing, _pool_host(settings))
        try:
            row = rows.insert(cr, name, tenant, secrets.token_hex(16))
        except psycopg2.errors.UniqueViolation:  # a claim made meanwhile won the race
            raise ConfigError(f"{name} was claimed meanwhile: run the command again") from None
        store.bump(cr)
    return Claim(row, _pool_host(settings), created=True)


def verify(settings: Settings, tenant: str, domain: str) -> Claim:
    """Check the DNS proof now; on success the domain serves tenant (already verified: the
    proof is not asked again)."""
    tenant, name = _checked(settings, tenant, domain)
    with store.session(settings) as cr:
        row = _claim_of(cr, tenant, name)
        if row.verified:
            return Claim(row, _pool_host(settings))
    proof = dns_check.prove(settings, name, row.token)  # outside a transaction: DNS is slow
    with store.session(settings) as cr:
        row = _claim_of(cr, tenant, name, lock=True)  # removed meanwhile: said so
        row = rows.mark_verified(cr, name)
        store.bump(cr)
    note = ingress.sync_if_enabled(settings)
    return Claim(row, _pool_host(settings), proof=f"{proof.method} {proof.record}", ingress=note)


def listing(settings: Settings, tenant: str | None = None) -> list[Claim]:
    if tenant is not None:
        check_name(tenant, what="tenant")
    with store.session(settings) as cr:
        found = rows.of_tenants(cr, tenant)
    return [Claim(row, _pool_host(settings)) for row in found]


def remove(settings: Settings, tenant: str, domain: str) -> Claim:
    """The domain stops serving tenant; its primary domain gives way to the pool's URL."""
    tenant, name = _checked(settings, tenant, domain, stored_only=True)
    with store.session(settings) as cr:
        row = rows.get(cr, name)
        if row is None:
            raise Unclaimed(f"{name} is not a domain of {tenant}: nothing removed", EXIT_UNCHANGED)
        _owned_by(row, tenant)
    with _tenant_held(settings, tenant, row.is_primary), store.session(settings) as cr:
        row = _claim_of(cr, tenant, name, lock=True)
        rows.delete(cr, name)
        store.bump(cr)
        if row.is_primary and databases.exists(settings, tenant):
            base_url.fall_back(settings, tenant)  # the catalog commits only once it is written
    note = ingress.sync_if_enabled(settings)
    return Claim(row, _pool_host(settings), ingress=note)


def primary(settings: Settings, tenant: str, domain: str) -> Claim:
    """Make a verified domain the tenant's primary: web.base.url https://DOMAIN, frozen."""
    tenant, name = _checked(settings, tenant, domain)
    with tenant_lock(settings, tenant, operation="domain change"), store.session(settings) as cr:
        row = _claim_of(cr, tenant, name, lock=True)
        if not row.verified:
            raise NotVerified(f"{name} is not verified yet: verify it first")
        rows.set_primary(cr, name, tenant)
        store.bump(cr)
        base_url.follow(settings, tenant, name)  # the catalog commits only once it is written
        row = rows.get(cr, name)
    return Claim(row, _pool_host(settings))


def _checked(
    settings: Settings, tenant: str, domain: str, *, stored_only: bool = False
) -> tuple[str, str]:
    check_name(tenant, what="tenant")
    if not settings.manages:
        raise ConfigError(
            "custom domains are changed with the management role: set ODOO_SAAS_DB_PASSWORD "
            "(run the command where tenants are managed)"
        )
    if stored_only:  # a domain refused today may have been stored under older rules: find it
        text = (domain or "").strip().lower().removesuffix(".")
        try:
            return tenant, normalize(domain, settings)
        except ConfigError:
            if not text:
                raise
            return tenant, text
    return tenant, normalize(domain, settings)


def _claim_of(cr: Any, tenant: str, name: str, *, lock: bool = False) -> rows.Domain:
    row = rows.get(cr, name, lock=lock)
    if row is None:
        raise Unclaimed(f"{name} is not a domain of {tenant}: add it first")
    _owned_by(row, tenant)
    return row


def _owned_by(row: rows.Domain, tenant: str) -> None:
    if row.tenant != tenant:
        raise ConfigError(f"{row.domain} is another tenant's domain")


def _pool_host(settings: Settings) -> str:
    return settings.pool_host.lower().rstrip(".")


def _tenant_held(settings: Settings, tenant: str, needed: bool) -> Any:
    """The tenant's lock when its database is written (a primary domain removed)."""
    if needed:
        return tenant_lock(settings, tenant, operation="domain change")
    return contextlib.nullcontext()
