"""Backup retention (request/retention.py) over simulated calendars of backups: it keeps
exactly what the plan's policy says, and a second pass over what it kept prunes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.odoo_saas.kit.plugins.module_utils.errors import SpecError
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.retention import choose
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.plans import BackupPolicy, load_plan

from .plans_fixture import raw_plans

UTC = timezone.utc


@dataclass(frozen=True)
class Backup:
    id: str
    taken_at: datetime
    state: str = "complete"
    kind: str = "scheduled"


def daily(first, last, hour=2):
    day, backups = first, []
    while day <= last:
        backups.append(Backup(day.isoformat(), datetime(day.year, day.month, day.day, hour, 17, tzinfo=UTC)))
        day += timedelta(days=1)
    return backups


def kept_days(backups, policy):
    return sorted(backup_id for backup_id in choose(backups, policy).keep)


def test_a_season_of_daily_backups_keeps_7_days_4_weeks_3_months():
    backups = daily(datetime(2026, 1, 1).date(), datetime(2026, 4, 30).date())
    assert kept_days(backups, BackupPolicy()) == [
        "2026-02-28", "2026-03-31",  # months: February, March (April's newest is a daily one)
        "2026-04-12", "2026-04-19",  # ISO weeks 15 and 16 (weeks 17 and 18 end on daily ones)
        "2026-04-24", "2026-04-25", "2026-04-26", "2026-04-27", "2026-04-28", "2026-04-29", "2026-04-30",
    ]
    choice = choose(backups, BackupPolicy())
    assert len(choice.keep) + len(choice.prune) == len(backups) == 120


def test_several_backups_a_day_keep_the_days_newest():
    day = datetime(2026, 5, 4, tzinfo=UTC)
    backups = [Backup(f"b{hour}", day + timedelta(hours=hour), kind="manual" if hour % 2 else "scheduled")
               for hour in range(0, 24, 3)]
    assert choose(backups, BackupPolicy(keep_daily=1, keep_weekly=0, keep_monthly=0)).keep == ("b21",)


def test_running_final_and_safety_backups_are_left_alone_and_failed_ones_pruned():
    now = datetime(2026, 6, 1, 2, tzinfo=UTC)
    backups = [Backup("running", now, state="running"), Backup("final", now - timedelta(days=400), kind="final"),
               Backup("safety", now - timedelta(hours=2), kind="pre-restore"),
               Backup("failed", now - timedelta(hours=1), state="failed"), Backup("good", now - timedelta(days=1)),
               Backup("gone", now - timedelta(days=2), state="pruned")]
    choice = choose(backups, BackupPolicy())
    assert choice.keep == ("good",) and choice.prune == ("failed",)


def test_the_newest_complete_backup_is_kept_however_old():
    old = [Backup("old", datetime(2020, 1, 1, tzinfo=UTC))]
    assert choose(old, BackupPolicy(keep_daily=1, keep_weekly=0, keep_monthly=0)).keep == ("old",)


calendars = st.lists(
    st.builds(lambda minutes, state, kind: (minutes, state, kind),
              st.integers(0, 400 * 24 * 60), st.sampled_from(["complete"] * 4 + ["failed", "running"]),
              st.sampled_from(["scheduled", "scheduled", "manual", "pre-update"])),
    max_size=80, unique_by=lambda item: item[0])
policies = st.builds(BackupPolicy, keep_daily=st.integers(1, 10), keep_weekly=st.integers(0, 6),
                     keep_monthly=st.integers(0, 4))


def to_backups(calendar):
    start = datetime(2025, 1, 1, tzinfo=UTC)
    return [Backup(f"b{minutes}", start + timedelta(minutes=minutes), state, kind) for minutes, state, kind in calendar]


@settings(max_examples=300, deadline=None)
@given(calendars, policies)
def test_what_retention_keeps_it_keeps_again(calendar, policy):
    backups = to_backups(calendar)
    first = choose(backups, policy)
    kept = [b for b in backups if b.id in first.keep]
    assert set(choose(kept, policy).keep) == set(first.keep)
    assert choose(kept, policy).prune == ()


@settings(max_examples=300, deadline=None)
@given(calendars, policies)
def test_the_policy_bounds_and_covers_what_is_kept(calendar, policy):
    backups = to_backups(calendar)
    choice = choose(backups, policy)
    complete = sorted((b for b in backups if b.state == "complete"), key=lambda b: b.taken_at, reverse=True)
    assert set(choice.keep) <= {b.id for b in complete}
    assert len(choice.keep) <= max(1, policy.keep_daily + policy.keep_weekly + policy.keep_monthly)
    assert not set(choice.keep) & set(choice.prune)
    assert {b.id for b in backups if b.state == "running"}.isdisjoint(set(choice.keep) | set(choice.prune))
    if complete:
        assert complete[0].id in choice.keep
    days = []
    for b in complete:
        if b.taken_at.date() not in [day for day, _newest in days]:
            days.append((b.taken_at.date(), b.id))
    for _day, newest in days[:policy.keep_daily]:
        assert newest in choice.keep


def test_a_plans_backup_settings_default_to_odoo_shs_and_are_checked():
    plan = raw_plans()["small"]
    assert load_plan("small", plan, "plans.small").backups == BackupPolicy(hour=2, keep_daily=7, keep_weekly=4, keep_monthly=3)
    custom = load_plan("small", {**plan, "backups": {"hour": "5", "keep_monthly": 12}}, "plans.small").backups
    assert (custom.hour, custom.keep_daily, custom.keep_monthly) == (5, 7, 12)
    for bad, named in (({"hour": 24}, "plans.small.backups.hour"), ({"keep_daily": 0}, "plans.small.backups.keep_daily"),
                       ({"every": "day"}, "plans.small.backups"), ("daily", "plans.small.backups")):
        with pytest.raises(SpecError) as raised:
            load_plan("small", {**plan, "backups": bad}, "plans.small")
        assert raised.value.field == named, raised.value
