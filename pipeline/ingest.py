"""Stage 1: mongoexport files → validated events and rejects in the lake (SPEC 1.1, 3.4).

Events are partitioned by their UTC day; each run adds one file per day it touched. An `_id` already in
the run, or already in the lake's partition of its day, is counted once. A reject is known by its file
name, line number and content: ingesting the same file again adds none twice.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from . import lake as lake_io
from .exceptions import InputFileError
from .parse import Event, Reject, parse_line
from .progress import progress

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
EPOCH = date(1970, 1, 1)
TRUNCATED_GZIP = "truncated_gzip"
GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class IngestReport:
    run_id: str
    files: list[str] = field(default_factory=list)
    lines: int = 0
    events_new: Counter = field(default_factory=Counter)  # per event type
    duplicates: int = 0  # same `_id` earlier in this run or already in the lake
    rejects_new: Counter = field(default_factory=Counter)  # per reason
    rejects_known: int = 0  # rejects that an earlier run already kept
    days_touched: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "files": self.files,
            "lines": self.lines,
            "events_new": dict(sorted(self.events_new.items())),
            "duplicates": self.duplicates,
            "rejects_new": dict(sorted(self.rejects_new.items())),
            "rejects_known": self.rejects_known,
            "days_touched": self.days_touched,
            "seconds": round(self.seconds, 3),
        }


def check_inputs(files: Sequence[Path]) -> None:
    for path in files:
        if not path.is_file():
            raise InputFileError(f"{path}: no such file; give the path of a mongoexport JSON Lines file")
        try:
            with open(path, "rb") as handle:
                handle.read(1)
        except OSError as error:
            raise InputFileError(f"{path}: cannot be read ({error.strerror})") from error


def read_lines(path: Path) -> Iterator[tuple[int, bytes | None]]:
    """(line number, raw bytes) for every line; (n, None) once if a gzip stream ends early or is corrupt."""
    with open(path, "rb") as probe:
        compressed = probe.read(2) == GZIP_MAGIC
    number = 0
    with gzip.open(path, "rb") if compressed else open(path, "rb") as handle:
        try:
            for number, line in enumerate(handle, 1):
                yield number, line
        except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as error:
            log.warning("%s: compressed stream broken after line %d (%s)", path, number, error)
            yield number + 1, None


def run(files: Sequence[Path], lake: Path, now_ms: int | None = None) -> IngestReport:
    """Validate `files` and add their new events and rejects to `lake`."""
    started = time.perf_counter()
    files = [Path(f) for f in files]
    check_inputs(files)
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    report = IngestReport(run_id=lake_io.new_run_id(), files=[str(f) for f in files])

    # Load
    known_rejects = _known_reject_keys(lake)

    # Process
    seen_ids: set[str] = set()
    events_by_day: dict[int, list[Event]] = defaultdict(list)
    new_rejects: list[tuple[str, str, int, Reject, str]] = []
    for path in progress(files, "ingest"):
        for number, raw in read_lines(path):
            report.lines += 1
            parsed = Reject(TRUNCATED_GZIP, "") if raw is None else parse_line(raw, now_ms)
            if isinstance(parsed, Event):
                if parsed.event_id in seen_ids:
                    report.duplicates += 1
                    continue
                seen_ids.add(parsed.event_id)
                events_by_day[parsed.ts_ms // DAY_MS].append(parsed)
                continue
            digest = hashlib.sha1(parsed.raw.encode("utf-8", "surrogatepass")).hexdigest()
            key = (path.name, number, digest)
            if key in known_rejects:
                report.rejects_known += 1
                continue
            known_rejects.add(key)
            report.rejects_new[parsed.reason] += 1
            new_rejects.append((str(path), path.name, number, parsed, digest))

    # Save
    for day_number in progress(sorted(events_by_day), "write days"):
        day = EPOCH + timedelta(days=day_number)
        kept = _drop_known(lake, day, events_by_day[day_number])
        report.duplicates += len(events_by_day[day_number]) - len(kept)
        if kept:
            lake_io.write_parquet(_events_table(kept), lake_io.day_partition(lake, day) / _part(report))
            report.events_new.update(e.event_type for e in kept)
            report.days_touched.append(day.isoformat())
    if new_rejects:
        lake_io.write_parquet(
            _rejects_table(new_rejects, report.run_id), lake_io.rejects_dir(lake) / _part(report)
        )
    report.seconds = time.perf_counter() - started
    log.info(
        "ingest %s: %d lines, %d new events in %.1f s",
        report.run_id,
        report.lines,
        sum(report.events_new.values()),
        report.seconds,
    )
    return report


def _part(report: IngestReport) -> str:
    return f"part-{report.run_id}.parquet"


def _known_reject_keys(lake: Path) -> set[tuple[str, int, str]]:
    table = lake_io.read_rejects(lake, columns=["file_name", "line", "raw_sha1"])
    return set(zip(*(table.column(c).to_pylist() for c in ("file_name", "line", "raw_sha1"))))


def _drop_known(lake: Path, day: date, events: list[Event]) -> list[Event]:
    existing = lake_io.read_days(lake, [day], columns=["event_id"]).column("event_id")
    if len(existing) == 0:
        return events
    candidates = pa.array([e.event_id for e in events], pa.string())
    known = pc.is_in(candidates, value_set=existing).to_pylist()
    return [e for e, is_known in zip(events, known) if not is_known]


def _events_table(events: list[Event]) -> pa.Table:
    columns = list(zip(*events))
    return pa.Table.from_arrays(
        [pa.array(c, f.type) for c, f in zip(columns, lake_io.EVENT_SCHEMA)], schema=lake_io.EVENT_SCHEMA
    )


def _rejects_table(rows: list[tuple[str, str, int, Reject, str]], run_id: str) -> pa.Table:
    data = {
        "file": [r[0] for r in rows],
        "file_name": [r[1] for r in rows],
        "line": [r[2] for r in rows],
        "reason": [r[3].reason for r in rows],
        "raw": [r[3].raw.encode("utf-8", "replace").decode("utf-8") for r in rows],
        "raw_sha1": [r[4] for r in rows],
        "run_id": [run_id] * len(rows),
    }
    return pa.Table.from_pydict(data, schema=lake_io.REJECT_SCHEMA)
