"""Stage 2: lake events → daily aggregates per local day, and monthly presence tables.

The arithmetic is `aggregate_math`'s (`aggregate_day` is a pure function of one local day's events, so that
it can run on any engine); this module finds the days to compute, reads their events and calls it. A day is
aggregated again only when a lake partition it reads from changed (its source fingerprint), a month's
presence only when one of its days did. What the aggregates hold, and where, is `aggregate_store`'s: this
module computes them and hands them to it.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import aggregate_store as store
from . import lake as lake_io
from .aggregate_math import (
    CODE_VERSION,
    aggregate_day,
    events_by_type,
    month_counts,
    month_presence,
    to_local,
)
from .cluster import Cluster
from .codes import (
    unify_dictionaries,
)
from .periods import utc_days_of
from .progress import progress

log = logging.getLogger(__name__)

_EVENT_COLUMNS = ["event_type", "module", "ts_ms", "user_id", "profile", "structures", "classes"]


# ---------------------------------------------------------------------------------------- day sources
# What a day's aggregates were computed from: the layout's version, the code that computes them
# (aggregate_math.CODE_VERSION), the timezone and the fingerprints of the UTC partitions the local day
# overlaps. Any change recomputes the day.


def _day_source(lake: Path, day: date, timezone: str) -> str | None:
    """What the local day's aggregates are computed from; None when no partition it overlaps holds a file:
    such a day has no aggregates, no record, no folder (a year of history on a young lake is mostly these)."""
    fingerprints = [(d, lake_io.day_fingerprint(lake, d)) for d in utc_days_of(day, timezone)]
    if not any(fingerprint for _day, fingerprint in fingerprints):
        return None
    parts = [f"{d}:{fingerprint}" for d, fingerprint in fingerprints]
    versions = [store.LAYOUT_VERSION, CODE_VERSION]
    return hashlib.sha1("|".join([*versions, timezone, *parts]).encode()).hexdigest()


def _stale(lake: Path, timezone: str, day: date, source: str | None) -> bool:
    """Whether the day's aggregates are not those of `source`. A day without files has none: stale while
    its folder is there (its tables, or its record, or what a killed run left of them)."""
    if source is None:
        return store.daily_dir(lake, timezone, day).exists()
    return store.read_day_record(lake, timezone, day).get("source") != source


# ------------------------------------------------------------------------------------------------- run
def run(
    lake: Path, timezone: str, days: list[date], workers: int | None = None, cluster: Cluster | None = None
) -> dict:
    """Bring the daily aggregates of `days` and the presence and counts of their months up to date, over
    `workers` forked processes (default: see `_workers`), or as tasks on `cluster`; report the work."""
    # Load: which days and months changed since their aggregates were written
    sources = {day: _day_source(lake, day, timezone) for day in days}
    stale = sorted(d for d in days if _stale(lake, timezone, d, sources[d]))
    sizes = {day: _day_size(lake, timezone, day) for day in stale}  # the files' footers, read once
    workers = max(cluster.workers, 1) if cluster is not None else workers or _workers(sizes)

    # Process + Save, runs of consecutive days at a time: memory holds the one or two UTC partitions a day
    # overlaps (per worker); a month once its days are done
    months = _by_month(days)
    if cluster is None and workers <= 1:
        _aggregate_days(lake, timezone, stale, sources, progress_label="aggregate days")
        rebuilt = [_refresh_month(lake, timezone, m) for m in progress(months, "aggregate months")]
    else:
        lake = lake.resolve()  # as a cluster's workers see it
        day_tasks = [(lake, timezone, r, sources) for r in _runs(stale, sizes, workers * TASKS_PER_WORKER)]
        month_tasks = [(lake, timezone, m) for m in months]
        with _parallel(cluster, workers) as starmap:
            done = starmap(_aggregate_days, day_tasks, "aggregate-days")
            for _ in progress(done, "aggregate days", len(day_tasks)):
                pass  # every day is written before any month reads it
            rebuilt = starmap(_refresh_month, month_tasks, "aggregate-months")
            rebuilt = list(progress(rebuilt, "aggregate months", len(month_tasks)))
    months_rebuilt = sum(rebuilt)
    first_day = local_day_of(lake_io.first_event_ms(lake), timezone)
    store.write_history(lake, timezone, first_day)
    log.info(
        "aggregate: %d of %d days recomputed, %d months, %d process(es) or workers",
        len(stale),
        len(days),
        months_rebuilt,
        workers,
    )
    return {
        "days_considered": len(days),
        "days_recomputed": len(stale),
        "months_recomputed": months_rebuilt,
        "lake_first_day": first_day.isoformat() if first_day else None,
    }


def local_day_of(ms: int | None, timezone: str) -> date | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(ZoneInfo(timezone)).date()


MAX_WORKERS = 2
TASKS_PER_WORKER = 4  # runs of days per worker: the progress moves, and each run reads one partition twice
MIN_DAYS_PER_WORKER = 8  # below this, forking costs more than it saves (a nightly's 2-3 days: in process)
# Nor below this much work (events, and FILE_WORK a file): about 0.5 s in one process, as fast as two forked
# (404 days, 20 of them with 100 events: 0.46-0.51 s in one process, 0.42-0.48 s in two)
MIN_WORK_TO_FORK = 200_000
# A worker's peak memory is about this many bytes per event of the UTC partitions it reads (regional, a
# school day: 4.2 M events in its two partitions, 2.8 GB peak): two workers only when both fit in the budget.
PEAK_PER_EVENT = 700
MEMORY_BUDGET = 3 << 30


def _workers(sizes: dict[date, tuple[int, int]]) -> int:
    """How many processes aggregate the stale days whose `_day_size` are `sizes`."""
    workers = min(os.cpu_count() or 1, MAX_WORKERS)
    work = sum(map(_work, sizes.values()))
    if workers <= 1 or len(sizes) < MIN_DAYS_PER_WORKER * workers or work < MIN_WORK_TO_FORK:
        return 1
    largest = max((events for events, _files in sizes.values()), default=0)
    return workers if workers * largest * PEAK_PER_EVENT <= MEMORY_BUDGET else 1


def _day_size(lake: Path, timezone: str, day: date) -> tuple[int, int]:
    """(events, files) of the UTC partitions a local day reads, from the files' footers: its memory, and
    with a fixed cost per file its work."""
    files = [f for u in utc_days_of(day, timezone) for f in lake_io.day_files(lake, u)]
    return sum(lake_io.row_count(f) for f in files), len(files)


FILE_WORK = 10_000  # reading a file and writing a day's aggregates cost about as much as this many events


def _work(size: tuple[int, int]) -> int:
    """A day's work from its `_day_size` (events, files), counted in events."""
    events, files = size
    return events + FILE_WORK * files


