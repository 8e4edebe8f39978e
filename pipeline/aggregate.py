"""Stage 2: lake events → daily aggregates per local day, and monthly presence tables.

`aggregate_day` is a pure function of one local day's events (an Arrow table), so that it can run on any
engine. A day is aggregated again only when a lake partition it reads from changed (its source fingerprint),
a month's presence only when one of its days did. What the aggregates hold, and where, is
`aggregate_store`'s: this module computes them and hands them to it.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import aggregate_store as store
from . import lake as lake_io
from .cluster import Cluster
from .codes import (
    Vocabulary,
    cell_user_keys,
    encode,
    merge_unique,
    positions,
    split_keys,
    unify_dictionaries,
    unique_sorted,
)
from .constants import EVENT_TYPES_USED, PROFILE_CODES
from .exceptions import LakeError
from .model import CLASS, STRUCTURE
from .periods import utc_days_of
from .progress import progress

log = logging.getLogger(__name__)

_EVENT_COLUMNS = ["event_type", "module", "ts_ms", "user_id", "profile", "structures", "classes"]


# ---------------------------------------------------------------------------------------------- pure part
def to_local(events: pa.Table, timezone: str) -> pa.Table:
    """Add `local_day` (date32) and `hour` (0-23) in the platform's timezone, once for all later group-bys."""
    utc = events.column("ts_ms").cast(pa.timestamp("ms", tz="UTC"))
    local = pc.local_timestamp(utc.cast(pa.timestamp("ms", tz=timezone)))
    return events.append_column("local_day", local.cast(pa.date32())).append_column(
        "hour", pc.hour(local).cast(pa.int8())
    )


def entity_rows(events: pa.Table) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """One row per (event, entity it counts for): the platform, each structure, each class, as
    (event index, entity code, entity keys); codes index the keys."""
    n = len(events)
    index, codes, keys = [np.arange(n)], [np.zeros(n, dtype=np.int64)], [store.platform_keys()]
    for column, kind in (("structures", STRUCTURE), ("classes", CLASS)):
        lists = events.column(column).combine_chunks()
        ids, dictionary = encode(pc.list_flatten(lists))
        index.append(pc.list_parent_indices(lists).to_numpy().astype(np.int64))
        codes.append(ids + sum(len(k) for k in keys))
        keys.append(store.keys_of_ids(kind, dictionary.cast(pa.string())))
    return np.concatenate(index), np.concatenate(codes), pa.concat_arrays(keys)


