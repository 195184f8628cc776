"""The lifecycle loop's turn with an injected clock: trials that end are suspended (with
trial.ended), storage over a plan's limit is told (quota.exceeded) and suspended only when the
plan says so; each once, whoever runs the turn and however often."""

from __future__ import annotations

import datetime as dt
import json
import time

from odoo_saas_tools.catalog import sizes as catalog_sizes
from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog import tenants as catalog_tenants
from odoo_saas_tools.control import lifecycle, plans, suspension
from odoo_saas_tools.control.lifecycle import Action, Facts
from odoo_saas_tools.tenants import catalog_rows
from tests.control.conftest import events_of, row
from tests.support.cli import run_cli

NOW = dt.datetime(2031, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
MB = 1024 * 1024


def facts(plan: plans.Plan | None, storage: int | None = 0, **fields: object) -> Facts:
    return Facts(catalog_tenants.Row("acme", **fields), plan, storage)  # type: ignore[arg-type]


# --- decisions alone ---------------------------------------------------------------------------
def test_a_trial_ends_once_at_its_end() -> None:
    plan = plans.Plan("trial", trial_days=14)
    ends = NOW + dt.timedelta(seconds=1)
    assert lifecycle.decide([facts(plan, trial_ends_at=ends)], NOW) == []
    (action,) = lifecycle.decide([facts(plan, trial_ends_at=ends)], ends)
    assert action == Action(
        "trial_ended", "acme", True, {"plan": "default", "trial_ends_at": ends.isoformat()}
    )
    done = facts(plan, trial_ends_at=ends, trial_ended_at=ends)
    assert lifecycle.decide([done], ends + dt.timedelta(days=3)) == []


def test_storage_is_judged_against_the_plan_and_suspends_only_if_it_says_so() -> None:
    lenient = plans.Plan("small", max_storage_mb=1)
    strict = plans.Plan("strict", max_storage_mb=1, suspend_over_storage=True)
    assert lifecycle.decide([facts(lenient, MB)], NOW) == []  # at the limit is not over
    (over,) = lifecycle.decide([facts(lenient, MB + 1)], NOW)
    assert (over.kind, over.suspend, over.payload["ratio"]) == ("storage_over", False, 1.0)
    assert over.payload["used_bytes"] == MB + 1 and over.payload["limit_bytes"] == MB
    assert lifecycle.decide([facts(strict, 3 * MB)], NOW)[0].suspend is True
    told = facts(strict, 3 * MB, storage_exceeded_at=NOW)
    assert lifecycle.decide([told], NOW) == []  # told once
    (under,) = lifecycle.decide([facts(strict, MB, storage_exceeded_at=NOW)], NOW)
    assert under == Action("storage_under", "acme")
    assert lifecycle.decide([facts(plans.Plan("default"), 10**12)], NOW) == []
    assert lifecycle.decide([facts(None, 10**12)], NOW) == []  # an undeclared plan
    assert lifecycle.decide([facts(strict, None)], NOW) == []  # not measured


def test_sizes_are_due_once_a_day_for_each_measured_tenant() -> None:
    day = NOW.date()
    measured = {"b": (30, 4), "a": (10, 2), "c": (50, 0)}
    assert lifecycle.sizes_due(measured, {"b"}, day) == [
        catalog_sizes.Size("a", day, 10, 2),
        catalog_sizes.Size("c", day, 50, 0),
    ]
    assert lifecycle.sizes_due(measured, {"a", "b", "c"}, day) == []
    assert lifecycle.sizes_due({}, set(), day) == []


# --- whole turns ---------------------------------------------------------------------------------
def test_a_turn_ends_trials_and_judges_storage_once(cenv, csettings, tenant) -> None:
    trial, strict, small, new = tenant("trial"), tenant("strict"), tenant("small"), tenant("new")
    with store.session(csettings) as cr:
        catalog_tenants.put_new(cr, trial, "trial", NOW + dt.timedelta(days=14))
        catalog_tenants.put_new(cr, strict, "strict", None)
        catalog_tenants.put_new(cr, small, "small", None)
    big = b"x" * (20 * MB)  # an empty database is ~8 MB: the limit is 16
    for name in (strict, small):
        (csettings.filestore(name) / "big").write_bytes(big)

    first = lifecycle.tick(csettings, NOW)
    assert new in first["registered"]  # made by other means: now on plan default
    assert row(csettings, new).plan == "default"
    assert strict in first["storage_exceeded"] and small in first["storage_exceeded"]
    assert strict in first["suspended"] and small not in first["suspended"]
    assert trial not in first["trials_ended"]
    assert row(csettings, strict).state_reason == "storage over the plan's limit"
    assert row(csettings, small).state == "active"
    (exceeded,) = events_of(csettings, small)
    assert exceeded[0] == "quota.exceeded"
    assert exceeded[1]["resource"] == "storage" and exceeded[1]["name"] == small
    assert exceeded[1]["used_bytes"] > 20 * MB and exceeded[1]["limit_bytes"] == 16 * MB
    assert [t for t, _ in events_of(csettings, strict)] == ["quota.exceeded", "tenant.suspended"]
    assert events_of(csettings, strict)[1][1]["cause"] == "storage"

    later = NOW + dt.timedelta(days=14, seconds=1)
    second = lifecycle.tick(csettings, later)
    assert trial in second["trials_ended"]
    assert trial in second["suspended"]
    assert small not in second["storage_exceeded"] and strict not in second["suspended"]
    assert [t for t, _ in events_of(csettings, trial)] == ["trial.ended", "tenant.suspended"]
    assert events_of(csettings, trial)[0][1]["plan"] == "trial"
    found = row(csettings, trial)
    assert (found.state, found.state_reason, found.trial_ended_at) == (
        "suspended",
        "trial ended",
        later,
    )

    # a billing system resumes it: the next turns leave it alone; storage back under is reset
    suspension.resume(csettings, trial, "paid")
    suspension.resume(csettings, strict, "paid")
    (csettings.filestore(small) / "big").unlink()
    third = lifecycle.tick(csettings, later + dt.timedelta(days=1))
    assert trial not in third["suspended"] and strict not in third["suspended"]
    assert small in third["storage_back_under"]
    assert row(csettings, small).storage_exceeded_at is None
    assert row(csettings, trial).state == "active" and row(csettings, strict).state == "active"
    assert len(events_of(csettings, strict)) == 3  # exceeded, suspended, resumed: no more


def test_the_cli_runs_one_turn(cenv, csettings, tenant) -> None:
    name = tenant("cli")
    with store.session(csettings) as cr:
        catalog_tenants.put_new(cr, name, "trial", dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    done = run_cli(cenv, "tenant", "lifecycle", "--once", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert name in result["trials_ended"] and name in result["suspended"]
    assert row(csettings, name).state == "suspended"
    again = run_cli(cenv, "tenant", "lifecycle", "--once")
    assert again.returncode == 0, again.stderr
    assert ": 0 trials ended" in again.stdout


def test_the_loop_turns_every_period_until_stopped(csettings, tenant) -> None:
    """What `api serve` runs in a thread and `tenant lifecycle` without --once in front."""
    name = tenant("loop")
    with store.session(csettings) as cr:
        catalog_tenants.put_new(cr, name, "trial", dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    results: list[dict] = []
    loop = lifecycle.Loop(csettings, 0.5, report=results.append)
    loop.start()
    deadline = time.monotonic() + 30
    while len(results) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    loop.stop()
    assert len(results) >= 2, results
    assert name in results[0]["trials_ended"] and name not in results[1]["trials_ended"]
    assert row(csettings, name).state == "suspended"
    count = len(results)
    time.sleep(1)
    assert len(results) == count  # stopped


def history(settings, name: str) -> list[tuple[dt.date, int, int]]:
    with store.session(settings) as cr:
        found = catalog_sizes.history(cr, name, dt.date(2000, 1, 1))
    return [(s.day, s.db_bytes, s.filestore_bytes) for s in found]


def test_a_turn_keeps_each_tenants_size_once_a_day_for_400_days(csettings, tenant) -> None:
    name, day = tenant("sizes"), NOW.date()
    old = day - dt.timedelta(days=lifecycle.KEEP_DAYS + 1)
    with store.session(csettings) as cr:
        catalog_sizes.put(cr, [catalog_sizes.Size(name, old, 1, 1)])
    first = lifecycle.tick(csettings, NOW)
    assert first["sizes_sampled"] >= 1
    ((sampled, db_bytes, files),) = history(csettings, name)  # the 401 days old one is gone
    on_disk = sum(f.stat().st_size for f in csettings.filestore(name).rglob("*") if f.is_file())
    assert sampled == day and db_bytes > MB and files == on_disk > 0

    (csettings.filestore(name) / "big").write_bytes(b"x" * MB)
    lifecycle.tick(csettings, NOW + dt.timedelta(hours=11))  # the same day: kept as it was
    assert history(csettings, name) == [(day, db_bytes, files)]
    next_day = lifecycle.tick(csettings, NOW + dt.timedelta(days=1))
    assert next_day["sizes_sampled"] >= 1
    (first_day, (second_day, _, more_files)) = history(csettings, name)
    assert first_day == (day, db_bytes, files)
    assert (second_day, more_files) == (day + dt.timedelta(days=1), files + MB)

    catalog_rows.dropped(csettings, name)  # its history goes with it
    assert history(csettings, name) == []
