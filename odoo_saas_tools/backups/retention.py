"""Which backups of one tenant to keep: pure functions, the same rules locally and in S3.

Two policies:
- age (default): keep every backup taken in the last BACKUP_RETENTION_DAYS days;
- grandfather-father-son, as soon as any of BACKUP_KEEP_DAILY / _WEEKLY / _MONTHLY is set (unset
  ones count as 0): keep the newest backup of each of the N most recent days (weeks, months) that
  have one, restic-style; the rules are independent and a backup kept by any rule stays.
Always: the newest good backup is kept, whatever the policy says. A backup is "good" when its
checksum was recorded (local sidecar; remote: only verified copies exist). Backups that are not
good never fill a daily/weekly/monthly slot; they go once older than BACKUP_RETENTION_DAYS.
Days, weeks and months are those of BACKUP_TZ, like the schedule.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Generic, TypeVar

from odoo_saas_tools.core.settings import Settings

T = TypeVar("T")


@dataclass(frozen=True)
class Policy:
    retention_days: int = 7
    keep_daily: int | None = None
    keep_weekly: int | None = None
    keep_monthly: int | None = None

    @property
    def gfs(self) -> bool:
        return any(n is not None for n in (self.keep_daily, self.keep_weekly, self.keep_monthly))

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            settings.backup_retention_days,
            settings.backup_keep_daily,
            settings.backup_keep_weekly,
            settings.backup_keep_monthly,
        )

    def describe(self) -> str:
        if self.gfs:
            return (
                f"keep {self.keep_daily or 0} daily, {self.keep_weekly or 0} weekly, "
                f"{self.keep_monthly or 0} monthly"
            )
        return f"keep {self.retention_days} days"


@dataclass(frozen=True)
class Candidate(Generic[T]):
    """One backup: when it was taken, whether it is good, and the caller's handle on it."""

    timestamp: datetime
    good: bool
    item: T


@dataclass
class Decision(Generic[T]):
    keep: list[tuple[T, list[str]]] = field(default_factory=list)  # item, reasons
    delete: list[T] = field(default_factory=list)


BUCKETS: dict[str, Callable[[datetime], Hashable]] = {
    "daily": lambda ts: ts.date(),
    "weekly": lambda ts: ts.isocalendar()[:2],
    "monthly": lambda ts: (ts.year, ts.month),
}


def decide(
    candidates: Sequence[Candidate[T]],
    policy: Policy,
    now: datetime,
    tz: tzinfo = timezone.utc,
) -> Decision[T]:
    """Split one tenant's backups into kept (with why) and deleted, newest first."""
    ordered = sorted(candidates, key=lambda c: c.timestamp, reverse=True)
    cutoff = now - timedelta(days=policy.retention_days)
    reasons: dict[int, list[str]] = {i: [] for i in range(len(ordered))}
    good = [i for i, c in enumerate(ordered) if c.good]
    if good:
        reasons[good[0]].append("newest")
    if policy.gfs:
        rules = {
            "daily": policy.keep_daily or 0,
            "weekly": policy.keep_weekly or 0,
            "monthly": policy.keep_monthly or 0,
        }
        for rule, count in rules.items():
            seen: set[Hashable] = set()
            for i in good:
                bucket = BUCKETS[rule](ordered[i].timestamp.astimezone(tz))
                if bucket in seen:
                    continue
                if len(seen) >= count:
                    break
                seen.add(bucket)
                reasons[i].append(rule)
    for i, cand in enumerate(ordered):
        if (not policy.gfs or not cand.good) and cand.timestamp >= cutoff:
            reasons[i].append(f"within {policy.retention_days} days")
    decision: Decision[T] = Decision()
    for i, cand in enumerate(ordered):
        if reasons[i]:
            decision.keep.append((cand.item, reasons[i]))
        else:
            decision.delete.append(cand.item)
    return decision
