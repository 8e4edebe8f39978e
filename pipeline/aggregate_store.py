"""The aggregate layer of the lake, owned here: where its tables live, their schemas, how an entity is keyed
in them, and the layout's version. The aggregation stage writes through this module, the indicator stage and
retention read and delete through it; no other module builds one of its paths, keys or schemas.

    LAKE/daily/<tz>/day=<YYYY-MM-DD>/counts.parquet     entity, profile, measure, key, n
                                     presence.parquet   entity, profile, user_id
                                     source.json        {"source": fingerprint, "events": {type: count}}
    LAKE/monthly/<tz>/month=<YYYY-MM>/presence.parquet  entity, profile, user_id, days
                                      counts.parquet    entity, profile, measure, key, n (complete months)
                                      source.json       {"days": {"YYYY-MM-DD": that day's fingerprint},
                                                         "counts_days": the same, of counts.parquet}
    LAKE/daily/<tz>/history.json                        {"first_day": the lake's first local day holding an
                                                         event, or null}: whether the year before is covered

A local day that no UTC partition it overlaps holds a file of has no folder, and a month none of whose days
has one has none either: readers take a missing table for an empty one.

Counts: a login's key is its local hour "00".."23", an access's its module, an activation's and the day's
distinct visitors' "". Presence: the distinct (entity, profile, user) of the day's logins, profile "all"
(Tous) counting a user once; the monthly table sets bit d-1 of `days` when the user was seen on day d.
A complete month's counts hold its days' counts rolled up, so that a build reads 12 months, not 366 days:
each day's logins, activations and distinct visitors per (entity, profile) under the day's key "01".."31"
(measures `login_by_day`, `activation_by_day`, `visitors_by_day`), and the month's logins by hour and
accesses by module summed (`login`, `access`, keyed as in a day's counts).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import lake as lake_io
from .codes import distinct_values, unify_dictionaries
from .constants import PROFILE_CODES
from .model import CLASS, PLATFORM, STRUCTURE, Entity

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

MEASURE_LOGIN = "login"
MEASURE_ACCESS = "access"
MEASURE_ACTIVATION = "activation"
MEASURE_VISITORS = "visitors"  # distinct LOGIN users of the day; profile "all" is Tous, not a sum
MEASURES = (MEASURE_LOGIN, MEASURE_ACCESS, MEASURE_ACTIVATION, MEASURE_VISITORS)
HOUR_KEYS = tuple(f"{h:02d}" for h in range(24))
# a complete month's counts (the month's logins by hour and accesses by module summed, under the day's
# measures' names) and its days' totals (keyed by the day of the month)
MEASURE_LOGIN_BY_DAY = "login_by_day"
MEASURE_ACTIVATION_BY_DAY = "activation_by_day"
MEASURE_VISITORS_BY_DAY = "visitors_by_day"
MONTH_MEASURES = (
    MEASURE_LOGIN,
    MEASURE_ACCESS,
    MEASURE_LOGIN_BY_DAY,
    MEASURE_ACTIVATION_BY_DAY,
    MEASURE_VISITORS_BY_DAY,
)
DAY_KEYS = tuple(f"{d:02d}" for d in range(1, 32))
NO_KEY = ""
# The columns' values as Arrow arrays, for lookups (a value's position is its code)
PROFILE_VALUES = pa.array(PROFILE_CODES)
MEASURE_VALUES = pa.array(MEASURES)
MONTH_MEASURE_VALUES = pa.array(MONTH_MEASURES)
HOUR_VALUES = pa.array(HOUR_KEYS)
DAY_VALUES = pa.array(DAY_KEYS)

DAILY, MONTHLY = "daily", "monthly"
_FOLDER_PREFIX = {DAILY: "day=", MONTHLY: "month="}
COUNTS_FILE, PRESENCE_FILE, RECORD_FILE = "counts.parquet", "presence.parquet", "source.json"
HISTORY_FILE = "history.json"
_ENCODED = ("entity", "profile", "measure", "key", "user_id")  # few distinct values, many rows


# ------------------------------------------------------------------------------------------ entity keys
# An entity is one string in the `entity` column: "platform", "structure:<id>" or "class:<id>" (an id
# cannot hold ":"). Only the functions below write or read that form.
_PLATFORM_KEY = "platform"
_PREFIX = {STRUCTURE: "structure:", CLASS: "class:"}
# as typed scalars: pyarrow would infer the type of a Python str, trying to import dateutil each time
_PREFIX_SCALAR = {kind: pa.scalar(prefix, pa.string()) for kind, prefix in _PREFIX.items()}
_NO_SEPARATOR = pa.scalar("", pa.string())


def entity_key(kind: str, entity_id: str = "") -> str:
    return _PLATFORM_KEY if kind == PLATFORM else _PREFIX[kind] + entity_id


def entity_keys(entities: Sequence[Entity]) -> pa.Array:
    """The keys of `entities`, in their order (a key's position is the entity's index)."""
    return pa.array([entity_key(e.kind, e.id) for e in entities], pa.string())


def platform_keys(n: int = 1) -> pa.Array:
    return pa.array([_PLATFORM_KEY] * n, pa.string())


def keys_of_ids(kind: str, ids: pa.Array) -> pa.Array:
    """The keys of the structures or classes `ids` (an Arrow string array), element by element."""
    return pc.binary_join_element_wise(_PREFIX_SCALAR[kind], ids, _NO_SEPARATOR).cast(pa.string())


def ids_by_kind(keys: Iterable[str]) -> dict[str, set[str]]:
    """The structure and class ids among entity keys: {STRUCTURE: {...}, CLASS: {...}}."""
    found: dict[str, set[str]] = {STRUCTURE: set(), CLASS: set()}
    for key in keys:
        for kind, prefix in _PREFIX.items():
            if key.startswith(prefix):
                found[kind].add(key[len(prefix) :])
    return found


# ----------------------------------------------------------------------------------------------- version
_SCHEMAS = {"counts": COUNTS_SCHEMA, "presence": PRESENCE_SCHEMA, "month_presence": MONTH_PRESENCE_SCHEMA}
_LAYOUT = json.dumps(  # everything a reader relies on: the version changes whenever any of it does
    {
        "schemas": {name: str(schema) for name, schema in _SCHEMAS.items()},
        "measures": MEASURES,
        "month_measures": MONTH_MEASURES,
        "hour_keys": HOUR_KEYS,
        "day_keys": DAY_KEYS,
        "no_key": NO_KEY,
        "profiles": PROFILE_CODES,
        "entity_keys": [_PLATFORM_KEY, _PREFIX],
        "folders": _FOLDER_PREFIX,
        "files": [COUNTS_FILE, PRESENCE_FILE, RECORD_FILE, HISTORY_FILE],
    },
    sort_keys=True,
)


def _layout() -> dict:
    """The layout, as a fresh copy (a caller may change it without changing the layer)."""
    return json.loads(_LAYOUT)


def layout_version(layout: dict) -> str:
    return hashlib.sha1(json.dumps(layout, sort_keys=True).encode()).hexdigest()[:16]


LAYOUT_VERSION = layout_version(_layout())  # part of every day's source: a new layout recomputes every day


# ------------------------------------------------------------------------------------------------- paths
def tz_folder(timezone: str) -> str:
    return timezone.replace("/", "__")


def daily_dir(lake: Path, timezone: str, day: date) -> Path:
    return lake / DAILY / tz_folder(timezone) / f"{_FOLDER_PREFIX[DAILY]}{day.isoformat()}"


def monthly_dir(lake: Path, timezone: str, month: date) -> Path:
    return lake / MONTHLY / tz_folder(timezone) / f"{_FOLDER_PREFIX[MONTHLY]}{month:%Y-%m}"


def day_presence_path(lake: Path, timezone: str, day: date) -> Path:
    return daily_dir(lake, timezone, day) / PRESENCE_FILE


def month_presence_path(lake: Path, timezone: str, month: date) -> Path:
    return monthly_dir(lake, timezone, month) / PRESENCE_FILE


def month_counts_path(lake: Path, timezone: str, month: date) -> Path:
    return monthly_dir(lake, timezone, month) / COUNTS_FILE


def history_path(lake: Path, timezone: str) -> Path:
    return lake / DAILY / tz_folder(timezone) / HISTORY_FILE


def folders_before(lake: Path, first_day: date) -> Iterator[tuple[str, Path]]:
    """(DAILY or MONTHLY, folder) of every timezone's days before `first_day` and months before its month."""
    first_month = first_day.replace(day=1)
    for kind, prefix in _FOLDER_PREFIX.items():
        root = lake / kind
        for folder in sorted(root.glob(f"*/{prefix}*")) if root.is_dir() else []:
            text = folder.name[len(prefix) :]
            try:
                start = date.fromisoformat(text + "-01" if kind == MONTHLY else text)
            except ValueError:
                continue  # not a folder of this layout: left alone
            if start < (first_month if kind == MONTHLY else first_day):
                yield kind, folder


