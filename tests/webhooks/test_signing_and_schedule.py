"""The pure parts of webhooks: the Standard Webhooks signature (checked with the spec's own
library, `standardwebhooks`, and the spec's published example) and the retry schedule."""

from __future__ import annotations

import datetime as dt
import itertools
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from odoo_saas_tools.control import webhooks
from odoo_saas_tools.core.errors import ConfigError

T0 = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.timezone.utc)


def test_signature_is_what_the_spec_library_verifies() -> None:
    secret = webhooks.new_secret()
    body = b'{"data":{"name":"acme"},"type":"tenant.created"}'
    now = int(time.time())
    signature = webhooks.sign(secret, "msg_1", now, body)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(now), "webhook-signature": signature}
    expected = {"data": {"name": "acme"}, "type": "tenant.created"}
    assert Webhook(secret).verify(body, headers) == expected
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"acme", b"acmf"), headers)


def test_signature_of_the_spec_example() -> None:
    # the example of the Standard Webhooks specification (its README's signature section)
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    signed = webhooks.sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert signed == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_secrets_urls_and_events_are_checked() -> None:
    assert webhooks.check_secret(webhooks.new_secret()).startswith("whsec_")
    for bad in ("abc", "whsec_***", "whsec_" + "QUJD", "whsec_" + "A" * 200):
        with pytest.raises(ConfigError, match="secret"):
            webhooks.check_secret(bad)
    assert webhooks.check_url("https://hooks.example.com:8443/in?x=1")
    for bad in ("ftp://h/x", "https://u:p@h/x", "http:///x", "http://h:99999/", "https://h/ x"):
        with pytest.raises(ConfigError, match="url"):
            webhooks.check_url(bad)
    assert webhooks.check_events(["job.failed", "tenant.created", "job.failed"]) == [
        "job.failed",
        "tenant.created",
    ]
    for bad in ([], ["tenant.exploded"]):
        with pytest.raises(ConfigError, match="events"):
            webhooks.check_events(bad)


def test_schedule_first_retry_within_10_s_then_exponential_until_a_day() -> None:
    schedule = webhooks.Schedule()
    now, attempts, waits = T0, 0, []
    while True:
        attempts += 1
        following = schedule.next_attempt(T0, attempts, now)
        if following is None:
            break
        waits.append((following - now).total_seconds())
        now = following
    assert waits[0] <= 10
    growing = waits[: waits.index(max(waits))]
    assert all(b > a for a, b in itertools.pairwise(growing))  # exponential, then capped
    assert now == T0 + dt.timedelta(hours=24)  # the last try at the end of the day, then failed
    assert 10 <= attempts <= 20, attempts


def test_schedule_gives_up_after_the_window() -> None:
    schedule = webhooks.Schedule(first=1, factor=2, cap=10, window=60)
    assert schedule.next_attempt(T0, 1, T0) == T0 + dt.timedelta(seconds=1)
    assert schedule.next_attempt(T0, 4, T0 + dt.timedelta(seconds=20)) == T0 + dt.timedelta(
        seconds=28
    )
    assert schedule.next_attempt(T0, 9, T0 + dt.timedelta(seconds=55)) == T0 + dt.timedelta(
        seconds=60
    )
    assert schedule.next_attempt(T0, 10, T0 + dt.timedelta(seconds=60)) is None
