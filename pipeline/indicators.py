"""Stage 3: the aggregate layer → the seven indicators of every entity (SPEC 2), in one pass.

`run()` reads, computes, and hands the tables to the writers:
- Load: the entities (the snapshot's, and those the window's aggregates mention), then the window's counts,
  summed as they are read into arrays [entity, day, profile] (profile 0 is Tous): a complete month's rolled
  up counts at once, the days of the current month one by one; then the months' presence as sorted integer
  keys (presence.py);
- Process: distinct visitors of every week, month and period, and apps ranked per entity and profile;
- the result, `IndicatorTables`, goes to the writer, which reads one entity's figures at a time.
The arithmetic is in `indicator_math`; the aggregate layer is read through `aggregate_store` alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import aggregate_store as store
from . import presence
from .codes import positions
from .constants import (
    COMPARED,
    GROUPINGS,
    INDICATORS_BY_ID,
    PERIOD_12MONTHS,
    PERIOD_MONTH,
    PERIODS,
    PROFILE_CODES,
)
from .directory import EntitySet, Snapshot, entity_set
from .exceptions import CapacityError
from .indicator_math import group_counts, sum_into, with_tous
from .indicator_tables import DayColumns, IndicatorTables, RankedApps, YearBefore
from .model import CLASS, STRUCTURE, Entity
from .periods import (
    Span,
    add_months,
    bucket_spans,
    days_between,
    month_masks,
    months_of,
    period_spans,
    window_days,
    year_before,
)

log = logging.getLogger(__name__)
N_PROFILES = len(PROFILE_CODES)
MEASURES = store.MEASURES


def run(lake: Path, timezone: str, as_of: date, snapshot: Snapshot) -> tuple[IndicatorTables, EntitySet]:
    """Every indicator of every entity for the reference day `as_of`, and the entities."""
    # Load
    periods = period_spans(as_of)
    days = window_days(as_of)
    months = months_of(periods[PERIOD_12MONTHS])
    rolled_up = [  # complete months (the aggregate stage rolls up every complete month of the window)
        m for m in months if m < as_of.replace(day=1) and store.month_counts_path(lake, timezone, m).exists()
    ]
    seen = store.entity_ids_seen(lake, timezone, days, months, rolled_up)
    entities = entity_set(snapshot, seen[STRUCTURE], seen[CLASS])
    keys = store.entity_keys(entities.entities)  # a key's position is the entity's index
    sums = DailySums.empty(len(keys), len(days), _class_start(entities.entities))
    for offset, day in enumerate(days):
        if day.replace(day=1) not in rolled_up:
            sums.add_day(offset, day, store.read_counts(lake, timezone, day), keys, periods)
        elif day.day == 1:
            sums.add_month(offset, day, store.read_month_counts(lake, timezone, day), keys, periods)
    month_keys = presence.load_months(lake, timezone, months, keys)
    # the year before: its first weeks lie before the window (their logins and activations, summed here),
    # the rest in it; whether the lake's history reaches back to it
    earlier = history_before_window(as_of)
    before = EarlierTotals(*_totals_over(lake, timezone, earlier, keys), store.read_first_day(lake, timezone))

    # Process (compute empties month_keys once it is done with them)
    return compute(sums, month_keys, entities.entities, as_of, before), entities


def history_before_window(as_of: date) -> Span:
    """The days of the `12months` period 52 weeks back that come before the window: its first 364 days."""
    window = period_spans(as_of)[PERIOD_12MONTHS]
    first = year_before(window).first
    return Span(first, first, window.first - timedelta(days=1))


@dataclass
class EarlierTotals:
    """What the year before needs from outside the window: logins and activations (Tous) per entity over
    `history_before_window`, and the lake's first local day holding an event (None: none)."""

    logins: np.ndarray
    activations: np.ndarray
    first_day: date | None


