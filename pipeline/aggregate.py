"""Stage 2: lake events → daily aggregates per local day, and monthly presence tables.

`aggregate_day` is a pure function of one local day's events (an Arrow table), so that it can run on any
engine. A day is aggregated again only when a lake partition it reads from changed (its source fingerprint),
a month's presence only when one of its days did.

Daily counts:   entity, profile, measure, key, n       (measure: login by hour "00".."23", access by module,
                                                         activation key "", visitors key "")
Daily presence: entity, profile, user_id               (distinct LOGIN users; profile "all" = Tous)
Monthly presence: entity, profile, user_id, days       (bit d-1 of `days` set when seen on day d)

Entities are keyed "platform", "structure:<id>", "class:<id>" (ids cannot hold ":").
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from . import lake as lake_io
from .constants import ALL, EVENT_TYPES_USED
from .progress import progress

log = logging.getLogger(__name__)

PLATFORM_KEY = "platform"
STRUCTURE_PREFIX = "structure:"
CLASS_PREFIX = "class:"
MEASURE_LOGIN = "login"
MEASURE_ACCESS = "access"
MEASURE_ACTIVATION = "activation"
MEASURE_VISITORS = "visitors"  # distinct LOGIN users of the day; profile "all" is Tous, not a sum
AGGREGATES_VERSION = "2"  # part of every day's source: a change of format recomputes every day

COUNTS_SCHEMA = pa.schema(
    [
        ("entity", pa.string()),
        ("profile", pa.string()),
        ("measure", pa.string()),
        ("key", pa.string()),
        ("n", pa.int64()),
    ]
)
PRESENCE_SCHEMA = pa.schema([("entity", pa.string()), ("profile", pa.string()), ("user_id", pa.string())])
MONTH_PRESENCE_SCHEMA = PRESENCE_SCHEMA.append(pa.field("days", pa.int64()))
_EVENT_COLUMNS = ["event_type", "module", "ts_ms", "user_id", "profile", "structures", "classes"]


# ---------------------------------------------------------------------------------------------- pure part
def to_local(events: pa.Table, timezone: str) -> pa.Table:
    """Add `local_day` (date32) and `hour` (0-23) in the platform's timezone, once for all later group-bys."""
    utc = events.column("ts_ms").cast(pa.timestamp("ms", tz="UTC"))
    local = pc.local_timestamp(utc.cast(pa.timestamp("ms", tz=timezone)))
    return events.append_column("local_day", local.cast(pa.date32())).append_column(
        "hour", pc.hour(local).cast(pa.int8())
    )


def explode_entities(events: pa.Table) -> pa.Table:
    """One row per (event, entity it counts for): the platform, each structure, each class."""
    scalar_columns = [c for c in events.column_names if c not in ("structures", "classes")]
    base = events.select(scalar_columns)
    parts = [base.append_column("entity", pa.array([PLATFORM_KEY] * len(base), pa.string()))]
    for column, prefix in (("structures", STRUCTURE_PREFIX), ("classes", CLASS_PREFIX)):
        lists = events.column(column).combine_chunks()
        parents = pc.list_parent_indices(lists)
        ids = pc.list_flatten(lists)
        parts.append(base.take(parents).append_column("entity", pc.binary_join_element_wise(prefix, ids, "")))
    return pa.concat_tables(parts)


def aggregate_day(events: pa.Table) -> tuple[pa.Table, pa.Table]:
    """(counts, presence) of one local day. `events` has the lake's columns plus `hour`."""
    used = pc.is_in(events.column("event_type"), value_set=pa.array(EVENT_TYPES_USED))
    rows = explode_entities(events.filter(used))
    counts = [
        _count(rows, "LOGIN", MEASURE_LOGIN, pc.utf8_lpad(rows.column("hour").cast(pa.string()), 2, "0")),
        _count(rows, "ACCESS", MEASURE_ACCESS, rows.column("module")),
        _count(rows, "ACTIVATION", MEASURE_ACTIVATION, pa.array([""] * len(rows), pa.string())),
    ]
    logins = rows.filter(pc.equal(rows.column("event_type"), "LOGIN")).select(
        ["entity", "profile", "user_id"]
    )
    by_profile = logins.group_by(["entity", "profile", "user_id"]).aggregate([])
    tous = logins.group_by(["entity", "user_id"]).aggregate([])
    tous = tous.append_column("profile", pa.array([ALL] * len(tous), pa.string()))
    presence = pa.concat_tables(
        [by_profile.select(PRESENCE_SCHEMA.names), tous.select(PRESENCE_SCHEMA.names)]
    )
    visitors = presence.group_by(["entity", "profile"]).aggregate([("user_id", "count")])
    visitors = visitors.rename_columns(["entity", "profile", "n"])
    visitors = visitors.append_column("key", pa.array([""] * len(visitors), pa.string()))
    counts.append(
        visitors.append_column("measure", pa.array([MEASURE_VISITORS] * len(visitors), pa.string()))
    )
    counts = [c.select(COUNTS_SCHEMA.names).cast(COUNTS_SCHEMA) for c in counts]
    return pa.concat_tables(counts), presence.cast(PRESENCE_SCHEMA)


