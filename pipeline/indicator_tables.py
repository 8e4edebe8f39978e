"""The indicator stage's result, handed to the writers: compact arrays over every entity, from which one
entity's EntityFigures are read when its files are written.

Only what must be computed across entities is held whole (the day columns, distinct visitors of each
bucket and period, hours, weekdays, ranked apps); an entity's weeks, months and ratios are derived from its
own rows when its files are written, so that memory does not grow with buckets × entities × indicators.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np

from .constants import (
    GROUPINGS,
    HOUR_SLOTS,
    PERIOD_12MONTHS,
    PERIOD_MONTH,
    PERIODS,
    PROFILE_CODES,
    WEEKDAYS,
)
from .indicator_math import (
    app_order,
    change_percent,
    ratio_value,
    rebucket,
    top_labels,
    visits_per_visitor,
)
from .model import Comparison, Entity, EntityFigures, Series
from .periods import Span


# ----------------------------------------------------------------------------------------- containers
class DayColumns:
    """Counts [entity, day, profile] of the window, in two tiers: the entities before `split` (platform,
    structures) as int32, the classes after it in the narrowest type that has held their counts so far:
    uint8 (a class's visitors and activations of a day), then uint16, then int32. At regional size a tier
    of uint8 is 142 MB, of uint16 285 MB."""

    TAIL_TYPES = (np.uint8, np.uint16, np.int32)

    def __init__(self, n_entities: int, n_days: int, n_profiles: int, split: int) -> None:
        self.split = split
        self.head = np.zeros((split, n_days, n_profiles), dtype=np.int32)
        self.tail = np.zeros((n_entities - split, n_days, n_profiles), dtype=self.TAIL_TYPES[0])

    def __len__(self) -> int:
        return len(self.head) + len(self.tail)

    @property
    def n_days(self) -> int:
        return self.head.shape[1]

    def put_day(self, offset: int, values: np.ndarray) -> None:
        """Set one day's column from `values` [entity, profile]."""
        self.put_days(offset, values[:, np.newaxis, :])

    def put_days(self, offset: int, values: np.ndarray) -> None:
        """Set consecutive days' columns, from the day at `offset`, from `values` [entity, day, profile]."""
        tail = values[self.split :]
        if tail.size and (largest := tail.max()) > np.iinfo(self.tail.dtype).max:
            wide = next(t for t in self.TAIL_TYPES if np.iinfo(t).max >= largest)
            self.tail = self.tail.astype(wide)
        days = slice(offset, offset + values.shape[1])
        self.head[:, days, :] = values[: self.split]
        self.tail[:, days, :] = tail

    def row(self, i: int) -> np.ndarray:
        """Entity i's counts [day, profile] as int64."""
        block = self.head[i] if i < self.split else self.tail[i - self.split]
        return block.astype(np.int64)

    def totals(self, first: int, end: int, profile: int = 0) -> np.ndarray:
        """Every entity's count of one profile over the days [first, end) of the window, as int64."""
        return np.concatenate(
            [tier[:, first:end, profile].sum(axis=1, dtype=np.int64) for tier in (self.head, self.tail)]
        )


@dataclass
class YearBefore:
    """The compared tiles (constants.COMPARED) of every entity over their period 52 weeks earlier, Tous: a
    tile's (numerators, denominators) [entity] (a count's denominators are None; visits per visitor is
    connections ÷ visitors), its span, and whether the lake's history covers that span."""

    totals: dict[str, tuple[np.ndarray, np.ndarray | None]]
    spans: dict[str, Span]
    covered: dict[str, bool]

    def of(self, i: int, now: dict[str, tuple[int, int]]) -> dict[str, Comparison]:
        """Entity i's comparisons, from its tiles' (numerator, denominator) now."""
        out = {}
        for tile, (numerators, denominators) in self.totals.items():
            span = self.spans[tile]
            if not self.covered[tile]:
                out[tile] = Comparison(None, span.first, span.last, None)
                continue
            before = (int(numerators[i]), 1 if denominators is None else int(denominators[i]))
            value = before[0] if denominators is None else ratio_value(*before)
            out[tile] = Comparison(value, span.first, span.last, change_percent(now[tile], before))
        return out


@dataclass
class RankedApps:
    """Access counts of one period, sorted by entity, profile, count (most first), then module name."""

    entity: np.ndarray
    profile: np.ndarray
    module: np.ndarray  # codes into `names`
    count: np.ndarray
    names: list[str]

    @classmethod
    def rank(cls, entity, profile, module, count, names: list[str], n_entities: int) -> RankedApps:
        return cls.joined([cls.sorted_rows(entity, profile, module, count, names)], names, n_entities)

    @staticmethod
    def sorted_rows(entity, profile, module, count, names: list[str]) -> tuple[np.ndarray, ...]:
        """The rows in their order, in the narrowest types that hold them (a regional year: 15 M rows)."""
        order = app_order(entity, profile, module, count, names)
        return (
            entity[order].astype(np.int32),
            profile[order].astype(np.int8),
            module[order].astype(np.int32),
            count[order],
        )

    @classmethod
    def joined(cls, parts: list[tuple[np.ndarray, ...]], names: list[str], n_entities: int) -> RankedApps:
        """Sorted rows of consecutive ranges of entities, in order, as one ranking."""
        empty = (np.int32, np.int8, np.int32, np.int64)
        columns = [np.concatenate(c) for c in zip(*parts)] if parts else [np.zeros(0, t) for t in empty]
        ranked = cls(*columns, names)
        ranked._bounds = np.searchsorted(ranked.entity, np.arange(n_entities + 1))
        return ranked

    def top_modules(self) -> np.ndarray:
        """Each entity's most used module over every profile (its first Tous row), -1 where none."""
        starts, ends = self._bounds[:-1], self._bounds[1:]
        if not len(self.module):
            return np.full(len(starts), -1, dtype=np.int64)
        at = np.minimum(starts, len(self.module) - 1)
        return np.where((ends > starts) & (self.profile[at] == 0), self.module[at], -1)

    def of(self, i: int) -> dict[str, list[tuple[str, int]]]:
        rows = slice(self._bounds[i], self._bounds[i + 1])
        out: dict[str, list[tuple[str, int]]] = {code: [] for code in PROFILE_CODES}
        for p, m, n in zip(
            self.profile[rows].tolist(), self.module[rows].tolist(), self.count[rows].tolist()
        ):
            out[PROFILE_CODES[p]].append((self.names[m], n))
        return out


# ------------------------------------------------------------------------------------------ the tiles
@dataclass
class TileTable:
    """The seven tiles of every entity (SPEC 2.4, Tous) as columns [entity], and their year before (2.5):
    what an entity's summary shows and what the side-by-side pages list, computed once a build."""

    connections: np.ndarray  # 12 months
    month_connections: np.ndarray  # the month's, over its visitors: visits per visitor
    visitors: np.ndarray  # distinct, over the month
    activations: np.ndarray  # 12 months
    top_app: np.ndarray  # code into app_names, -1 for none
    top_hour: np.ndarray  # index into HOUR_SLOTS, -1 for none
    top_weekday: np.ndarray  # index into WEEKDAYS, -1 for none
    app_names: list[str]
    year_before: YearBefore

    def values(self, i: int) -> dict[str, object]:
        """Entity i's tile values, by indicator id (None for no data)."""
        label = lambda code, labels: None if code < 0 else labels[code]
        return {
            "connections": int(self.connections[i]),
            "unique_visitors": int(self.visitors[i]),
            "visits_per_visitor": ratio_value(int(self.month_connections[i]), int(self.visitors[i])),
            "top_apps": label(self.top_app[i], self.app_names),
            "hourly_peak": label(self.top_hour[i], HOUR_SLOTS),
            "weekly_peak": label(self.top_weekday[i], WEEKDAYS),
            "activations": int(self.activations[i]),
        }

    def before(self, i: int) -> dict[str, Comparison]:
        """Entity i's compared tiles over their period a year before, and the changes."""
        visitors = int(self.visitors[i])
        return self.year_before.of(
            i,
            {
                "connections": (int(self.connections[i]), 1),
                "unique_visitors": (visitors, 1),
                "visits_per_visitor": (int(self.month_connections[i]), visitors),
                "activations": (int(self.activations[i]), 1),
            },
        )


# ------------------------------------------------------------------------------------------ the tables
@dataclass
class IndicatorTables:
    """Every indicator of every entity (profile 0 = Tous); `figures(i)` builds one entity's figures."""

    entities: list[Entity]
    as_of: date
    periods: dict[str, Span]
    buckets: dict[str, list[Span]]  # the 12months period's buckets, by grouping
    logins: DayColumns  # [entity, day of the window, profile]
    activations: DayColumns
    visitors_by_day: DayColumns
    visitors_by_bucket: dict[str, np.ndarray]  # week / month → [entity, bucket, profile], distinct counts
    hours: dict[str, np.ndarray]  # period → [entity, profile, 24]
    weekdays: dict[str, np.ndarray]  # period → [entity, profile, 7]
    apps: dict[str, RankedApps]  # period → ranked access counts
    visitors: dict[str, np.ndarray]  # period → [entity, profile], distinct over the whole period
    year_before: YearBefore

    def __len__(self) -> int:
        return len(self.entities)

    @cached_property
    def tiles(self) -> TileTable:
        """Every entity's tiles, computed once (before the writers fork: they inherit it)."""
        return TileTable(
            connections=self.hours[PERIOD_12MONTHS][:, 0, :].sum(axis=1),
            month_connections=self.hours[PERIOD_MONTH][:, 0, :].sum(axis=1),
            visitors=self.visitors[PERIOD_MONTH][:, 0],
            activations=self.activations.totals(0, self.activations.n_days),
            top_app=self.apps[PERIOD_12MONTHS].top_modules(),
            top_hour=top_labels(self.hours[PERIOD_12MONTHS][:, 0, :]),
            top_weekday=top_labels(self.weekdays[PERIOD_12MONTHS][:, 0, :]),
            app_names=self.apps[PERIOD_12MONTHS].names,
            year_before=self.year_before,
        )

    @cached_property
    def labels(self) -> dict[str, list[date]]:
        """Each grouping's bucket labels, one list shared by every entity's series."""
        return {grouping: [span.label for span in spans] for grouping, spans in self.buckets.items()}

    def bucket_starts(self, grouping: str) -> np.ndarray:
        first = self.periods[PERIOD_12MONTHS].first
        return np.array([(s.first - first).days for s in self.buckets[grouping]], dtype=np.int64)

    def series_of(self, i: int) -> dict[str, dict[str, np.ndarray]]:
        """One entity's four time series [bucket, profile] by grouping; ratios as floats (NaN = empty)."""
        out: dict[str, dict[str, np.ndarray]] = {
            "connections": {},
            "unique_visitors": {},
            "visits_per_visitor": {},
            "activations": {},
        }
        logins, day_activations = self.logins.row(i), self.activations.row(i)
        for grouping in GROUPINGS:
            if grouping == "day":
                connections, activations = logins, day_activations
                visitors = self.visitors_by_day.row(i)
            else:
                starts = self.bucket_starts(grouping)
                connections = rebucket(logins, starts)
                activations = rebucket(day_activations, starts)
                visitors = self.visitors_by_bucket[grouping][i]
            out["connections"][grouping] = connections
            out["unique_visitors"][grouping] = visitors
            out["visits_per_visitor"][grouping] = visits_per_visitor(connections, visitors)
            out["activations"][grouping] = activations
        return out

    def figures(self, i: int) -> EntityFigures:
        entity_series = {
            name: {grouping: Series(self.labels[grouping], values) for grouping, values in series.items()}
            for name, series in self.series_of(i).items()
        }
        entity_apps = {period: self.apps[period].of(i) for period in PERIODS}
        entity_hours = {p: dict(zip(PROFILE_CODES, self.hours[p][i].tolist())) for p in PERIODS}
        entity_weekdays = {p: dict(zip(PROFILE_CODES, self.weekdays[p][i].tolist())) for p in PERIODS}
        entity_visitors = {p: dict(zip(PROFILE_CODES, self.visitors[p][i].tolist())) for p in PERIODS}

        tiles = self.tiles.values(i)
        before = self.tiles.before(i)
        return EntityFigures(
            entity=self.entities[i],
            as_of=self.as_of,
            period_starts={p: s.first for p, s in self.periods.items()},
            tiles=tiles,
            series=entity_series,
            apps=entity_apps,
            hours=entity_hours,
            weekdays=entity_weekdays,
            visitors=entity_visitors,
            before=before,
        )
