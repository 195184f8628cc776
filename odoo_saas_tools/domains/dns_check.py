"""The proof that whoever claims a domain controls it: a TXT record holding the claim's token,
or the domain itself a CNAME to the pool's host name, looked up with dnspython through the
system's resolvers or ODOO_SAAS_DNS_SERVERS (never a cache of ours: a record just created must
be seen)."""

from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.nameserver
import dns.resolver

from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.settings import Settings, parse_dns_server

CHALLENGE_LABEL = "_odoo-saas-challenge"
TIMEOUT = 3.0  # per server
LIFETIME = 8.0  # per lookup, every server and retry included


class NotProven(SaasError):
    """DNS answered, without the proof (yet): the API answers 409, the CLI exits 1."""


@dataclass(frozen=True)
class Proof:
    method: str  # "TXT" or "CNAME"
    record: str  # the name that holds it


def challenge_name(domain: str) -> str:
    return f"{CHALLENGE_LABEL}.{domain}"


def resolver(settings: Settings) -> dns.resolver.Resolver:
    """The configured servers, else /etc/resolv.conf's."""
    if settings.dns_servers:
        res = dns.resolver.Resolver(configure=False)
        servers = [parse_dns_server(s) for s in settings.dns_servers]
        res.nameservers = [dns.nameserver.Do53Nameserver(ip, port) for ip, port in servers]  # type: ignore[misc]
    else:
        res = dns.resolver.Resolver()
    res.timeout, res.lifetime = TIMEOUT, LIFETIME
    res.cache = None
    return res


def prove(settings: Settings, domain: str, token: str) -> Proof:
    """The first proof found, or SaasError saying in one line what DNS holds instead."""
    res = resolver(settings)
    found_txt = _txt_values(res, challenge_name(domain))
    if token in found_txt:
        return Proof("TXT", challenge_name(domain))
    pool = settings.pool_host.lower().rstrip(".")
    targets = _cname_targets(res, domain) if pool else []
    if pool in targets:
        return Proof("CNAME", domain)
    seen = f"holds {', '.join(repr(v[:40]) for v in found_txt[:3])}" if found_txt else "is absent"
    cname = ""
    if pool:
        cname = f"; {domain} is " + (
            f"a CNAME to {targets[0]}, not {pool}" if targets else f"not a CNAME to {pool}"
        )
    raise NotProven(
        f"{domain} is not verified: TXT {challenge_name(domain)} {seen} (expected the claim's "
        f"token){cname}"
    )


def _txt_values(res: dns.resolver.Resolver, name: str) -> list[str]:
    answer = _resolve(res, name, "TXT")
    if answer is None:
        return []
    return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]


def _cname_targets(res: dns.resolver.Resolver, name: str) -> list[str]:
    answer = _resolve(res, name, "CNAME")
    if answer is None:
        return []
    return [r.target.to_text(omit_final_dot=True).lower() for r in answer]


def _resolve(res: dns.resolver.Resolver, name: str, rdtype: str) -> dns.resolver.Answer | None:
    """The answer, None when the name or the type does not exist; SaasError when DNS fails."""
    try:
        answer = res.resolve(name, rdtype, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN:
        return None
    except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
        raise SaasError(f"DNS gave no answer for {rdtype} {name}: {exc}") from None
    except dns.exception.DNSException as exc:
        raise SaasError(f"looking up {rdtype} {name} failed: {exc}") from None
    return answer if answer.rrset is not None else None
