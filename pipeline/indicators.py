"""Stage 3: daily aggregates + monthly presence → the seven indicators of every entity (SPEC 2).

Arithmetic lives in small pure functions over NumPy arrays indexed [entity, bucket, profile] (profile 0 is
"Tous"); `run()` loads the window's aggregates and returns every indicator as `IndicatorTables`, from which
the writers build one entity's `EntityFigures` at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import aggregate
from .constants import (
    ALL,
    GROUPINGS,
    HOUR_SLOTS,
    PERIOD_12MONTHS,
    PERIOD_MONTH,
    PERIODS,
    PROFILE_CODES,
    SERIES_INDICATORS,
    WEEKDAYS,
)
from .directory import EntitySet, Snapshot, entity_set
from .model import PLATFORM, STRUCTURE, Entity, EntityFigures
from .periods import Span, bucket_spans, days_between, month_masks, months_of, period_spans

log = logging.getLogger(__name__)
N_PROFILES = len(PROFILE_CODES)
PROFILE_VALUES = pa.array(PROFILE_CODES)


# -------------------------------------------------------------------------------------- pure arithmetic
def ratio_hundredths(connections: np.ndarray, visitors: np.ndarray) -> np.ndarray:
    """connections ÷ visitors in hundredths, rounded half up exactly (integers only); -1 where no visitor."""
    c = connections.astype(np.int64)
    v = visitors.astype(np.int64)
    out = np.full(c.shape, -1, dtype=np.int64)
    has = v > 0
    out[has] = (200 * c[has] + v[has]) // (2 * v[has])
    return out


def visits_per_visitor(connections: np.ndarray, visitors: np.ndarray) -> np.ndarray:
    """The ratio as floats of two decimals (exactly k/100), NaN where no visitor."""
    hundredths = ratio_hundredths(connections, visitors)
    return np.where(hundredths < 0, np.nan, hundredths / 100)


def sum_into(shape: tuple[int, ...], index: Sequence[np.ndarray], values: np.ndarray) -> np.ndarray:
    """A dense array of `shape` holding the sums of `values` at their `index` (one array per axis)."""
    flat = np.ravel_multi_index(tuple(index), shape) if len(values) else np.zeros(0, dtype=np.int64)
    sums = np.bincount(flat, weights=values, minlength=int(np.prod(shape)))
    return np.rint(sums).astype(np.int64).reshape(shape)  # float64 sums of integers are exact below 2**53


def distinct_in_span(months: dict[date, pd.DataFrame], span: Span, n_entities: int) -> np.ndarray:
    """Exact distinct users per [entity, profile] over the span's days, from monthly presence tables.

    Each table has integer columns e, p, u (user code, common to all months) and days (bit mask).
    """
    selected = []
    for month, mask in month_masks(span).items():
        table = months.get(month)
        if table is not None and len(table):
            selected.append(table[(table["days"].to_numpy() & mask) != 0])
    if not selected:
        return np.zeros((n_entities, N_PROFILES), dtype=np.int64)
    rows = selected[0] if len(selected) == 1 else pd.concat(selected).drop_duplicates(["e", "p", "u"])
    flat = rows["e"].to_numpy() * N_PROFILES + rows["p"].to_numpy()
    return np.bincount(flat, minlength=n_entities * N_PROFILES).reshape(n_entities, N_PROFILES)


def top_label(counts: np.ndarray, labels: Sequence[str]) -> str | None:
    """The label of the largest count, the earliest on ties; None when all are zero."""
    return labels[int(np.argmax(counts))] if counts.sum() > 0 else None


def ranked_apps(frame: pd.DataFrame) -> dict[tuple[int, int], list[tuple[str, int]]]:
    """(entity, profile) → [(module, count), ...], most first, then by name. `frame` has e, p, module, n."""
    ordered = frame.sort_values(["e", "p", "n", "module"], ascending=[True, True, False, True], kind="stable")
    ranked: dict[tuple[int, int], list[tuple[str, int]]] = {}
    rows = zip(
        ordered["e"].tolist(), ordered["p"].tolist(), ordered["module"].tolist(), ordered["n"].tolist()
    )
    for e, p, module, count in rows:
        ranked.setdefault((e, p), []).append((module, count))
    return ranked


# ------------------------------------------------------------------------------------------------- load
def aggregate_key(entity: Entity) -> str:
    """The key under which the aggregates hold an entity's rows."""
    if entity.kind == PLATFORM:
        return aggregate.PLATFORM_KEY
    prefix = aggregate.STRUCTURE_PREFIX if entity.kind == STRUCTURE else aggregate.CLASS_PREFIX
    return prefix + entity.id


