"""Retention: the lake keeps `--retain-months N` calendar months of events and deletes what is older.

The rule, counted from the build's reference day D (`--as-of`, default yesterday, local time), so that a run
deletes the same days whatever the clock says:

- the first day kept (`cutoff`) is the 1st of the month N-1 months before D's month: the lake keeps D's month
  and the N-1 months before it. N = 13 keeps exactly the `12months` period (the indicators' longest), so a
  smaller N is refused. The default, 25, keeps D's month and the two years before it.
- event partitions (UTC days) are deleted when they end before the cutoff's local midnight: the UTC day that
  holds that midnight is kept whole (it also holds the first local hours of the cutoff day).
- daily aggregates of local days before the cutoff, and monthly presence of months before its month, are
  deleted in every timezone folder.
- rejected lines hold raw lines, user ids included: a rejects file is deleted when the run that wrote it
  started (its run id, UTC) before the first UTC day kept.

Call it holding the lake's lock. A partition is renamed to a temporary name before it is deleted, so a run
killed in the middle leaves no half partition that a reader would take as whole; the next run's lock removes
the rest (lake.remove_temporaries).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from datetime import date
from pathlib import Path

from . import aggregate_store as store
from . import lake as lake_io
from .exceptions import RetentionError
from .periods import utc_days_of

log = logging.getLogger(__name__)

DEFAULT_RETAIN_MONTHS = 25
MIN_RETAIN_MONTHS = 13  # D's month and the 12 before: the `12months` period
_RUN_DAY = re.compile(r"part-(\d{8})T")


def check_months(months: int) -> None:
    if months < MIN_RETAIN_MONTHS:
        raise RetentionError(
            f"--retain-months {months} would delete events the indicators need: the 12months period spans "
            f"{MIN_RETAIN_MONTHS} calendar months; give {MIN_RETAIN_MONTHS} or more"
        )


def cutoff(as_of: date, months: int) -> date:
    """The first local day kept: the 1st of the month `months - 1` months before `as_of`'s month."""
    index = as_of.year * 12 + as_of.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


def apply(lake: Path, months: int, as_of: date, timezone: str) -> dict:
    """Delete what is older than the retention allows; return what was deleted (for build.json)."""
    check_months(months)
    first_day = cutoff(as_of, months)
    first_utc_day = utc_days_of(first_day, timezone)[0]
    deleted = Deleted()

    events = lake_io.events_dir(lake)
    for partition in sorted(events.glob("day=*")) if events.is_dir() else []:
        if _older(partition.name, "day=", first_utc_day):
            deleted.folder(partition)
            deleted.event_days.append(partition.name[4:])

    for kind, folder in list(store.folders_before(lake, first_day)):
        deleted.folder(folder)
        deleted.aggregates[kind] += 1

    rejects = lake_io.rejects_dir(lake)
    for part in sorted(rejects.glob(lake_io.PART_GLOB)) if rejects.is_dir() else []:
        run_day = _RUN_DAY.match(part.name)  # part-<run id>.parquet, the run id starting YYYYMMDDTHHMMSS
        if run_day and _older(run_day.group(1), "", first_utc_day):
            deleted.file(part)
            deleted.reject_files += 1

    report = {
        "retain_months": months,
        "first_day_kept": first_day.isoformat(),
        "first_utc_partition_kept": first_utc_day.isoformat(),
        "event_days_deleted": deleted.event_days,
        "daily_aggregates_deleted": deleted.aggregates[store.DAILY],
        "monthly_aggregates_deleted": deleted.aggregates[store.MONTHLY],
        "reject_files_deleted": deleted.reject_files,
        "files_deleted": deleted.files,
        "bytes_deleted": deleted.bytes,
    }
    if deleted.files:
        log.info(
            "retention: %d event days before %s deleted (%d files, %d bytes)",
            len(deleted.event_days),
            first_day,
            deleted.files,
            deleted.bytes,
        )
    return report


class Deleted:
    def __init__(self) -> None:
        self.event_days: list[str] = []
        self.aggregates = {store.DAILY: 0, store.MONTHLY: 0}
        self.reject_files = 0
        self.files = 0
        self.bytes = 0

    def file(self, path: Path) -> None:
        self.bytes += path.stat().st_size
        self.files += 1
        path.unlink()

    def folder(self, path: Path) -> None:
        """Renamed out of readers' sight in one step, then deleted."""
        for child in path.rglob("*"):
            if child.is_file():
                self.bytes += child.stat().st_size
                self.files += 1
        doomed = lake_io.temporary_beside(path)
        os.replace(path, doomed)
        shutil.rmtree(doomed)


def _older(name: str, prefix: str, limit: date) -> bool:
    """Whether the day (YYYY-MM-DD or YYYYMMDD) or month (YYYY-MM: its 1st) after `prefix` is before
    `limit`; a name that is neither is left alone."""
    text = name[len(prefix) :]
    try:
        return date.fromisoformat(text + "-01" if len(text) == 7 else text) < limit
    except ValueError:
        return False