def _count(rows: pa.Table, event_type: str, measure: str, key: pa.Array) -> pa.Table:
    mask = pc.equal(rows.column("event_type"), event_type)
    picked = pa.table(
        {"entity": rows.column("entity"), "profile": rows.column("profile"), "key": key}
    ).filter(mask)
    grouped = picked.group_by(["entity", "profile", "key"]).aggregate([("key", "count")])
    grouped = grouped.rename_columns(["entity", "profile", "key", "n"])
    measures = pa.array([measure] * len(grouped), pa.string())
    return grouped.append_column("measure", measures).select(COUNTS_SCHEMA.names)


def events_by_type(events: pa.Table) -> dict[str, int]:
    grouped = events.group_by("event_type").aggregate([("event_type", "count")])
    return dict(zip(grouped.column(0).to_pylist(), grouped.column(1).to_pylist()))


def month_presence(daily: Iterable[tuple[date, pa.Table]]) -> pa.Table:
    """Union of daily presences of one month, with a bit per day seen (sum of distinct bits = their OR)."""
    parts = [
        table.append_column("days", pa.array([1 << (day.day - 1)] * len(table), pa.int64()))
        for day, table in daily
    ]
    if not parts:
        return MONTH_PRESENCE_SCHEMA.empty_table()
    union = pa.concat_tables(parts).group_by(["entity", "profile", "user_id"]).aggregate([("days", "sum")])
    return union.rename_columns(["entity", "profile", "user_id", "days"]).cast(MONTH_PRESENCE_SCHEMA)


# ------------------------------------------------------------------------------------------ lake layout
def tz_folder(timezone: str) -> str:
    return timezone.replace("/", "__")


def read_daily(lake: Path, timezone: str, day: date, name: str, schema: pa.Schema) -> pa.Table:
    """One daily aggregate table (`counts` or `presence`); empty for a day without events."""
    path = daily_dir(lake, timezone, day) / f"{name}.parquet"
    return lake_io.pq.read_table(path, schema=schema) if path.exists() else schema.empty_table()


def month_presence_path(lake: Path, timezone: str, month: date) -> Path:
    return monthly_dir(lake, timezone, month) / "presence.parquet"


def daily_dir(lake: Path, timezone: str, day: date) -> Path:
    return lake / "daily" / tz_folder(timezone) / f"day={day.isoformat()}"


def monthly_dir(lake: Path, timezone: str, month: date) -> Path:
    return lake / "monthly" / tz_folder(timezone) / f"month={month:%Y-%m}"