# ------------------------------------------------------------------------------------------------- reads
def read_counts(lake: Path, timezone: str, day: date, columns: list[str] | None = None) -> pa.Table:
    """A day's counts, string columns dictionary-encoded (one dictionary per column); empty for a day
    without events."""
    return _read_counts(daily_dir(lake, timezone, day) / COUNTS_FILE, columns)


def read_month_counts(lake: Path, timezone: str, month: date, columns: list[str] | None = None) -> pa.Table:
    """A complete month's counts (see the module's docstring), string columns dictionary-encoded."""
    return _read_counts(month_counts_path(lake, timezone, month), columns)


def _read_counts(path: Path, columns: list[str] | None) -> pa.Table:
    if not path.exists():
        return COUNTS_SCHEMA.empty_table().select(columns or COUNTS_SCHEMA.names)
    encoded = [c for c in _ENCODED if c in (columns or COUNTS_SCHEMA.names)]
    # one dictionary per column across the file's row groups (a regional day has several): Arrow's
    # group-by and joins refuse chunks whose dictionaries differ
    return unify_dictionaries(pq.read_table(path, columns=columns, read_dictionary=encoded))


def read_presence(path: Path, columns: list[str] | None = None) -> pa.Table:
    """A daily or monthly presence table (a path of `day_presence_path` or `month_presence_path`)."""
    encoded = [c for c in _ENCODED if c in (columns or PRESENCE_SCHEMA.names)]  # `days` is not encoded
    return pq.read_table(path, columns=columns, read_dictionary=encoded)


