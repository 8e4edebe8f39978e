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
    ALL,
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
    ratio_hundredths,
    rebucket,
    top_label,
    visits_per_visitor,
)
from .model import Comparison, Entity, EntityFigures, Series
from .periods import Span


# ----------------------------------------------------------------------------------------- containers
class DayColumns:
    """Counts [entity, day, profile] of the window, in two tiers: the entities before `split` (platform,
    structures) as int32, the classes after it as uint16 (half the memory) until a count needs more."""

    def __init__(self, n_entities: int, n_days: int, n_profiles: int, split: int) -> None:
        self.split = split
        self.head = np.zeros((split, n_days, n_profiles), dtype=np.int32)
        self.tail = np.zeros((n_entities - split, n_days, n_profiles), dtype=np.uint16)

    def __len__(self) -> int:
        return len(self.head) + len(self.tail)

    def put_day(self, offset: int, values: np.ndarray) -> None:
        """Set one day's column from `values` [entity, profile]."""
        self.put_days(offset, values[:, np.newaxis, :])

    def put_days(self, offset: int, values: np.ndarray) -> None:
        """Set consecutive days' columns, from the day at `offset`, from `values` [entity, day, profile]."""
        tail = values[self.split :]
        if tail.size and tail.max() > np.iinfo(self.tail.dtype).max:
            self.tail = self.tail.astype(np.int32)
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
            if denominators is None:
                value: int | float | None = before[0]
            else:
                hundredths = int(ratio_hundredths(np.array([before[0]]), np.array([before[1]]))[0])
                value = None if hundredths < 0 else hundredths / 100
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

    def of(self, i: int) -> dict[str, list[tuple[str, int]]]:
        rows = slice(self._bounds[i], self._bounds[i + 1])
        out: dict[str, list[tuple[str, int]]] = {code: [] for code in PROFILE_CODES}
        for p, m, n in zip(
            self.profile[rows].tolist(), self.module[rows].tolist(), self.count[rows].tolist()
        ):
            out[PROFILE_CODES[p]].append((self.names[m], n))
        return out


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

        month_connections = int(self.hours[PERIOD_MONTH][i, 0].sum())
        month_visitors = entity_visitors[PERIOD_MONTH][ALL]
        ratio = visits_per_visitor(np.array([month_connections]), np.array([month_visitors]))[0]
        top_apps = entity_apps[PERIOD_12MONTHS][ALL]
        year_connections = int(self.hours[PERIOD_12MONTHS][i, 0].sum())
        year_activations = int(self.activations.row(i)[:, 0].sum())
        tiles = {
            "connections": year_connections,
            "unique_visitors": month_visitors,
            "visits_per_visitor": None if np.isnan(ratio) else float(ratio),
            "top_apps": top_apps[0][0] if top_apps else None,
            "hourly_peak": top_label(self.hours[PERIOD_12MONTHS][i, 0], HOUR_SLOTS),
            "weekly_peak": top_label(self.weekdays[PERIOD_12MONTHS][i, 0], WEEKDAYS),
            "activations": year_activations,
        }
        before = self.year_before.of(
            i,
            {
                "connections": (year_connections, 1),
                "unique_visitors": (month_visitors, 1),
                "visits_per_visitor": (month_connections, month_visitors),
                "activations": (year_activations, 1),
            },
        )
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