def _totals_over(lake: Path, timezone: str, span: Span, keys: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Logins and activations per entity (Tous: every profile's events) over `span`: from a complete
    month's rolled-up counts (its days' rows), else day by day."""
    n = len(keys)
    logins, activations = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    for month, mask in month_masks(span).items():
        tables: Iterable[pa.Table]
        if store.month_counts_path(lake, timezone, month).exists():  # its days' rows, by day of the month
            tables, day_mask = [store.read_month_counts(lake, timezone, month)], mask
            names, values = store.MONTH_MEASURES, store.MONTH_MEASURE_VALUES
            measures = (store.MEASURE_LOGIN_BY_DAY, store.MEASURE_ACTIVATION_BY_DAY)
        else:
            days = [d for d in days_between(span.first, span.last) if d.replace(day=1) == month]
            tables, day_mask = (store.read_counts(lake, timezone, d) for d in days), None  # one at a time
            names, values = store.MEASURES, store.MEASURE_VALUES
            measures = (store.MEASURE_LOGIN, store.MEASURE_ACTIVATION)
        for table in tables:
            coded = _coded_rows(table, keys, values)
            if coded is None:
                continue
            table, e, p, m, counts = coded
            rows = p > 0  # the ENT's profiles: Tous is their sum
            if day_mask is not None:
                day = positions(table.column("key"), store.DAY_VALUES)
                rows &= (day >= 0) & ((day_mask >> np.maximum(day, 0)) & 1 == 1)
            for measure, total in zip(measures, (logins, activations)):
                chosen = rows & (m == names.index(measure))
                total += sum_into((n,), [e[chosen]], counts[chosen])
    return logins, activations


def _class_start(entities: list[Entity]) -> int:
    """Index of the first class (classes come last): DayColumns keeps them in a narrower type."""
    return next((i for i, e in enumerate(entities) if e.kind == CLASS), len(entities))


class AppCounts:
    """Access counts of one period per (entity, profile, module).

    Dense while it fits: an array [entity × profile, module] (columns added as modules are met) that each
    day adds into, with Tous summed from the profiles at the end: no sorting per day. Past DENSE_APP_BYTES
    (hundreds of modules at regional size) the counts become sparse codes (cell × MAX_MODULES + module)
    summed as they pile up."""

    def __init__(self, n_entities: int) -> None:
        self.n_cells = n_entities * N_PROFILES
        # int32 while the period's accesses all together fit in it (no cell can hold more), else int64: a
        # regional year (400 M accesses) keeps 150 MB of counts instead of 300
        self.dense: np.ndarray | None = np.zeros((self.n_cells, 0), dtype=np.int32)
        self.total = 0
        self.cells: list[np.ndarray] = []  # the sparse form, once dense is None
        self.counts: list[np.ndarray] = []

    def add(self, cells: np.ndarray, modules: np.ndarray, counts: np.ndarray) -> None:
        """One day's rows: cells (entity × N_PROFILES + profile, a profile of the ENT, never Tous)."""
        if self.dense is not None and len(modules) and modules.max() >= self.dense.shape[1]:
            self._widen(int(modules.max()) + 1)
        self.total += int(counts.sum())
        if self.dense is not None and self.total > np.iinfo(self.dense.dtype).max:
            self.dense = self.dense.astype(np.int64)
        if self.dense is not None:
            flat = self.dense.reshape(-1)
            np.add.at(flat, cells * self.dense.shape[1] + modules, counts.astype(flat.dtype))
            return
        tous = cells - cells % N_PROFILES
        self.cells.append(np.concatenate([cells, tous]) * MAX_MODULES + np.concatenate([modules, modules]))
        self.counts.append(np.concatenate([counts, counts]))
        pending = sum(len(c) for c in self.cells[1:])
        if pending > max(COMPACT_ROWS, 2 * len(self.cells[0])):  # sum before rows pile up
            self.compact()

    def _widen(self, needed: int) -> None:
        assert self.dense is not None
        columns = max(needed, 2 * self.dense.shape[1], 16)
        if self.n_cells * columns * 8 > DENSE_APP_BYTES:  # (sized as int64: the counts may widen to it)
            columns = needed
        if self.n_cells * columns * 8 > DENSE_APP_BYTES:  # too many modules: sparse from now on
            cells, modules, counts = self._dense_rows()
            self.dense = None
            self.cells, self.counts = [cells * MAX_MODULES + modules], [counts]
            return
        wider = np.zeros((self.n_cells, columns), dtype=self.dense.dtype)
        wider[:, : self.dense.shape[1]] = self.dense
        self.dense = wider

    def _dense_rows(self, first: int = 0, end: int | None = None) -> tuple[np.ndarray, ...]:
        """(cells, modules, counts) of the non-zero dense counts of cells [first, end) (whole entities),
        Tous (profile 0) included."""
        assert self.dense is not None and first % N_PROFILES == 0
        block = self.dense[first:end]
        by_profile = block.reshape(len(block) // N_PROFILES, N_PROFILES, block.shape[1])
        by_profile[:, 0, :] = by_profile[:, 1:, :].sum(axis=1)  # each access has one profile
        cells, modules = np.nonzero(block)
        return cells + first, modules, block[cells, modules]

    def compact(self) -> None:
        if len(self.cells) > 1:
            cells, counts = group_counts(np.concatenate(self.cells), np.concatenate(self.counts))
            self.cells, self.counts = [cells], [counts]

    def rows(self, first: int = 0, end: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cells, modules, counts) of every non-zero count of cells [first, end), Tous included."""
        if self.dense is not None:
            return self._dense_rows(first, end)
        self.compact()
        codes = self.cells[0] if self.cells else np.zeros(0, dtype=np.int64)
        counts = self.counts[0] if self.counts else np.zeros(0, dtype=np.int64)
        end = self.n_cells if end is None else end
        start, stop = np.searchsorted(codes, [first * MAX_MODULES, end * MAX_MODULES])  # sorted: summed
        cells, modules = np.divmod(codes[start:stop], MAX_MODULES)
        return cells, modules, counts[start:stop]


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
        by_day = lambda: DayColumns(n, n_days, N_PROFILES, split)
        return cls(
            by_day(),
            by_day(),
            by_day(),
            {p: np.zeros((n, N_PROFILES, 24), dtype=np.int64) for p in PERIODS},
            {p: np.zeros((n, N_PROFILES, 7), dtype=np.int64) for p in PERIODS},
            {p: AppCounts(n) for p in PERIODS},
        )

    def add_day(
        self, offset: int, day: date, table: pa.Table, keys: pa.Array, periods: dict[str, Span]
    ) -> None:
        coded = _coded_rows(table, keys, store.MEASURE_VALUES)
        if coded is None:
            return
        table, e, p, m, n = coded
        inside = [name for name, span in periods.items() if span.first <= day <= span.last]
        n_entities = len(self.logins)

        rows = m == MEASURES.index(store.MEASURE_LOGIN)
        hour = positions(table.column("key").filter(pa.array(rows)), store.HOUR_VALUES)
        day_hours = with_tous(sum_into((n_entities, N_PROFILES, 24), [e[rows], p[rows], hour], n[rows]))
        day_logins = day_hours.sum(axis=2)
        self.logins.put_day(offset, day_logins)
        for period in inside:
            self.hours[period] += day_hours
            self.weekdays[period][:, :, day.weekday()] += day_logins
        del day_hours

        rows = m == MEASURES.index(store.MEASURE_ACTIVATION)
        self.activations.put_day(
            offset, with_tous(sum_into((n_entities, N_PROFILES), [e[rows], p[rows]], n[rows]))
        )
        rows = m == MEASURES.index(store.MEASURE_VISITORS)
        self.visitors.put_day(offset, sum_into((n_entities, N_PROFILES), [e[rows], p[rows]], n[rows]))

        rows = m == MEASURES.index(store.MEASURE_ACCESS)
        if rows.any() and inside:
            module = self.module_codes(table.column("key").filter(pa.array(rows)))
            for period in inside:
                self.apps[period].add(e[rows] * N_PROFILES + p[rows], module, n[rows])

    def add_month(
        self, offset: int, month: date, table: pa.Table, keys: pa.Array, periods: dict[str, Span]
    ) -> None:
        """A complete month's rolled-up counts (aggregate_store); its first day is at `offset`."""
        n_days = (add_months(month, 1) - month).days
        inside = [name for name, span in periods.items() if span.first <= month <= span.last]
        assert all(periods[name].last >= month + timedelta(days=n_days - 1) for name in inside), month
        coded = _coded_rows(table, keys, store.MONTH_MEASURE_VALUES)
        if coded is None:
            return
        table, e, p, m, n = coded
        n_entities = len(self.logins)

        def by_day(measure: str) -> tuple[np.ndarray, ...]:
            rows = m == store.MONTH_MEASURES.index(measure)
            day = positions(table.column("key").filter(pa.array(rows)), store.DAY_VALUES)
            return sum_into((n_entities, n_days, N_PROFILES), [e[rows], day, p[rows]], n[rows])

        logins = with_tous(by_day(store.MEASURE_LOGIN_BY_DAY), axis=2)
        self.logins.put_days(offset, logins)
        self.activations.put_days(offset, with_tous(by_day(store.MEASURE_ACTIVATION_BY_DAY), axis=2))
        self.visitors.put_days(offset, by_day(store.MEASURE_VISITORS_BY_DAY))  # Tous: its own rows
        weekday = np.array([(month + timedelta(days=k)).weekday() for k in range(n_days)])
        by_weekday = np.stack([logins[:, weekday == w, :].sum(axis=1) for w in range(7)], axis=2)
        del logins

        rows = m == store.MONTH_MEASURES.index(store.MEASURE_LOGIN)
        hour = positions(table.column("key").filter(pa.array(rows)), store.HOUR_VALUES)
        hours = with_tous(sum_into((n_entities, N_PROFILES, 24), [e[rows], p[rows], hour], n[rows]))
        rows = m == store.MONTH_MEASURES.index(store.MEASURE_ACCESS)
        module = self.module_codes(table.column("key").filter(pa.array(rows))) if rows.any() else None
        for period in inside:
            self.hours[period] += hours
            self.weekdays[period] += by_weekday
            if module is not None:
                self.apps[period].add(e[rows] * N_PROFILES + p[rows], module, n[rows])

    def module_codes(self, column: pa.ChunkedArray) -> np.ndarray:
        for name in pc.unique(column).to_pylist():
            self.modules.setdefault(name, len(self.modules))
        if len(self.modules) > MAX_MODULES:
            raise CapacityError(
                f"the 12 months hold more than {MAX_MODULES:,} distinct ACCESS modules, past what the app "
                "rankings can code; check the exports' `module` field"
            )
        return positions(column, pa.array(list(self.modules), pa.string()))

    def rank_apps(self) -> dict[str, RankedApps]:
        """The access counts of each period, ranked; each period's counts (a dense array of up to
        DENSE_APP_BYTES) are dropped once their rows are out, before the next period's are ranked."""
        names = list(self.modules)
        ranked = {}
        n_entities = len(self.logins)
        for period in list(self.apps):
            counts = self.apps.pop(period)
            parts = []
            for first in range(0, n_entities, RANK_ENTITIES):  # the rows of a few entities at a time
                cells, module, n = counts.rows(first * N_PROFILES, (first + RANK_ENTITIES) * N_PROFILES)
                entity, profile = np.divmod(cells, N_PROFILES)
                parts.append(RankedApps.sorted_rows(entity, profile, module, n, names))
            del counts
            ranked[period] = RankedApps.joined(parts, names, n_entities)
        return ranked


def _coded_rows(
    table: pa.Table, keys: pa.Array, measures: pa.Array
) -> tuple[pa.Table, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The rows of the entities of `keys` (others have no pages), with their entity, profile and measure
    codes and their counts; None when no row is left."""
    e = positions(table.column("entity"), keys)
    known = e >= 0
    if not known.any():
        return None
    table = table.filter(pa.array(known))
    p = positions(table.column("profile"), store.PROFILE_VALUES)
    return table, e[known], p, positions(table.column("measure"), measures), table.column("n").to_numpy()


COMPACT_ROWS = 2_000_000
RANK_ENTITIES = 8192  # entities whose app rows are ranked at a time: the sort's copies stay small
DENSE_APP_BYTES = 384 << 20  # per period: 63,000 entities × 6 profiles × 127 modules
MAX_MODULES = 1 << 20  # module codes share an int64 with the cell: entity × profiles × 2**20 < 2**63


def compute(
    sums: DailySums,
    months: dict[date, presence.MonthKeys],
    entities: list[Entity],
    as_of: date,
    earlier: EarlierTotals,
) -> IndicatorTables:
    """Distinct visitors of every bucket and period, ranked apps, the year before: the tables of `as_of`."""
    periods = period_spans(as_of)
    n_cells = len(entities) * N_PROFILES
    distinct = lambda span: presence.distinct_in_span(months, span, n_cells).reshape(-1, N_PROFILES)
    compared = compare_year_before(sums, distinct, periods, earlier)
    buckets = {g: bucket_spans(periods[PERIOD_12MONTHS], g) for g in GROUPINGS}
    visitors_by_bucket = {
        g: np.stack([distinct(s) for s in buckets[g]], axis=1).astype(np.int32)
        for g in GROUPINGS
        if g != "day"  # a day's distinct visitors were counted by its aggregate
    }
    visitors = {p: distinct(span) for p, span in periods.items()}
    # the months' presence keys (1.2 GB at regional size) are dropped before the apps are ranked: the 396-day
    # regional nightly peaked at 5.1 GB here with both held
    months.clear()
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
        apps=sums.rank_apps(),
        visitors=visitors,
        year_before=compared,
    )


def compare_year_before(
    sums: DailySums, distinct: Callable[[Span], np.ndarray], periods: dict[str, Span], earlier: EarlierTotals
) -> YearBefore:
    """SPEC 2.5: each compared tile over its period 52 weeks back. The month's span lies inside the window
    (52 weeks are less than the window's twelve months before the current one), the 12 months' begins
    before it: `earlier` holds those first weeks."""
    window_first = periods[PERIOD_12MONTHS].first
    spans = {p: year_before(span) for p, span in periods.items()}
    offsets = {
        p: (max((s.first - window_first).days, 0), (s.last - window_first).days + 1) for p, s in spans.items()
    }
    month_visitors = distinct(spans[PERIOD_MONTH])[:, 0]
    totals = {
        "connections": (earlier.logins + sums.logins.totals(*offsets[PERIOD_12MONTHS]), None),
        "unique_visitors": (month_visitors, None),
        "visits_per_visitor": (sums.logins.totals(*offsets[PERIOD_MONTH]), month_visitors),
        "activations": (earlier.activations + sums.activations.totals(*offsets[PERIOD_12MONTHS]), None),
    }
    tile_spans = {tile: spans[INDICATORS_BY_ID[tile].tile_period] for tile in COMPARED}
    covered = {
        tile: earlier.first_day is not None and span.first >= earlier.first_day
        for tile, span in tile_spans.items()
    }
    return YearBefore(totals, tile_spans, covered)