def utc_days_of(day: date, timezone: str) -> list[date]:
    """The UTC days that a local day overlaps (one or two)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(), zone).astimezone(ZoneInfo("UTC"))
    end = (datetime.combine(day + timedelta(days=1), time(), zone) - timedelta(milliseconds=1)).astimezone(
        ZoneInfo("UTC")
    )
    return [start.date() + timedelta(days=i) for i in range((end.date() - start.date()).days + 1)]


def _day_source(lake: Path, day: date, timezone: str) -> str:
    parts = [f"{d}:{lake_io.day_fingerprint(lake, d)}" for d in utc_days_of(day, timezone)]
    return hashlib.sha1("|".join([AGGREGATES_VERSION, timezone, *parts]).encode()).hexdigest()


# ------------------------------------------------------------------------------------------------- run
def run(lake: Path, timezone: str, days: list[date]) -> dict:
    """Bring the daily aggregates of `days` and the presence of their months up to date; report the work."""
    # Load: which days and months changed since their aggregates were written
    sources = {day: _day_source(lake, day, timezone) for day in days}
    stale = [
        d
        for d in days
        if (lake_io.read_json(daily_dir(lake, timezone, d) / "source.json") or {}).get("source") != sources[d]
    ]

    # Process + Save, a day at a time: memory holds the one or two UTC partitions that day overlaps
    partitions = LocalPartitions(lake, timezone)
    for day in progress(sorted(stale), "aggregate days"):
        one_day = partitions.events_of(day)
        folder = daily_dir(lake, timezone, day)
        for name in ("counts.parquet", "presence.parquet"):
            (folder / name).unlink(missing_ok=True)
        if one_day.num_rows:  # a day without events is its source.json alone
            counts, presence = aggregate_day(one_day)
            lake_io.write_parquet(counts, folder / "counts.parquet")
            lake_io.write_parquet(presence, folder / "presence.parquet")
        lake_io.write_json(
            {"source": sources[day], "events": events_by_type(one_day)}, folder / "source.json"
        )

    months_rebuilt = _refresh_months(lake, timezone, days)
    log.info("aggregate: %d of %d days recomputed, %d months", len(stale), len(days), len(months_rebuilt))
    return {
        "days_considered": len(days),
        "days_recomputed": len(stale),
        "months_recomputed": len(months_rebuilt),
    }


def window_events(lake: Path, timezone: str, days: list[date]) -> dict[str, int]:
    """Events per type over `days`, from the daily aggregates' records (no rescan of the lake)."""
    totals: dict[str, int] = {}
    for day in days:
        record = lake_io.read_json(daily_dir(lake, timezone, day) / "source.json") or {}
        for event_type, count in record.get("events", {}).items():
            totals[event_type] = totals.get(event_type, 0) + count
    return dict(sorted(totals.items()))


class LocalPartitions:
    """The lake's UTC partitions, each read once and put in local time, while consecutive local days are
    aggregated in order; a partition is dropped once no later day needs it."""

    def __init__(self, lake: Path, timezone: str) -> None:
        self.lake, self.timezone = lake, timezone
        self.loaded: dict[date, pa.Table] = {}

    def events_of(self, day: date) -> pa.Table:
        needed = utc_days_of(day, self.timezone)
        self.loaded = {u: t for u, t in self.loaded.items() if u >= needed[0]}
        for utc_day in needed:
            if utc_day not in self.loaded:
                table = lake_io.read_days(self.lake, [utc_day], columns=_EVENT_COLUMNS)
                self.loaded[utc_day] = to_local(table, self.timezone)
        wanted = pa.scalar(day, pa.date32())
        return pa.concat_tables(
            [t.filter(pc.equal(t.column("local_day"), wanted)) for u, t in self.loaded.items() if u in needed]
        )


def _by_month(days: list[date]) -> list[list[date]]:
    groups: dict[date, list[date]] = {}
    for day in sorted(days):
        groups.setdefault(day.replace(day=1), []).append(day)
    return list(groups.values())


def _refresh_months(lake: Path, timezone: str, days: list[date]) -> list[date]:
    rebuilt = []
    for month_days in _by_month(days):
        month = month_days[0].replace(day=1)
        all_days = _month_days(month)
        sources = {
            d.isoformat(): (lake_io.read_json(daily_dir(lake, timezone, d) / "source.json") or {}).get(
                "source"
            )
            for d in all_days
        }
        folder = monthly_dir(lake, timezone, month)
        if (lake_io.read_json(folder / "source.json") or {}).get("days") == sources:
            continue
        daily = [
            (d, lake_io.pq.read_table(daily_dir(lake, timezone, d) / "presence.parquet"))
            for d in all_days
            if (daily_dir(lake, timezone, d) / "presence.parquet").exists()
        ]
        lake_io.write_parquet(month_presence(daily), month_presence_path(lake, timezone, month))
        lake_io.write_json({"days": sources}, folder / "source.json")
        rebuilt.append(month)
    return rebuilt


def _month_days(month: date) -> list[date]:
    next_month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return [month + timedelta(days=i) for i in range((next_month - month).days)]