def read_counts(lake: Path, timezone: str, day: date, columns: list[str] | None = None) -> pa.Table:
    table = aggregate.read_daily(lake, timezone, day, "counts", aggregate.COUNTS_SCHEMA)
    return table.select(columns) if columns else table


def seen_keys(lake: Path, timezone: str, days: list[date], months: list[date]) -> set[str]:
    """The entity keys that the window's aggregates mention (their `entity` columns only)."""
    keys = presence_keys(lake, timezone, months)
    for day in days:
        keys.update(pc.unique(read_counts(lake, timezone, day, ["entity"]).column("entity")).to_pylist())
    return keys


def load_presence(lake: Path, timezone: str, months: list[date], keys: list[str]) -> dict[date, pd.DataFrame]:
    """Monthly presence as integer columns e (entity index in `keys`), p, u (a user code common to all
    months) and days; rows of entities without pages dropped. User ids never become Python strings."""
    tables = {
        m: pq.read_table(aggregate.month_presence_path(lake, timezone, m), read_dictionary=["user_id"])
        for m in months
        if aggregate.month_presence_path(lake, timezone, m).exists()
    }
    users = pa.chunked_array(
        [c for t in tables.values() for c in t.column("user_id").chunks],
        pa.dictionary(pa.int32(), pa.string()),
    ).unify_dictionaries()
    key_values = pa.array(keys, pa.string())
    out, position = {}, 0
    for month, table in tables.items():
        chunks = users.chunks[position : position + table.column("user_id").num_chunks]
        position += len(chunks)
        codes = pa.chunked_array([c.indices for c in chunks], pa.int32())
        e = pc.index_in(table.column("entity"), value_set=key_values)
        keep = pc.is_valid(e)
        out[month] = pd.DataFrame(
            {
                "e": e.filter(keep).to_numpy().astype(np.int64),
                "p": pc.index_in(table.column("profile").filter(keep), value_set=PROFILE_VALUES).to_numpy(),
                "u": codes.filter(keep).to_numpy(),
                "days": table.column("days").filter(keep).to_numpy(),
            }
        )
    return out


def presence_keys(lake: Path, timezone: str, months: list[date]) -> set[str]:
    keys: set[str] = set()
    for month in months:
        if aggregate.month_presence_path(lake, timezone, month).exists():
            column = pq.read_table(
                aggregate.month_presence_path(lake, timezone, month), columns=["entity"]
            ).column("entity")
            keys.update(pc.unique(column).to_pylist())
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
class DailySums:
    """The window's daily counts summed into dense arrays, one day at a time: the window's rows are never
    all in memory. Profile 0 is Tous: the sum of the profiles for event counts, its own rows for visitors."""

    logins: np.ndarray  # [entity, day of the window, profile]
    activations: np.ndarray
    visitors: np.ndarray
    hours: dict[str, np.ndarray]  # period → [entity, profile, 24]
    weekdays: dict[str, np.ndarray]  # period → [entity, profile, 7]
    apps: dict[str, pd.DataFrame]  # period → e, p, module, n

    @classmethod
    def empty(cls, n: int, n_days: int) -> DailySums:
        by_day = lambda: np.zeros((n, n_days, N_PROFILES), dtype=np.int64)  # noqa: E731
        return cls(
            by_day(),
            by_day(),
            by_day(),
            {p: np.zeros((n, N_PROFILES, 24), dtype=np.int64) for p in PERIODS},
            {p: np.zeros((n, N_PROFILES, 7), dtype=np.int64) for p in PERIODS},
            {p: _APPS_EMPTY.copy() for p in PERIODS},
        )

    def add_day(
        self, offset: int, day: date, table: pa.Table, keys: pa.Array, periods: dict[str, Span]
    ) -> None:
        e = pc.index_in(table.column("entity"), value_set=keys)
        table = table.append_column("e", e).filter(pc.is_valid(e))  # entities without pages are dropped
        if not table.num_rows:
            return
        p = pc.index_in(table.column("profile"), value_set=PROFILE_VALUES).to_numpy()
        e = table.column("e").to_numpy()
        n = table.column("n").to_numpy()
        measure = table.column("measure").to_numpy(zero_copy_only=False)
        inside = [name for name, span in periods.items() if span.first <= day <= span.last]
        shape = (len(self.logins), N_PROFILES)
        rows = measure == aggregate.MEASURE_LOGIN
        hour = pc.cast(table.column("key").filter(pa.array(rows)), pa.int64()).to_numpy()
        e_login, p_login, n_login = _with_tous(e[rows], p[rows], n[rows])
        day_hours = sum_into((*shape, 24), [e_login, p_login, np.concatenate([hour, hour])], n_login)
        day_logins = day_hours.sum(axis=2)
        self.logins[:, offset, :] = day_logins
        for period in inside:
            self.hours[period] += day_hours
            self.weekdays[period][:, :, day.weekday()] += day_logins
        rows = measure == aggregate.MEASURE_ACTIVATION
        e_act, p_act, n_act = _with_tous(e[rows], p[rows], n[rows])
        self.activations[:, offset, :] = sum_into(shape, [e_act, p_act], n_act)
        rows = measure == aggregate.MEASURE_VISITORS
        self.visitors[:, offset, :] = sum_into(shape, [e[rows], p[rows]], n[rows])
        rows = measure == aggregate.MEASURE_ACCESS
        if rows.any() and inside:
            accesses = pd.DataFrame(
                {
                    "e": e[rows],
                    "p": p[rows],
                    "n": n[rows],
                    "module": table.column("key").filter(pa.array(rows)).to_pylist(),
                }
            )
            accesses = pd.concat([accesses, accesses.assign(p=0)], ignore_index=True)
            for period in inside:
                self.apps[period] = pd.concat([self.apps[period], accesses], ignore_index=True)
        if offset % 31 == 30:
            self.compact()

    def compact(self) -> None:
        """Sum the apps' rows so far, so that they stay as many as (entity, profile, module) triples."""
        for period, frame in self.apps.items():
            self.apps[period] = frame.groupby(["e", "p", "module"], as_index=False)["n"].sum()