def read_day_record(lake: Path, timezone: str, day: date) -> dict:
    return lake_io.read_json(daily_dir(lake, timezone, day) / RECORD_FILE) or {}


def read_month_record(lake: Path, timezone: str, month: date) -> dict | None:
    return lake_io.read_json(monthly_dir(lake, timezone, month) / RECORD_FILE)


def read_first_day(lake: Path, timezone: str) -> date | None:
    """The lake's first local day holding an event, as the last aggregation found it (None: no event)."""
    first = (lake_io.read_json(history_path(lake, timezone)) or {}).get("first_day")
    return date.fromisoformat(first) if first else None


def entity_ids_seen(
    lake: Path, timezone: str, days: list[date], months: list[date], rolled_up: Sequence[date] = ()
) -> dict[str, set[str]]:
    """The structure and class ids that the months' presence and counts mention: the counts of the
    `rolled_up` months (complete months, see `read_month_counts`; their presence, made of the same days'
    logins, adds none), and the presence and days' counts of the others."""
    keys: set[str] = set()
    for month in months:
        path = month_presence_path(lake, timezone, month)
        if month in rolled_up:
            counts = read_month_counts(lake, timezone, month, ["entity"])
            keys.update(distinct_values(counts.column("entity")))
        elif path.exists():
            keys.update(distinct_values(read_presence(path, ["entity"]).column("entity")))
    for day in days:
        if day.replace(day=1) not in rolled_up:
            keys.update(distinct_values(read_counts(lake, timezone, day, ["entity"]).column("entity")))
    return ids_by_kind(keys)


def window_events(lake: Path, timezone: str, days: list[date]) -> dict[str, int]:
    """Events per type over `days`, from the days' records (no rescan of the lake)."""
    totals: dict[str, int] = {}
    for day in days:
        for event_type, count in read_day_record(lake, timezone, day).get("events", {}).items():
            totals[event_type] = totals.get(event_type, 0) + count
    return dict(sorted(totals.items()))


# ------------------------------------------------------------------------------------------------ writes
def write_day(
    lake: Path, timezone: str, day: date, tables: tuple[pa.Table, pa.Table] | None, record: dict
) -> None:
    """A day's (counts, presence), or none for a day without events, then its record: a day whose record
    was not written (a killed run) is recomputed by the next build."""
    folder = daily_dir(lake, timezone, day)
    for name in (COUNTS_FILE, PRESENCE_FILE):
        (folder / name).unlink(missing_ok=True)
    if tables is not None:
        counts, presence = tables
        lake_io.write_parquet(counts.cast(COUNTS_SCHEMA), folder / COUNTS_FILE)
        lake_io.write_parquet(presence.cast(PRESENCE_SCHEMA), folder / PRESENCE_FILE)
    lake_io.write_json(record, folder / RECORD_FILE)


def remove_day(lake: Path, timezone: str, day: date) -> None:
    """A day no partition holds a file of: its tables, then its record (a run killed in between leaves the
    record, so the next build finishes the job), then its folder."""
    folder = daily_dir(lake, timezone, day)
    for name in (COUNTS_FILE, PRESENCE_FILE, RECORD_FILE):
        (folder / name).unlink(missing_ok=True)
    with suppress(OSError):  # absent, or holding what this layout did not write: left
        folder.rmdir()


def write_history(lake: Path, timezone: str, first_day: date | None) -> None:
    path = history_path(lake, timezone)
    path.parent.mkdir(parents=True, exist_ok=True)
    lake_io.write_json({"first_day": first_day.isoformat() if first_day else None}, path)


def write_month(
    lake: Path, timezone: str, month: date, presence: pa.Table | None, counts: pa.Table | None, record: dict
) -> None:
    """A month's presence and counts, each when given (None: left as it is), then its record. The record
    names the day sources each was computed from: a month whose record was not written is redone."""
    folder = monthly_dir(lake, timezone, month)
    if presence is not None:
        lake_io.write_parquet(presence.cast(MONTH_PRESENCE_SCHEMA), folder / PRESENCE_FILE)
    if counts is not None:
        lake_io.write_parquet(counts.cast(COUNTS_SCHEMA), folder / COUNTS_FILE)
    elif record.get("counts_days") is None:
        (folder / COUNTS_FILE).unlink(missing_ok=True)  # an incomplete month has none
    lake_io.write_json(record, folder / RECORD_FILE)
