"""The Parquet lake: its layout, its schemas and its atomic writes. Every stage reaches files through here.

    LAKE/events/day=YYYY-MM-DD/part-<run>.parquet       validated events, partitioned by their UTC day
                                                        (part-<run>-<k>.parquet: a large day in k pieces)
    LAKE/rejects/part-<run>.parquet                     rejected lines (file, line, reason, raw line)
    LAKE/daily/, LAKE/monthly/                          the aggregate layer: see aggregate_store

A file is written under a temporary name and renamed into place, so a reader never sees half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .exceptions import LakeError

EVENT_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("event_type", pa.string()),
        ("module", pa.string()),
        ("ts_ms", pa.int64()),
        ("user_id", pa.string()),
        ("profile", pa.string()),
        ("structures", pa.list_(pa.string())),
        ("classes", pa.list_(pa.string())),
    ]
)
REJECT_SCHEMA = pa.schema(
    [
        ("file", pa.string()),  # the path as given on the command line
        ("file_name", pa.string()),
        ("line", pa.int64()),
        ("reason", pa.string()),
        ("raw", pa.string()),
        ("raw_sha1", pa.string()),
        ("run_id", pa.string()),
    ]
)
PART_GLOB = "part-*.parquet"
TEMPORARY_PREFIX = ".tmp-"  # every file is written under this prefix, then renamed


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def events_dir(lake: Path) -> Path:
    return lake / "events"


def rejects_dir(lake: Path) -> Path:
    return lake / "rejects"


def day_partition(lake: Path, day: date) -> Path:
    return events_dir(lake) / f"day={day.isoformat()}"


def event_days(lake: Path) -> list[date]:
    """The UTC days that hold events, oldest first."""
    root = events_dir(lake)
    if not root.is_dir():
        return []
    days = [date.fromisoformat(p.name[4:]) for p in root.glob("day=*") if any(p.glob(PART_GLOB))]
    return sorted(days)


def day_files(lake: Path, day: date) -> list[Path]:
    return sorted(day_partition(lake, day).glob(PART_GLOB))


def day_fingerprint(lake: Path, day: date) -> str:
    """Changes whenever a file is added to (or removed from) the day's partition."""
    names = [f"{p.name}:{p.stat().st_size}" for p in day_files(lake, day)]
    return hashlib.sha1("\n".join(names).encode()).hexdigest() if names else ""


def first_event_ms(lake: Path) -> int | None:
    """The time of the lake's earliest event (ms since the epoch), from its oldest partition's footers
    (statistics of `ts_ms`, read when a file has none); None for a lake without events."""
    for day in event_days(lake):
        earliest = [_min_ts(f) for f in day_files(lake, day)]
        if found := [t for t in earliest if t is not None]:
            return min(found)
    return None


def _min_ts(path: Path) -> int | None:
    metadata = pq.ParquetFile(path).metadata
    column = metadata.schema.names.index("ts_ms")
    minima = []
    for group in range(metadata.num_row_groups):
        chunk = metadata.row_group(group)
        if chunk.num_rows == 0:
            continue
        statistics = chunk.column(column).statistics
        if statistics is None or not statistics.has_min_max:
            return pc.min(pq.read_table(path, columns=["ts_ms"]).column("ts_ms")).as_py()
        minima.append(statistics.min)
    return min(minima, default=None)


def read_days(lake: Path, days: Iterable[date], columns: list[str] | None = None) -> pa.Table:
    files = [f for day in days for f in day_files(lake, day)]
    if not files:
        return EVENT_SCHEMA.empty_table().select(columns or EVENT_SCHEMA.names)
    tables = [pq.read_table(f, columns=columns, schema=EVENT_SCHEMA) for f in files]
    return pa.concat_tables(tables)


def read_rejects(lake: Path, columns: list[str] | None = None) -> pa.Table:
    files = sorted(rejects_dir(lake).glob(PART_GLOB)) if rejects_dir(lake).is_dir() else []
    if not files:
        return REJECT_SCHEMA.empty_table().select(columns or REJECT_SCHEMA.names)
    return pa.concat_tables([pq.read_table(f, columns=columns, schema=REJECT_SCHEMA) for f in files])