def count_keys(keys: np.ndarray, space: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys, their counts) of integer keys in [0, space), sorted."""
    if space <= DENSE_COUNT_LIMIT:
        counts = np.bincount(keys, minlength=space)
        present = np.flatnonzero(counts)
        return present, counts[present]
    return np.unique(keys, return_counts=True)


DENSE_COUNT_LIMIT = 1 << 25  # below this many possible keys, a bincount beats a sort
N_PROFILES = len(PROFILE_CODES)
PROFILE_VALUES = store.PROFILE_VALUES


# typed: pyarrow infers the type of Python values, and its inference tries to import dateutil each time (a
# failed import where it is not installed, 0.1-0.3 ms each: six a day)
_TYPES_USED = pa.array(EVENT_TYPES_USED, pa.string())


def aggregate_day(events: pa.Table) -> tuple[pa.Table, pa.Table]:
    """(counts, presence) of one local day. `events` has the lake's columns plus `hour`.

    Strings are encoded once as integer codes (entities, users, modules); counting and distinct users
    are integer operations, and the results are decoded to the aggregates' string schemas at the end.
    """
    events = events.filter(pc.is_in(events.column("event_type"), value_set=_TYPES_USED))
    event_of, entity, entity_keys = entity_rows(events)
    event_type = pc.index_in(events.column("event_type"), value_set=_TYPES_USED)
    event_type = event_type.to_numpy(zero_copy_only=False)[event_of]
    profile = pc.index_in(events.column("profile"), value_set=PROFILE_VALUES).fill_null(-1)
    profile = profile.to_numpy(zero_copy_only=False)
    users, user_ids = encode(events.column("user_id"))
    modules, module_names = encode(events.column("module"))
    access = event_type == EVENT_TYPES_USED.index("ACCESS")
    event_is_access = access[: len(events)]  # the first rows are the platform's, one per event in order
    if len(events) and (profile.min() < 0 or users.min() < 0 or modules[event_is_access].min(initial=0) < 0):
        raise LakeError(
            "an event without a known profile, a user id or (for ACCESS) a module is in the lake: it was "
            "not written by `ingest`, which rejects such lines. Remove the partition's foreign files "
            "(LAKE/events/day=…/) and ingest their exports again"
        )
    cell = entity * N_PROFILES + profile[event_of]  # (entity, profile) of each row
    n_cells = len(entity_keys) * N_PROFILES

    def decode(cells: np.ndarray, counts: np.ndarray, measure: str, key: pa.Array) -> pa.Table:
        entities, profiles = np.divmod(cells, N_PROFILES)
        return pa.table(
            {
                "entity": entity_keys.take(pa.array(entities)),
                "profile": PROFILE_VALUES.take(pa.array(profiles)),
                "measure": pa.array([measure] * len(cells), pa.string()),
                "key": key,
                "n": pa.array(counts, pa.int64()),
            }
        )

    login = event_type == EVENT_TYPES_USED.index("LOGIN")
    hour = events.column("hour").to_numpy().astype(np.int64)[event_of[login]]
    found, counts = count_keys(cell[login] * 24 + hour, n_cells * 24)
    cells, hours = np.divmod(found, 24)
    tables = [decode(cells, counts, store.MEASURE_LOGIN, store.HOUR_VALUES.take(pa.array(hours)))]

    module = modules[event_of[access]]
    found, counts = count_keys(cell[access] * len(module_names) + module, n_cells * len(module_names))
    cells, module = np.divmod(found, max(len(module_names), 1))
    tables.append(decode(cells, counts, store.MEASURE_ACCESS, module_names.take(pa.array(module))))

    activation = event_type == EVENT_TYPES_USED.index("ACTIVATION")
    cells, counts = count_keys(cell[activation], n_cells)
    tables.append(decode(cells, counts, store.MEASURE_ACTIVATION, _no_keys(len(cells))))

    by_profile = unique_sorted(cell_user_keys(cell[login], users[event_of[login]]))
    profile_cells, seen_users = split_keys(by_profile)
    tous_cells = profile_cells - profile_cells % N_PROFILES  # profile 0: a user once, whatever their profiles
    seen_cells, seen_users = split_keys(
        merge_unique([unique_sorted(cell_user_keys(tous_cells, seen_users)), by_profile])
    )
    cells, counts = count_keys(seen_cells, n_cells)
    tables.append(decode(cells, counts, store.MEASURE_VISITORS, _no_keys(len(cells))))

    entities, profiles = np.divmod(seen_cells, N_PROFILES)
    presence = pa.table(
        {
            "entity": entity_keys.take(pa.array(entities)),
            "profile": PROFILE_VALUES.take(pa.array(profiles)),
            "user_id": user_ids.take(pa.array(seen_users)).cast(pa.string()),
        }
    )
    counts_table = pa.concat_tables([t.cast(store.COUNTS_SCHEMA) for t in tables])
    return counts_table, presence.cast(store.PRESENCE_SCHEMA)


def _no_keys(n: int) -> pa.Array:
    return pa.array([store.NO_KEY] * n, pa.string())


def events_by_type(events: pa.Table) -> dict[str, int]:
    counts = pc.value_counts(events.column("event_type")).to_pylist()
    return {str(row["values"]): row["counts"] for row in counts}


def month_presence(
    daily: Iterable[tuple[date, pa.Table]], previous: pa.Table | None = None, replaced: Iterable[date] = ()
) -> pa.Table:
    """Union of the daily presences of one month, with bit d-1 of `days` set when seen on day d.

    With `previous` (this month's table as last written), the `replaced` days' bits are cleared from it and
    `daily` brings those days anew: a nightly merges the days that changed, not the whole month again.
    Rows are integer keys (entity, profile, user codes) merged one day at a time into a sorted union, so
    memory holds the month's distinct rows and one day, never the month's days at once."""
    entities, users = Vocabulary(), Vocabulary()
    keys, days = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if previous is not None and len(previous):
        cell = entities.codes(previous.column("entity")) * N_PROFILES
        cell += positions(previous.column("profile"), PROFILE_VALUES)
        keys = cell_user_keys(cell, users.codes(previous.column("user_id")))
        cleared = sum(1 << (d.day - 1) for d in set(replaced))
        days = previous.column("days").to_numpy() & ~cleared
        order = np.argsort(keys, kind="stable")
        keys, days = keys[order], days[order]
        keys, days = keys[days != 0], days[days != 0]
    for day, table in daily:
        cell = entities.codes(table.column("entity")) * N_PROFILES
        cell += positions(table.column("profile"), PROFILE_VALUES)
        day_keys = np.sort(cell_user_keys(cell, users.codes(table.column("user_id"))))
        day_bits = np.full(len(day_keys), 1 << (day.day - 1), dtype=np.int64)
        keys, days = _merge_sorted(keys, days, day_keys, day_bits, np.bitwise_or)
    cells, user = split_keys(keys)
    entity, profile = np.divmod(cells, N_PROFILES)
    return pa.table(
        {
            "entity": entities.decode(entity),
            "profile": PROFILE_VALUES.take(pa.array(profile)),
            "user_id": users.decode(user),
            "days": pa.array(days, pa.int64()),
        }
    ).cast(store.MONTH_PRESENCE_SCHEMA)


def month_counts(daily: Iterable[tuple[date, pa.Table]]) -> pa.Table:
    """A complete month's counts from its days' (see aggregate_store): each day's logins, activations and
    distinct visitors per (entity, profile) under the day's key, and the month's logins by hour and
    accesses by module summed. Days are read one at a time; rows are integer keys (entity, profile,
    measure and key codes), summed into a sorted run as each day comes."""
    entities, keys = Vocabulary(), Vocabulary()
    summed, summed_n = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    by_day: list[tuple[int, int, np.ndarray, np.ndarray]] = []  # (month measure, day index, cells, n)
    for day, counts in daily:
        if not counts.num_rows:
            continue
        cell = entities.codes(counts.column("entity")) * N_PROFILES
        cell += positions(counts.column("profile"), PROFILE_VALUES)
        measure = positions(counts.column("measure"), store.MEASURE_VALUES)
        n = counts.column("n").to_numpy()
        login, access = (
            measure == _MEASURE_CODE[store.MEASURE_LOGIN],
            measure == _MEASURE_CODE[store.MEASURE_ACCESS],
        )
        by_day.append(
            (_MONTH_CODE[store.MEASURE_LOGIN_BY_DAY], day.day - 1, *_sum_sorted(cell[login], n[login]))
        )
        for source, target in (
            (store.MEASURE_ACTIVATION, store.MEASURE_ACTIVATION_BY_DAY),
            (store.MEASURE_VISITORS, store.MEASURE_VISITORS_BY_DAY),
        ):  # one row per (entity, profile) already
            rows = measure == _MEASURE_CODE[source]
            by_day.append((_MONTH_CODE[target], day.day - 1, cell[rows], n[rows]))
        rows = login | access
        day_keys = cell_user_keys(cell[rows] * 2 + access[rows], keys.codes(counts.column("key"))[rows])
        summed, summed_n = _merge_sorted(summed, summed_n, *_sum_sorted(day_keys, n[rows]), np.add)
    cell_is_access, key = split_keys(summed)
    cell, is_access = np.divmod(cell_is_access, 2)
    measure = np.where(is_access == 1, _MONTH_CODE[store.MEASURE_ACCESS], _MONTH_CODE[store.MEASURE_LOGIN])
    parts = [(measure, cell, keys.decode(key), summed_n)]
    for month_measure, day_index, cells, n in by_day:
        day_key = pa.array([store.DAY_KEYS[day_index]] * len(cells), pa.string())
        parts.append((np.full(len(cells), month_measure), cells, day_key, n))
    entity, profile = np.divmod(np.concatenate([p[1] for p in parts]), N_PROFILES)
    return pa.table(
        {
            "entity": entities.decode(entity),
            "profile": PROFILE_VALUES.take(pa.array(profile)),
            "measure": store.MONTH_MEASURE_VALUES.take(pa.array(np.concatenate([p[0] for p in parts]))),
            "key": pa.concat_arrays([p[2].cast(pa.string()) for p in parts]),
            "n": pa.array(np.concatenate([p[3] for p in parts]), pa.int64()),
        }
    ).cast(store.COUNTS_SCHEMA)


_MEASURE_CODE = {m: i for i, m in enumerate(store.MEASURES)}
_MONTH_CODE = {m: i for i, m in enumerate(store.MONTH_MEASURES)}


def _sum_sorted(keys: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys, sorted; `n` summed per key)."""
    return _combine_by_key(keys, n, np.add)


def _merge_sorted(
    keys: np.ndarray, values: np.ndarray, new_keys: np.ndarray, new_values: np.ndarray, combine: np.ufunc
) -> tuple[np.ndarray, np.ndarray]:
    """Two runs of sorted unique keys merged into one, the values of a key present in both combined (a
    stable sort of two sorted runs is a linear merge)."""
    return _combine_by_key(np.concatenate([keys, new_keys]), np.concatenate([values, new_values]), combine)


def _combine_by_key(keys: np.ndarray, values: np.ndarray, combine: np.ufunc) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys, sorted; the values of each key combined by `combine`)."""
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    if not len(keys):
        return keys, values
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return keys[starts], combine.reduceat(values, starts)


# ---------------------------------------------------------------------------------------- day sources
# What a day's aggregates were computed from: the layout's version, the code that computes them, the
# timezone and the fingerprints of the UTC partitions the local day overlaps. Any change recomputes the day.
_PURE_PART = (
    to_local,
    entity_rows,
    count_keys,
    aggregate_day,
    events_by_type,
    month_presence,
    month_counts,
    _sum_sorted,
    _merge_sorted,
    _combine_by_key,
)
CODE_VERSION = hashlib.sha1("".join(inspect.getsource(f) for f in _PURE_PART).encode()).hexdigest()[:16]


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
