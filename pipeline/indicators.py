"""Stage 3: daily aggregates + monthly presence → the seven indicators of every entity (SPEC 2).

`run()` loads the 12-month window's aggregates a day at a time into dense arrays indexed
[entity, day, profile] (profile 0 is "Tous"), counts distinct visitors of every bucket and period from the
monthly presence (presence.py), and returns `IndicatorTables`, from which the writers build one entity's
`EntityFigures` at a time. The arithmetic is in small pure functions (here and in indicator_tables.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import aggregate, presence
from .codes import distinct_values, positions
from .constants import GROUPINGS, PERIOD_12MONTHS, PERIODS, PROFILE_CODES
from .directory import EntitySet, Snapshot, entity_set
from .indicator_tables import (
    DayColumns,
    IndicatorTables,
    RankedApps,
    ratio_hundredths,
    visits_per_visitor,
)
from .model import CLASS, PLATFORM, STRUCTURE, Entity
from .periods import Span, bucket_spans, days_between, months_of, period_spans

__all__ = ["IndicatorTables", "ratio_hundredths", "run", "visits_per_visitor", "window_days"]

log = logging.getLogger(__name__)
N_PROFILES = len(PROFILE_CODES)
PROFILE_VALUES = aggregate.PROFILE_VALUES
MEASURES = (
    aggregate.MEASURE_LOGIN,
    aggregate.MEASURE_ACCESS,
    aggregate.MEASURE_ACTIVATION,
    aggregate.MEASURE_VISITORS,
)
MEASURE_VALUES = pa.array(MEASURES)
HOUR_KEYS = aggregate.HOUR_KEYS


# -------------------------------------------------------------------------------------- pure arithmetic
def sum_into(shape: tuple[int, ...], index: Sequence[np.ndarray], values: np.ndarray) -> np.ndarray:
    """A dense int64 array of `shape` holding the sums of `values` at their `index` (one array per axis)."""
    flat = np.ravel_multi_index(tuple(index), shape) if len(values) else np.zeros(0, dtype=np.int64)
    sums = np.bincount(flat, weights=values, minlength=int(np.prod(shape)))
    return np.rint(sums).astype(np.int64).reshape(shape)  # float64 sums of integers are exact below 2**53


def with_tous(by_profile: np.ndarray, axis: int = 1) -> np.ndarray:
    """Event counts with profile 0 (Tous) set to the sum of the profiles: each event has one profile."""
    tous = [slice(None)] * by_profile.ndim
    tous[axis] = 0
    rest = list(tous)
    rest[axis] = slice(1, None)
    by_profile[tuple(tous)] = by_profile[tuple(rest)].sum(axis=axis)
    return by_profile


def group_counts(cells: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum `counts` per distinct cell code; (cells, sums) sorted by cell."""
    unique, inverse = np.unique(cells, return_inverse=True)
    return unique, np.bincount(inverse, weights=counts, minlength=len(unique)).round().astype(np.int64)


# ------------------------------------------------------------------------------------------------- load
def aggregate_key(entity: Entity) -> str:
    """The key under which the aggregates hold an entity's rows."""
    if entity.kind == PLATFORM:
        return aggregate.PLATFORM_KEY
    prefix = aggregate.STRUCTURE_PREFIX if entity.kind == STRUCTURE else aggregate.CLASS_PREFIX
    return prefix + entity.id


def read_counts(lake: Path, timezone: str, day: date, columns: list[str] | None = None) -> pa.Table:
    """A day's counts with its string columns dictionary-encoded (few distinct values, many rows)."""
    path = aggregate.daily_dir(lake, timezone, day) / "counts.parquet"
    if not path.exists():
        return aggregate.COUNTS_SCHEMA.empty_table().select(columns or aggregate.COUNTS_SCHEMA.names)
    encoded = [c for c in ("entity", "profile", "measure", "key") if columns is None or c in columns]
    return pq.read_table(path, columns=columns, read_dictionary=encoded)


def seen_keys(lake: Path, timezone: str, days: list[date], months: list[date]) -> set[str]:
    """The entity keys that the window's aggregates mention."""
    keys = presence.entity_keys_of(lake, timezone, months)
    for day in days:
        keys.update(distinct_values(read_counts(lake, timezone, day, ["entity"]).column("entity")))
    return keys