def _runs(days: list[date], sizes: dict[date, tuple[int, int]], count: int) -> list[list[date]]:
    """`days` cut into at most `count` runs of consecutive items holding about the same work."""
    weights = np.array([_work(sizes[d]) + 1 for d in days], dtype=np.float64)
    if not len(days):
        return []
    share = np.minimum((np.cumsum(weights) - weights / 2) * count // weights.sum(), count - 1)
    return [[d for d, k in zip(days, share) if k == part] for part in range(count) if (share == part).any()]


def _aggregate_days(
    lake: Path,
    timezone: str,
    days: list[date],
    sources: dict[date, str | None],
    progress_label: str | None = None,
) -> None:
    """The `days` (sorted; a day keeps what the next one in the list reads), a progress bar with
    `progress_label`. A day whose source is None (no partition holds a file of it any more) loses its
    aggregates."""
    for day in days:
        if sources[day] is None:
            store.remove_day(lake, timezone, day)
    days = [day for day in days if sources[day] is not None]
    partitions = LocalPartitions(lake, timezone)
    for k, day in enumerate(progress(days, progress_label) if progress_label else days):
        one_day = partitions.events_of(day, days[k + 1] if k + 1 < len(days) else None)
        tables = aggregate_day(one_day) if one_day.num_rows else None  # a day without events: its record
        store.write_day(
            lake, timezone, day, tables, {"source": sources[day], "events": events_by_type(one_day)}
        )


@contextmanager
def _parallel(cluster: Cluster | None, workers: int) -> Iterator[Callable[..., Iterator]]:
    """`starmap(function, tasks, name)`: function(*task) for each task, the results in order, as tasks on
    `cluster`, else over `workers` forked processes."""
    if cluster is not None:
        yield cluster.map
        return
    with multiprocessing.get_context("fork").Pool(workers, _start_worker) as pool:
        yield lambda function, tasks, _name: pool.imap(_call, [(function, *task) for task in tasks])


def _start_worker() -> None:
    pa.set_cpu_count(1)  # the processes share the cores: Arrow's own threads would only contend


def _call(task: tuple) -> object:
    return task[0](*task[1:])


class LocalPartitions:
    """The lake's UTC partitions, each read once and put in local time, while consecutive local days are
    aggregated in order. Once a day's events are out, a partition keeps only the next day's rows (the hour
    or so of a UTC day that belongs to it), so that no whole partition is held through the aggregation:
    the two days of a regional nightly, in the process that ingested them, peaked at 3,537 MiB with the
    previous partition held whole, at 3,125 MiB with its next day's rows alone."""

    def __init__(self, lake: Path, timezone: str) -> None:
        self.lake, self.timezone = lake, timezone
        self.loaded: dict[date, pa.Table] = {}  # whole partitions, or the rows of local day `kept_for`
        self.kept_for: date | None = None

    def events_of(self, day: date, next_day: date | None = None) -> pa.Table:
        """The local day's events; `next_day`: the one asked for next (None: none)."""
        needed = utc_days_of(day, self.timezone)
        if day != self.kept_for:  # not the day announced: what was kept is of no use
            self.loaded = {}
        for utc_day in needed:
            if utc_day not in self.loaded:
                self.loaded[utc_day] = to_local(_read_encoded(self.lake, utc_day), self.timezone)
        parts = [_rows_of(self.loaded[u], day) for u in needed]
        events = unify_dictionaries(pa.concat_tables(parts)).combine_chunks()
        del parts
        later = utc_days_of(next_day, self.timezone) if next_day is not None else []
        self.loaded = {u: _rows_of(t, next_day) for u, t in self.loaded.items() if u in later}
        self.kept_for = next_day
        pa.default_memory_pool().release_unused()  # the partitions' memory, now rather than later
        return events


def _rows_of(events: pa.Table, day: date | None) -> pa.Table:
    return events.filter(pc.equal(events.column("local_day"), pa.scalar(day, pa.date32())))


_ENCODED_COLUMNS = ["event_type", "module", "user_id", "profile"]  # few distinct values, many rows


def _read_encoded(lake: Path, utc_day: date) -> pa.Table:
    """One UTC partition's used columns, the repetitive strings dictionary-encoded (less memory, and
    lookups done once per distinct value)."""
    files = lake_io.day_files(lake, utc_day)
    if not files:
        empty = lake_io.EVENT_SCHEMA.empty_table().select(_EVENT_COLUMNS)
        return pa.table(
            {
                c: pc.dictionary_encode(empty.column(c)) if c in _ENCODED_COLUMNS else empty.column(c)
                for c in _EVENT_COLUMNS
            }
        )
    tables = [
        lake_io.pq.read_table(f, columns=_EVENT_COLUMNS, read_dictionary=_ENCODED_COLUMNS) for f in files
    ]
    return unify_dictionaries(pa.concat_tables(tables, promote_options="default")).combine_chunks()


def _by_month(days: list[date]) -> list[list[date]]:
    groups: dict[date, list[date]] = {}
    for day in sorted(days):
        groups.setdefault(day.replace(day=1), []).append(day)
    return list(groups.values())


def _refresh_month(lake: Path, timezone: str, month_days: list[date]) -> bool:
    """The month's presence, when one of its days changed; a complete month's counts (the window holds all
    its days), when one of its days changed since they were rolled up; an incomplete month has none.
    Whether anything was written."""
    month = month_days[0].replace(day=1)
    all_days = _month_days(month)
    complete = month_days == all_days
    sources = {d.isoformat(): store.read_day_record(lake, timezone, d).get("source") for d in all_days}
    record = store.read_month_record(lake, timezone, month) or {}
    if not any(sources.values()) and not store.monthly_dir(lake, timezone, month).exists():
        return False  # no day of it has aggregates, and nothing was ever written for it: it has none either
    written = record.get("days")
    changed = [d for d in all_days if written is None or written.get(d.isoformat()) != sources[d.isoformat()]]
    presence = _month_presence(lake, timezone, month, all_days, changed, written) if changed else None
    counts, counts_days = None, record.get("counts_days") if complete else None
    if complete and counts_days != sources:
        counts = month_counts((d, store.read_counts(lake, timezone, d)) for d in all_days)
        counts_days = sources
    if presence is None and counts is None and counts_days == record.get("counts_days"):
        return False
    store.write_month(lake, timezone, month, presence, counts, {"days": sources, "counts_days": counts_days})
    return True


def _month_presence(
    lake: Path, timezone: str, month: date, all_days: list[date], changed: list[date], written: dict | None
) -> pa.Table:
    path = store.month_presence_path(lake, timezone, month)
    previous = store.read_presence(path) if written is not None and path.exists() else None
    merged = all_days if previous is None else changed
    daily = (  # read one day at a time, as month_presence merges them
        (d, store.read_presence(day_path))
        for d in merged
        if (day_path := store.day_presence_path(lake, timezone, d)).exists()
    )
    return month_presence(daily, previous, replaced=merged)


def _month_days(month: date) -> list[date]:
    next_month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return [month + timedelta(days=i) for i in range((next_month - month).days)]
