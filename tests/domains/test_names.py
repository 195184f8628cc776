"""What a custom domain may be (no service needed): one form stored, one line for each refusal."""

from __future__ import annotations

import pytest

from odoo_saas_tools.core.errors import EXIT_USAGE, ConfigError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.domains.names import normalize
from odoo_saas_tools.domains.polled_map import normalize_host

pytestmark = pytest.mark.unit  # pure code: the unit tier

SETTINGS = Settings.from_env(
    {"ODOO_DOMAIN": "Pool.Example.com", "ODOO_SAAS_POOL_HOST": "edge.hoster.net"}
)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("erp.acme.com", "erp.acme.com"),
        ("  ERP.Acme.COM.  ", "erp.acme.com"),  # mixed case, trailing dot, spaces
        ("acme.com", "acme.com"),  # an apex
        ("bücher.example", "xn--bcher-kva.example"),  # IDNA
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("a-b.c-d.io", "a-b.c-d.io"),
        ("example.com.pool.example.com.evil", "example.com.pool.example.com.evil"),
        ("notpool.example.com", "notpool.example.com"),  # pool.example.com's sibling
        ("x" * 63 + ".com", "x" * 63 + ".com"),
        ("bad\u200b.example", "bad.example"),  # UTS 46 drops a zero-width space, as browsers do
    ],
)
def test_domains_are_stored_in_one_form(raw, stored):
    assert normalize(raw, SETTINGS) == stored


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("192.0.2.10", "is an IP address"),
        ("2001:db8::1", "is an IP address"),
        ("[2001:db8::1]", "is an IP address"),
        ("*.acme.com", "is a wildcard"),
        ("erp.*.acme.com", "is a wildcard"),
        ("pool.example.com", "is the pool's own domain"),
        ("POOL.example.com.", "is the pool's own domain"),
        ("acme.pool.example.com", "is the pool's own domain"),
        ("a.b.pool.example.com", "is the pool's own domain"),
        ("edge.hoster.net", "is the pool's own host name"),
        (".".join(["a" * 63] * 4) + ".com", "is longer than 253 characters"),
        ("erp_x.acme.com", "has an invalid label 'erp_x'"),
        ("-erp.acme.com", "has an invalid label '-erp'"),
        ("erp-.acme.com", "has an invalid label 'erp-'"),
        ("erp..acme.com", "has an invalid label ''"),
        ("x" * 64 + ".com", "has an invalid label"),
        ("erp.acme.com/path", "has an invalid label"),
        ("erp.acme.com:443", "has an invalid label"),
        ("user@acme.com", "has an invalid label"),
        ("localhost", "is not a domain name under a top-level domain"),
        ("1.2.3.999", "is not a domain name under a top-level domain"),
        ("", "the domain is empty"),
        ("   ", "the domain is empty"),
    ],
)
def test_bad_domains_are_one_line_with_exit_2(raw, says):
    with pytest.raises(ConfigError) as err:
        normalize(raw, SETTINGS)
    assert says in str(err.value)
    assert "\n" not in str(err.value) and err.value.exit_code == EXIT_USAGE
    assert len(str(err.value)) < 300


def test_the_pool_domain_comes_from_the_url_template_without_odoo_domain():
    s = Settings.from_env({"TENANT_URL_TEMPLATE": "https://{tenant}.Tenants.Example.org"})
    assert s.pool_domain == "tenants.example.org"
    with pytest.raises(ConfigError, match="pool's own domain"):
        normalize("acme.tenants.example.org", s)
    assert Settings.from_env({}).pool_domain == ""


@pytest.mark.parametrize(
    ("value", "ok"),
    [("127.0.0.1", True), ("127.0.0.1:5353", True), ("[::1]:53", True), ("::1", True),
     ("dns.google", False), ("127.0.0.1:x", False), ("127.0.0.1:0", False), ("[::1]x", False)],
)  # fmt: skip
def test_dns_servers_are_ip_and_port(value, ok):
    if ok:
        assert Settings.from_env({"ODOO_SAAS_DNS_SERVERS": value}).dns_servers == (value,)
    else:
        with pytest.raises(ConfigError, match="ODOO_SAAS_DNS_SERVERS"):
            Settings.from_env({"ODOO_SAAS_DNS_SERVERS": value})


@pytest.mark.parametrize(
    ("host", "seen"),
    [
        ("erp.acme.com", "erp.acme.com"),
        ("ERP.Acme.Com", "erp.acme.com"),
        ("erp.acme.com.", "erp.acme.com"),
        ("erp.acme.com:8443", "erp.acme.com"),
        ("erp.acme.com.:443", "erp.acme.com"),
        ("[::1]:8069", "::1"),
        ("erp.acme.com/x", ""),
        ("a b", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_a_host_header_is_read_as_domains_are_stored(host, seen):
    assert normalize_host(host) == seen
