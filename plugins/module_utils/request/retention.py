# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which of a tenant's backups its plan keeps, and which are pruned (plans.BackupPolicy).

Kept: the newest complete backup of each of the last `keep_daily` UTC days, `keep_weekly` ISO
weeks and `keep_monthly` months that have one (the rule restic and borg call keep-daily,
keep-weekly, keep-monthly; Odoo.sh keeps 7, 4 and 3), and always the newest complete backup.
Pruned: every other complete or failed backup. A backup still running is left alone, and a
final backup (taken when a tenant is removed) and a restore's safety backup (pre-restore) follow
their own grace period (the plan's keep_final_days, then backups_purge), not this rule: a
scheduled run the same day would otherwise prune the safety backup within hours.

The choice is stable: applied again to what it kept, it keeps all of it, so a prune that
died half way and runs again removes nothing more than the first run would have.
"""

from __future__ import annotations

from dataclasses import dataclass

COUNTED_STATES = ("complete",)
PRUNABLE_STATES = ("complete", "failed")
EXEMPT_KINDS = ("final", "pre-restore")  # kept for a grace period instead (backups.EXPIRING_KINDS)


@dataclass(frozen=True)
class Choice:
    keep: tuple
    prune: tuple


def _day(taken_at):
    return taken_at.date()


def _week(taken_at):
    year, week, _weekday = taken_at.isocalendar()
    return year, week


def _month(taken_at):
    return taken_at.year, taken_at.month


def _newest_per_period(backups, period, count):
    """The newest backup of each of the `count` most recent periods that have one."""
    newest = {}
    for backup in backups:  # newest first: the first seen in a period is its newest
        newest.setdefault(period(backup.taken_at), backup)
    return [newest[key] for key in sorted(newest, reverse=True)[:count]]


def choose(backups, policy):
    """Split backups (objects with id, taken_at as an aware UTC datetime, state and kind) into
    what the policy keeps and what it prunes, each newest first."""
    ruled = sorted((b for b in backups if b.kind not in EXEMPT_KINDS and b.state in PRUNABLE_STATES),
                   key=lambda b: (b.taken_at, str(b.id)), reverse=True)
    complete = [b for b in ruled if b.state in COUNTED_STATES]
    keep = {b.id for b in complete[:1]}
    for period, count in ((_day, policy.keep_daily), (_week, policy.keep_weekly), (_month, policy.keep_monthly)):
        keep.update(b.id for b in _newest_per_period(complete, period, count))
    return Choice(keep=tuple(b.id for b in ruled if b.id in keep),
                  prune=tuple(b.id for b in ruled if b.id not in keep))
