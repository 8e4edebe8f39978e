"""Stage 2's arithmetic: a local day's events (an Arrow table) → its counts and presence, a month's days →
the month's counts and presence. Pure functions of their inputs, with no file or process in them, so that each
can be tested alone and run on any engine; `pipeline.aggregate` reads the lake, calls them and hands what they
return to `pipeline.aggregate_store`.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Iterable
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import aggregate_store as store
from .codes import (
    Vocabulary,
    cell_user_keys,
    encode,
    merge_unique,
    positions,
    split_keys,
    unique_sorted,
)
from .constants import EVENT_TYPES_USED, PROFILE_CODES
from .exceptions import LakeError
from .model import CLASS, STRUCTURE


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


# What a day's aggregates were computed from includes the code that computes them (`CODE_VERSION`, in each
# day's source): a change to one of these functions recomputes every day.
PURE_PART = (
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
CODE_VERSION = hashlib.sha1("".join(inspect.getsource(f) for f in PURE_PART).encode()).hexdigest()[:16]
