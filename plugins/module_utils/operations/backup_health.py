# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a tenant's backups are fresh (tenant_info's health.backup): its newest complete
backup, as the ledger or the store knows it (scheduled backups are written by the CronJob's
Jobs into the store only), and its age. A backup older than a day and a grace (the schedule
is daily) is stale, a health problem, with what to look at next."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ..engines import backup_records, backup_set
from ..engines.object_store import open_store
from ..errors import SaasError
from ..manifests.backup_job import BACKUP_SCHEDULE
from .backups import store_target

STALE_AFTER = timedelta(hours=26)  # the daily schedule, plus two hours for a slow or retried run
FRESH_STATES = ("active",)  # a suspended tenant's schedule is suspended: nothing changes meanwhile


def _store(run):
    """The store, opened once per run (tenant_info over every tenant lists one prefix each)."""
    if not hasattr(run, "_backup_store"):
        run._backup_store = open_store(store_target(run.platform.backups))
    return run._backup_store


def _newest_in_store(run, name):
    listing = backup_set.list_backups(_store(run), name)
    return listing.complete[0] if listing.complete else None


def of(run, record, now=None):
    """{last_complete, kind, age_hours, stale, problem}: problem is None when the backups are fine."""
    now = now or datetime.now(timezone.utc)
    found = {}
    last = backup_records.last_complete(run.ledger, record.name)
    if last is not None:
        found[last.id] = last.started_at
    problem = None
    if run.platform.backups.target.kind == "s3":  # a directory target is read by Jobs only: the ledger's word
        try:
            newest = _newest_in_store(run, record.name)
            if newest is not None:
                found[newest.backup_id] = backup_set.taken_at(newest.backup_id)
        except (SaasError, ImportError) as error:  # unreachable, keys refused, a damaged manifest, no minio
            problem = f"the backup store could not be read: {error}"
    newest_id = max(found, key=found.get) if found else None
    age = now - (found[newest_id] if newest_id else record.created_at or now)
    stale = record.state in FRESH_STATES and age > STALE_AFTER
    if stale and problem is None:
        where = f"kubectl -n {record.namespace} get cronjob {BACKUP_SCHEDULE} and its jobs"
        problem = (f"the newest complete backup ({newest_id}) is {age.total_seconds() / 3600:.0f} hours old: look at "
                   f"{where}" if newest_id else
                   f"no complete backup in {age.total_seconds() / 3600:.0f} hours since the tenant was created: "
                   f"look at {where}, or take one with tenant_backup")
    return {"last_complete": newest_id, "age_hours": round(age.total_seconds() / 3600, 1) if newest_id else None,
            "stale": stale, "problem": problem}
