"""Retention rules on synthetic timestamps (pure functions, no I/O)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from odoo_saas_tools.backups.retention import Candidate, Policy, decide

pytestmark = pytest.mark.unit  # pure code: the unit tier

NOW = datetime(2026, 11, 26, 18, 0, tzinfo=timezone.utc)


def every(hours: int, days: int, good: bool = True) -> list[Candidate[datetime]]:
    """One backup every `hours` hours for `days` days before NOW."""
    out = []
    ts = NOW - timedelta(days=days)
    while ts <= NOW:
        out.append(Candidate(ts, good, ts))
        ts += timedelta(hours=hours)
    return out


def kept(decision) -> set[datetime]:
    return {item for item, _ in decision.keep}


def test_age_policy_keeps_retention_days_and_deletes_older():
    cands = every(6, 20)
    d = decide(cands, Policy(retention_days=7), NOW)
    cutoff = NOW - timedelta(days=7)
    assert kept(d) == {c.item for c in cands if c.timestamp >= cutoff}
    assert set(d.delete) == {c.item for c in cands if c.timestamp < cutoff}
    assert d.delete and len(d.keep) == 29  # 7 days * 4 + the one exactly at the cutoff


def test_newest_good_backup_is_never_deleted_even_when_old():
    old = [Candidate(NOW - timedelta(days=d), True, d) for d in (30, 40, 50)]
    d = decide(old, Policy(retention_days=7), NOW)
    assert [item for item, _ in d.keep] == [30]
    assert dict(d.keep)[30] == ["newest"]
    assert sorted(d.delete) == [40, 50]


def test_newest_good_is_kept_when_newer_ones_are_bad():
    cands = [
        Candidate(NOW - timedelta(days=20), True, "good"),
        Candidate(NOW - timedelta(days=10), False, "bad-old"),
        Candidate(NOW - timedelta(hours=1), False, "bad-new"),
    ]
    d = decide(cands, Policy(retention_days=7, keep_daily=3), NOW)
    assert kept(d) == {"good", "bad-new"}  # bad ones only live through the age window
    assert d.delete == ["bad-old"]
    assert "newest" in dict(d.keep)["good"]


def test_gfs_daily_weekly_monthly():
    cands = every(6, 400)
    policy = Policy(retention_days=7, keep_daily=7, keep_weekly=4, keep_monthly=3)
    d = decide(cands, policy, NOW)
    reasons = dict(d.keep)
    daily = sorted(ts for ts, why in reasons.items() if "daily" in why)
    weekly = sorted(ts for ts, why in reasons.items() if "weekly" in why)
    monthly = sorted(ts for ts, why in reasons.items() if "monthly" in why)
    # newest of each of the last 7 days: today 18:00, then 18:00 of the six days before
    assert daily == [NOW - timedelta(days=i) for i in range(6, -1, -1)]
    # newest of each of the last 4 ISO weeks (2026-11-26 is a Thursday)
    assert len(weekly) == 4 and len({ts.isocalendar()[:2] for ts in weekly}) == 4
    for ts in weekly[:-1]:  # older weeks: their Sunday's last backup
        assert ts.weekday() == 6 and ts.hour == 18
    # newest of each of the last 3 months: Nov (now), Oct 31, Sep 30 at 18:00
    assert monthly == [
        datetime(2026, 9, 30, 18, tzinfo=timezone.utc),
        datetime(2026, 10, 31, 18, tzinfo=timezone.utc),
        NOW,
    ]
    assert kept(d) == set(daily) | set(weekly) | set(monthly)
    assert len(d.keep) + len(d.delete) == len(cands)
    assert NOW in kept(d)


def test_gfs_unset_rules_count_as_zero_and_age_rule_is_off():
    cands = every(6, 30)
    d = decide(cands, Policy(retention_days=7, keep_monthly=2), NOW)
    assert kept(d) == {NOW, datetime(2026, 10, 31, 18, tzinfo=timezone.utc)}


def test_gfs_counts_days_that_have_backups_not_calendar_days():
    stamps = [NOW - timedelta(days=d) for d in (0, 3, 9, 15)]
    d = decide([Candidate(t, True, t) for t in stamps], Policy(keep_daily=3), NOW)
    assert kept(d) == set(stamps[:3])
    assert d.delete == [stamps[3]]


def test_days_follow_the_backup_time_zone():
    # 23:30 UTC on the 24th is already the 25th in Brussels.
    a = datetime(2026, 11, 24, 23, 30, tzinfo=timezone.utc)
    b = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
    cands = [Candidate(a, True, "a"), Candidate(b, True, "b")]
    utc = decide(cands, Policy(keep_daily=2), NOW)
    brussels = decide(cands, Policy(keep_daily=2), NOW, ZoneInfo("Europe/Brussels"))
    assert kept(utc) == {"a", "b"}
    assert kept(brussels) == {"b"}


def test_empty_and_single():
    assert decide([], Policy(), NOW).keep == []
    one = decide([Candidate(NOW - timedelta(days=99), True, 1)], Policy(keep_daily=0), NOW)
    assert [i for i, _ in one.keep] == [1] and one.delete == []


def test_future_timestamps_are_kept():
    future = Candidate(NOW + timedelta(hours=2), True, "future")
    d = decide([future, Candidate(NOW, True, "now")], Policy(retention_days=1), NOW)
    assert kept(d) == {"future", "now"}