def temporary_beside(path: Path) -> Path:
    """A hidden name in `path`'s folder (created), to write to before the rename that publishes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}-{path.name}")


def remove_temporaries(lake: Path) -> list[Path]:
    """Delete the temporary files (and folders being deleted) that a killed run left; call it holding the
    lake's lock (pipeline.lock), when no other run can be writing one. Readers never see them: every glob
    of the lake matches `part-*`, `day=*`, `month=*` or a fixed name, never the hidden prefix."""
    removed = []
    for folder, dirs, files in os.walk(lake):
        for name in [d for d in dirs if d.startswith(TEMPORARY_PREFIX)]:
            dirs.remove(name)
            shutil.rmtree(Path(folder) / name, ignore_errors=True)
            removed.append(Path(folder) / name)
        for name in files:
            if name.startswith(TEMPORARY_PREFIX):
                (Path(folder) / name).unlink(missing_ok=True)
                removed.append(Path(folder) / name)
    return removed


# Dictionary pages of up to 64 MiB: Parquet's default 1 MiB holds fewer than 30,000 ids of 36 characters, past
# which it falls back to plain strings, as it did for a regional day's 60,000 class ids and 600,000 user ids.
# With them a regional school day's events take 101 MB instead of 219 (write 1.5 s instead of 2.2), its
# presence 31 MB instead of 41. Values unique to a row (ids, timestamps, a reject's line, text and digest)
# gain nothing from a dictionary (the writer hashed every reject's raw text, then wrote them plain anyway).
DICTIONARY_PAGE_LIMIT = 64 << 20
UNIQUE_PER_ROW = frozenset({"event_id", "ts_ms", "line", "raw", "raw_sha1"})
# Column statistics (min, max) only where they are read (`first_event_ms`): the minimum and maximum of every
# string column made a medium day's aggregates 1.4x slower to write (presence and counts, 590,000 rows:
# 65 -> 46 ms), a partition of events 7 % slower; no reader of the lake filters on them.
STATISTICS_READ = ("ts_ms",)


def write_table(table: pa.Table, path: Path) -> None:
    """Every Parquet file of the lake is written here (zstd, dictionaries for repeated strings, statistics
    only where read)."""
    dictionary = [
        f"{field.name}.list.element" if pa.types.is_list(field.type) else field.name
        for field in table.schema
        if field.name not in UNIQUE_PER_ROW
    ]
    pq.write_table(
        table,
        path,
        compression="zstd",
        use_dictionary=dictionary,
        dictionary_pagesize_limit=DICTIONARY_PAGE_LIMIT,
        write_statistics=[name for name in STATISTICS_READ if name in table.column_names],
    )


def row_count(path: Path) -> int:
    """The rows of a Parquet file, from its footer."""
    return pq.ParquetFile(path).metadata.num_rows


def write_parquet(table: pa.Table, path: Path) -> None:
    """Write atomically, not durably: a temporary file, then a rename (for what can be recomputed)."""
    tmp = temporary_beside(path)
    write_table(table, tmp)
    os.replace(tmp, path)


class StagedWrites:
    """Files written under temporary names, made durable, then renamed into place together, and the renames
    made durable (a day's file is whole or absent, never half). Each file is synced on its own: os.sync()
    would also flush whatever else the machine has written (after the benchmark's generation, 0.4 s of a
    medium day's 2.5 s ingest). With `workers` > 1 the files are written by that many threads at once (Arrow
    encodes and compresses without the GIL): `parquet` returns at once, `commit` waits for them all."""

    def __init__(self, workers: int = 1) -> None:
        self.pending: list[tuple[Path, Path]] = []
        self._writing: list[Future] = []
        self._threads = ThreadPoolExecutor(workers, "lake-write") if workers > 1 else None

    def parquet(self, table: pa.Table, path: Path) -> None:
        tmp = temporary_beside(path)
        if self._threads is None:
            write_table(table, tmp)
        else:
            self._writing.append(self._threads.submit(write_table, table, tmp))
        self.pending.append((tmp, path))

    def commit(self) -> None:
        try:
            for writing in self._writing:
                writing.result()  # the first failure stops the commit: nothing is renamed
        finally:
            if self._threads is not None:
                self._threads.shutdown()
        for tmp, _path in self.pending:
            _fsync(tmp)
        for tmp, path in self.pending:
            os.replace(tmp, path)
        # the renames, and a day's folder made for them (its entry in events/)
        for folder in sorted({f for _tmp, path in self.pending for f in (path.parent, path.parent.parent)}):
            _fsync(folder)
        self.pending.clear()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json(data: object, path: Path) -> None:
    tmp = temporary_beside(path)
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as error:
        raise LakeError(f"{path}: unreadable ({error}); delete it and run again to rebuild it") from error