_APPS_EMPTY = pd.DataFrame(
    {
        "e": pd.Series(dtype=np.int64),
        "p": pd.Series(dtype=np.int64),
        "n": pd.Series(dtype=np.int64),
        "module": pd.Series(dtype=object),
    }
)


def _with_tous(e: np.ndarray, p: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows once more under Tous (profile 0): every event has one profile, Tous is their sum."""
    return np.concatenate([e, e]), np.concatenate([p, np.zeros_like(p)]), np.concatenate([n, n])


def sum_days(lake: Path, timezone: str, as_of: date, keys: list[str]) -> DailySums:
    """Read the window's daily counts one day at a time into DailySums."""
    periods = period_spans(as_of)
    days = window_days(as_of)
    sums = DailySums.empty(len(keys), len(days))
    key_values = pa.array(keys, pa.string())
    for offset, day in enumerate(days):
        sums.add_day(offset, day, read_counts(lake, timezone, day), key_values, periods)
    sums.compact()
    return sums


def compute(
    sums: DailySums,
    presence: dict[date, pd.DataFrame],  # load_presence's integer frames
    entities: list[Entity],
    as_of: date,
) -> IndicatorTables:
    """Every indicator of every entity for the reference day `as_of`, as arrays over the entities."""
    periods = period_spans(as_of)
    year = periods[PERIOD_12MONTHS]
    n = len(entities)
    months = presence

    buckets = {g: bucket_spans(year, g) for g in GROUPINGS}
    series: dict[str, dict[str, np.ndarray]] = {name: {} for name in SERIES_INDICATORS}
    for grouping, spans in buckets.items():
        offsets = [((s.first - year.first).days, (s.last - year.first).days + 1) for s in spans]
        series["connections"][grouping] = _rebucket(sums.logins, offsets)
        series["activations"][grouping] = _rebucket(sums.activations, offsets)
        series["unique_visitors"][grouping] = (
            sums.visitors  # a day's distinct visitors were counted by its aggregate
            if grouping == "day"
            else np.stack([distinct_in_span(months, s, n) for s in spans], axis=1)
        )
        series["visits_per_visitor"][grouping] = visits_per_visitor(
            series["connections"][grouping], series["unique_visitors"][grouping]
        )

    visitors = {p: distinct_in_span(months, span, n) for p, span in periods.items()}
    apps = {period: ranked_apps(frame) for period, frame in sums.apps.items()}
    return IndicatorTables(
        entities, as_of, periods, buckets, series, sums.hours, sums.weekdays, apps, visitors
    )


def _rebucket(by_day: np.ndarray, offsets: list[tuple[int, int]]) -> np.ndarray:
    """Sum day columns [entity, day, profile] into buckets of day offsets [start, stop)."""
    cumulative = np.concatenate([np.zeros_like(by_day[:, :1]), np.cumsum(by_day, axis=1)], axis=1)
    starts = np.array([a for a, _ in offsets])
    stops = np.array([b for _, b in offsets])
    return cumulative[:, stops] - cumulative[:, starts]


@dataclass
class IndicatorTables:
    """Every indicator of every entity as arrays indexed [entity, bucket, profile] (profile 0 = Tous).

    Kept compact for all entities at once; `figures(i)` builds one entity's EntityFigures when it is
    written, so that a build never holds Python objects for every cell of every entity.
    """

    entities: list[Entity]
    as_of: date
    periods: dict[str, Span]
    buckets: dict[str, list[Span]]
    series: dict[str, dict[str, np.ndarray]]
    hours: dict[str, np.ndarray]  # [entity, profile, 24]
    weekdays: dict[str, np.ndarray]  # [entity, profile, 7]
    apps: dict[str, dict[tuple[int, int], list[tuple[str, int]]]]
    visitors: dict[str, np.ndarray]  # distinct over each whole period, [entity, profile]

    def __len__(self) -> int:
        return len(self.entities)

    def figures(self, i: int) -> EntityFigures:
        entity_series = {
            name: {
                grouping: [
                    (span.label, dict(zip(PROFILE_CODES, row)))
                    for span, row in zip(self.buckets[grouping], _cells(values[i]))
                ]
                for grouping, values in by_grouping.items()
            }
            for name, by_grouping in self.series.items()
        }
        entity_apps = {
            period: {code: self.apps[period].get((i, p), []) for p, code in enumerate(PROFILE_CODES)}
            for period in PERIODS
        }
        entity_hours = {p: dict(zip(PROFILE_CODES, self.hours[p][i].tolist())) for p in PERIODS}
        entity_weekdays = {p: dict(zip(PROFILE_CODES, self.weekdays[p][i].tolist())) for p in PERIODS}
        entity_visitors = {p: dict(zip(PROFILE_CODES, self.visitors[p][i].tolist())) for p in PERIODS}

        month_connections = int(self.hours[PERIOD_MONTH][i, 0].sum())
        month_visitors = entity_visitors[PERIOD_MONTH][ALL]
        ratio = visits_per_visitor(np.array([month_connections]), np.array([month_visitors]))[0]
        top_apps = entity_apps[PERIOD_12MONTHS][ALL]
        tiles = {
            "connections": int(self.hours[PERIOD_12MONTHS][i, 0].sum()),
            "unique_visitors": month_visitors,
            "visits_per_visitor": None if np.isnan(ratio) else float(ratio),
            "top_apps": top_apps[0][0] if top_apps else None,
            "hourly_peak": top_label(self.hours[PERIOD_12MONTHS][i, 0], HOUR_SLOTS),
            "weekly_peak": top_label(self.weekdays[PERIOD_12MONTHS][i, 0], WEEKDAYS),
            "activations": int(self.series["activations"]["month"][i, :, 0].sum()),
        }
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
        )


def _cells(values: np.ndarray) -> list[list]:
    """Array rows as Python numbers; NaN (a ratio without visitor) as None."""
    if values.dtype.kind == "f":
        return [[None if v != v else v for v in row] for row in values.tolist()]
    return values.tolist()


# -------------------------------------------------------------------------------------------------- run
def run(lake: Path, timezone: str, as_of: date, snapshot: Snapshot) -> tuple[IndicatorTables, EntitySet]:
    """Load the aggregates of the 12-month window, find the entities, compute every indicator."""
    # Load: the window's entities first, so that each day's counts are summed as it is read
    months = months_of(period_spans(as_of)[PERIOD_12MONTHS])
    structures_seen, classes_seen = seen_ids(seen_keys(lake, timezone, window_days(as_of), months))
    entities = entity_set(snapshot, structures_seen, classes_seen)
    keys = [aggregate_key(e) for e in entities.entities]  # position = index in `entities`
    sums = sum_days(lake, timezone, as_of, keys)
    presence = load_presence(lake, timezone, months, keys)
    # Process
    return compute(sums, presence, entities.entities, as_of), entities


def window_days(as_of: date) -> list[date]:
    year = period_spans(as_of)[PERIOD_12MONTHS]
    return days_between(year.first, year.last)
