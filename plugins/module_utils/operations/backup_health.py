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


class BackupReads:
    """Where of() finds a tenant's newest complete backup: per tenant (a ledger query and a
    listing of its prefix each) or, for the whole fleet (`fleet=True`), one ledger query and one
    listing of the target, shared by every tenant."""

    def __init__(self, run, fleet=False):
        self.run = run
        self.fleet = fleet
        self._store = None
        self._recorded = backup_records.last_complete_by_tenant(run.ledger) if fleet else None
        self._stored = None  # fleet: {tenant: newest id}, or the error reading it raised

    def store(self):
        if self._store is None:
            self._store = open_store(store_target(self.run.platform.backups))
        return self._store

    def recorded(self, name):
        return self._recorded.get(name) if self.fleet else backup_records.last_complete(self.run.ledger, name)

    def stored(self, name):
        """The newest complete backup id in the store, or None; raises when the store cannot be read."""
        if not self.fleet:
            return backup_set.newest_complete(self.store(), name).get(name)
        if self._stored is None:
            try:
                self._stored = backup_set.newest_complete(self.store())
            except (SaasError, ImportError) as error:
                self._stored = error
        if isinstance(self._stored, Exception):
            raise self._stored
        return self._stored.get(name)


def of(run, record, now=None, reads=None):
    """{last_complete, kind, age_hours, stale, problem}: problem is None when the backups are fine."""
    now = now or datetime.now(timezone.utc)
    reads = reads or BackupReads(run)
    found = {}
    last = reads.recorded(record.name)
    if last is not None:
        found[last.id] = last.started_at
    problem = None
    if run.platform.backups.target.kind == "s3":  # a directory target is read by Jobs only: the ledger's word
        try:
            newest = reads.stored(record.name)
            if newest is not None:
                found[newest] = backup_set.taken_at(newest)
        except (SaasError, ImportError) as error:  # unreachable, keys refused, no minio
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