def seen_ids(keys: set[str]) -> tuple[set[str], set[str]]:
    """The structure and class ids among entity keys."""
    structures = {
        k[len(aggregate.STRUCTURE_PREFIX) :] for k in keys if k.startswith(aggregate.STRUCTURE_PREFIX)
    }
    classes = {k[len(aggregate.CLASS_PREFIX) :] for k in keys if k.startswith(aggregate.CLASS_PREFIX)}
    return structures, classes


# ---------------------------------------------------------------------------------------------- process
@dataclass
class AppCounts:
    """Access counts of one period as cell codes (entity × profiles + profile) × modules + module."""

    cells: list[np.ndarray] = field(default_factory=list)
    counts: list[np.ndarray] = field(default_factory=list)

    def add(self, cells: np.ndarray, counts: np.ndarray) -> None:
        self.cells.append(cells)
        self.counts.append(counts)
        pending = sum(len(c) for c in self.cells[1:])
        if pending > max(COMPACT_ROWS, 2 * len(self.cells[0])):  # sum before rows pile up
            self.compact()

    def compact(self) -> None:
        if len(self.cells) > 1:
            cells, counts = group_counts(np.concatenate(self.cells), np.concatenate(self.counts))
            self.cells, self.counts = [cells], [counts]


@dataclass
class DailySums:
    """The window's daily counts summed into dense arrays, one day at a time: the window's rows are never
    all in memory. Profile 0 is Tous: the sum of the profiles for event counts, its own rows for visitors."""

    logins: DayColumns  # [entity, day of the window, profile]
    activations: DayColumns
    visitors: DayColumns
    hours: dict[str, np.ndarray]  # period → [entity, profile, 24]
    weekdays: dict[str, np.ndarray]  # period → [entity, profile, 7]
    apps: dict[str, AppCounts]
    modules: dict[str, int] = field(default_factory=dict)  # module name → code

    @classmethod
    def empty(cls, n: int, n_days: int, split: int) -> DailySums:
        """For n entities, the first `split` of them above class level."""
        by_day = lambda: DayColumns(n, n_days, N_PROFILES, split)  # noqa: E731
        return cls(
            by_day(),
            by_day(),
            by_day(),
            {p: np.zeros((n, N_PROFILES, 24), dtype=np.int64) for p in PERIODS},
            {p: np.zeros((n, N_PROFILES, 7), dtype=np.int64) for p in PERIODS},
            {p: AppCounts() for p in PERIODS},
        )

    def add_day(
        self, offset: int, day: date, table: pa.Table, keys: pa.Array, periods: dict[str, Span]
    ) -> None:
        e = positions(table.column("entity"), keys)
        known = e >= 0  # entities without pages are dropped
        if not known.any():
            return
        table = table.filter(pa.array(known))
        e = e[known]
        p = positions(table.column("profile"), PROFILE_VALUES)
        m = positions(table.column("measure"), MEASURE_VALUES)
        n = table.column("n").to_numpy()
        inside = [name for name, span in periods.items() if span.first <= day <= span.last]
        n_entities = len(self.logins)

        rows = m == MEASURES.index(aggregate.MEASURE_LOGIN)
        hour = positions(table.column("key").filter(pa.array(rows)), HOUR_KEYS)
        day_hours = with_tous(sum_into((n_entities, N_PROFILES, 24), [e[rows], p[rows], hour], n[rows]))
        day_logins = day_hours.sum(axis=2)
        self.logins.put_day(offset, day_logins)
        for period in inside:
            self.hours[period] += day_hours
            self.weekdays[period][:, :, day.weekday()] += day_logins
        del day_hours

        rows = m == MEASURES.index(aggregate.MEASURE_ACTIVATION)
        self.activations.put_day(
            offset, with_tous(sum_into((n_entities, N_PROFILES), [e[rows], p[rows]], n[rows]))
        )
        rows = m == MEASURES.index(aggregate.MEASURE_VISITORS)
        self.visitors.put_day(offset, sum_into((n_entities, N_PROFILES), [e[rows], p[rows]], n[rows]))

        rows = m == MEASURES.index(aggregate.MEASURE_ACCESS)
        if rows.any() and inside:
            module = self.module_codes(table.column("key").filter(pa.array(rows)))
            cells = np.concatenate([e[rows] * N_PROFILES + p[rows], e[rows] * N_PROFILES])  # and Tous
            codes = cells * MAX_MODULES + np.concatenate([module, module])
            counts = np.concatenate([n[rows], n[rows]])
            for period in inside:
                self.apps[period].add(codes, counts)

    def module_codes(self, column: pa.ChunkedArray) -> np.ndarray:
        for name in pc.unique(column).to_pylist():
            self.modules.setdefault(name, len(self.modules))
        if len(self.modules) > MAX_MODULES:
            raise ValueError(f"more than {MAX_MODULES} distinct modules")
        return positions(column, pa.array(list(self.modules), pa.string()))

    def compact(self) -> None:
        for counts in self.apps.values():
            counts.compact()

    def ranked_apps(self) -> dict[str, RankedApps]:
        self.compact()
        names = list(self.modules)
        ranked = {}
        for period, counts in self.apps.items():
            codes = counts.cells[0] if counts.cells else np.zeros(0, dtype=np.int64)
            n = counts.counts[0] if counts.counts else np.zeros(0, dtype=np.int64)
            cells, module = np.divmod(codes, MAX_MODULES)
            entity, profile = np.divmod(cells, N_PROFILES)
            ranked[period] = RankedApps.rank(entity, profile, module, n, names, len(self.logins))
        return ranked


