"""What a custom domain may be, in the one form every part of odoo-saas stores and compares:
lowercase, IDNA-encoded (xn--), without the trailing dot."""

from __future__ import annotations

import ipaddress
import re

from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.settings import Settings

MAX_LENGTH = 253  # a host name in DNS (RFC 1035), without the trailing dot
LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def normalize(raw: str, settings: Settings) -> str:
    """raw as stored (erp.acme.com), or ConfigError naming what is wrong with it."""
    text = (raw or "").strip()
    shown = text[:80] + ("…" if len(text) > 80 else "")
    if not text:
        raise ConfigError("the domain is empty")
    if "*" in text:
        raise ConfigError(f"{shown} is a wildcard: add each host name on its own")
    if _is_ip(text):
        raise ConfigError(f"{shown} is an IP address, not a domain name")
    name = _ascii(text.removesuffix("."), shown)
    if len(name) > MAX_LENGTH:
        raise ConfigError(f"{shown} is longer than {MAX_LENGTH} characters ({len(name)})")
    labels = name.split(".")
    for label in labels:
        if not LABEL.fullmatch(label):
            raise ConfigError(
                f"{shown} has an invalid label {label[:70]!r}: letters, digits and inner "
                "hyphens only, 1 to 63 characters"
            )
    if len(labels) < 2 or labels[-1].isdigit():
        raise ConfigError(f"{shown} is not a domain name under a top-level domain")
    pool = settings.pool_domain
    if pool and (name == pool or name.endswith("." + pool)):
        raise ConfigError(
            f"{name} is the pool's own domain ({pool}): its tenants are served there already"
        )
    if settings.pool_host and name == settings.pool_host.lower().rstrip("."):
        raise ConfigError(f"{name} is the pool's own host name (ODOO_SAAS_POOL_HOST)")
    return name


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]").removesuffix("."))
    except ValueError:
        return False
    return True


def _ascii(text: str, shown: str) -> str:
    """The IDNA (UTS 46) form of a name: lowercase, xn-- labels for anything else than ASCII."""
    if text.isascii():
        return text.lower()
    import idna  # only for names written in other scripts

    try:
        return idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ConfigError(f"{shown} has an invalid label: {exc}") from None