COMPACT_ROWS = 2_000_000
MAX_MODULES = 1 << 20  # module codes share an int64 with the cell: entity × profiles × 2**20 < 2**63


def sum_days(lake: Path, timezone: str, as_of: date, entities: list[Entity]) -> DailySums:
    """Read the window's daily counts one day at a time into DailySums."""
    periods = period_spans(as_of)
    days = window_days(as_of)
    keys = [aggregate_key(e) for e in entities]  # position = index in `entities`
    split = next((i for i, e in enumerate(entities) if e.kind == CLASS), len(entities))
    sums = DailySums.empty(len(keys), len(days), split)
    key_values = pa.array(keys, pa.string())
    for offset, day in enumerate(days):
        sums.add_day(offset, day, read_counts(lake, timezone, day), key_values, periods)
    return sums


def compute(
    sums: DailySums, months: dict[date, presence.MonthKeys], entities: list[Entity], as_of: date
) -> IndicatorTables:
    """Every indicator of every entity for the reference day `as_of`."""
    periods = period_spans(as_of)
    n_cells = len(entities) * N_PROFILES
    distinct = lambda span: presence.distinct_in_span(months, span, n_cells).reshape(-1, N_PROFILES)  # noqa: E731
    buckets = {g: bucket_spans(periods[PERIOD_12MONTHS], g) for g in GROUPINGS}
    visitors_by_bucket = {
        g: np.stack([distinct(s) for s in buckets[g]], axis=1).astype(np.int32)
        for g in GROUPINGS
        if g != "day"  # a day's distinct visitors were counted by its aggregate
    }
    return IndicatorTables(
        entities=entities,
        as_of=as_of,
        periods=periods,
        buckets=buckets,
        logins=sums.logins,
        activations=sums.activations,
        visitors_by_day=sums.visitors,
        visitors_by_bucket=visitors_by_bucket,
        hours=sums.hours,
        weekdays=sums.weekdays,
        apps=sums.ranked_apps(),
        visitors={p: distinct(span) for p, span in periods.items()},
    )


# -------------------------------------------------------------------------------------------------- run
def run(lake: Path, timezone: str, as_of: date, snapshot: Snapshot) -> tuple[IndicatorTables, EntitySet]:
    """Load the aggregates of the 12-month window, find the entities, compute every indicator."""
    # Load: the window's entities first, so that each day's counts are summed as it is read
    months = months_of(period_spans(as_of)[PERIOD_12MONTHS])
    structures_seen, classes_seen = seen_ids(seen_keys(lake, timezone, window_days(as_of), months))
    entities = entity_set(snapshot, structures_seen, classes_seen)
    sums = sum_days(lake, timezone, as_of, entities.entities)
    keys = [aggregate_key(e) for e in entities.entities]
    months_presence = presence.load_months(lake, timezone, months, keys)
    # Process
    return compute(sums, months_presence, entities.entities, as_of), entities


def window_days(as_of: date) -> list[date]:
    year = period_spans(as_of)[PERIOD_12MONTHS]
    return days_between(year.first, year.last)
