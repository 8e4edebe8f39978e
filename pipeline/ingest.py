"""Stage 1: mongoexport files → validated events and rejects in the lake (SPEC 1.1, 3.4).

Events are partitioned by their UTC day; each run adds one file per day it touched. An `_id` already in
the run, or already in the lake's partition of its day, is counted once. A reject is known by its file
name, line number and content: ingesting the same file again adds none twice.
"""

from __future__ import annotations

import logging
import mmap
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import lake as lake_io
from . import rejects as rejects_io
from .block_ring import BlockRing, InSlot, TableInSlot, block_of, put_table
from .cluster import Cluster
from .exceptions import InputFileError, RejectRateError
from .exports import Block, read_blocks
from .lock import holding_lock
from .parse_columns import parse_block
from .progress import progress

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
EPOCH = date(1970, 1, 1)
BLOCK_BYTES = 8 << 20  # of decompressed text handed to a parser at a time: about 20,000 export lines
CHUNK_LINES = 50_000  # lines per block at most
MAX_WORKERS = 2
BLOCKS_IN_FLIGHT = 3  # per worker of a cluster: blocks sent and not yet back (8 MB of text each)
PARALLEL_MIN_BYTES = 4 << 20  # below this, forking costs more than it saves
# A day of more events is written as several files at once, one per worker: Parquet's encoding of one file
# is serial (a regional day of 3,000,000 events: 1.45 s, against 0.72 s as two files in two threads).
WRITE_PIECE_ROWS = 1_000_000
DEFAULT_MAX_REJECT_RATE = 1.0  # percent of the lines read: `--max-reject-rate`
REJECT_EXAMPLES = 5  # rejected lines named in the message of a RejectRateError


@dataclass
class LakeBlock:
    """A block parsed as ingest keeps it: its events (lake.EVENT_SCHEMA, in line order) and rejects
    (rejects.BLOCK_SCHEMA) as tables."""

    path: str
    lines: int
    events: pa.Table | TableInSlot  # in a slot of the ring on its way back from a forked parser
    rejects: pa.Table


def parse_for_lake(block: Block, now_ms: int) -> LakeBlock:
    """In a parser (a forked process, a cluster's worker, or this one): the block parsed and validated."""
    parsed = parse_block(block, now_ms)
    return LakeBlock(parsed.path, parsed.lines, parsed.events, parsed.rejects)


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
    reject_examples: list[tuple[str, int, str]] = field(default_factory=list)  # first (file, line, reason)
    rejects_file: str | None = None  # where this run's new rejects are, in the lake

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


def blocks(files: Sequence[Path]) -> Iterator[Block]:
    for path in files:
        yield from read_blocks(path, BLOCK_BYTES, CHUNK_LINES)


@contextmanager
def parse_all(
    files: Sequence[Path], now_ms: int, workers: int, cluster: Cluster | None = None
) -> Iterator[Iterator[LakeBlock]]:
    """Parsed blocks in file and line order, over `workers` forked processes when there is enough work;
    their texts reach the parsers, and the parsers' tables come back, through shared memory
    (pipeline.block_ring). With `cluster`, a task per file, or per block when there are fewer files than
    workers.

    The workers fork on entry, before this process starts Arrow's threads (forking after them is unsafe).
    """
    if cluster is not None:
        if len(files) >= cluster.workers:  # a task per file: the files' text never passes through here
            tasks = [(str(path), str(path.resolve()), now_ms) for path in files]
            yield (block for blocks in cluster.map(parse_file, tasks, "parse") for block in blocks)
        else:  # fewer files than workers (a nightly's export): this process reads them, a task per block
            tasks = ((block, now_ms) for block in blocks(files))
            yield cluster.map(
                parse_for_lake, tasks, "parse-blocks", in_flight=BLOCKS_IN_FLIGHT * cluster.workers
            )
        return
    if workers < 2 or sum(f.stat().st_size for f in files) < PARALLEL_MIN_BYTES:
        yield map(partial(parse_for_lake, now_ms=now_ms), blocks(files))
        return
    ring = BlockRing()
    start = (ring.memory, ring.slot_bytes, now_ms)
    with multiprocessing.get_context("fork").Pool(workers, _start_parser, start) as pool:
        try:
            parsed = pool.imap(_parse_task, ring.feed(blocks(files)), chunksize=1)
            yield ring.results(parsed, partial(_events_back, ring))
        finally:
            ring.close()  # before the pool ends: its feeding thread may be waiting for a slot


def parse_file(given: str, path: str, now_ms: int) -> list[LakeBlock]:
    """On a cluster's worker: every block of the file at `path` (absolute), named as it was `given`."""
    parsed = [parse_for_lake(block, now_ms) for block in read_blocks(Path(path), BLOCK_BYTES, CHUNK_LINES)]
    for block in parsed:
        block.path = given
    return parsed


# in a forked parser: its initialiser's arguments (the ring, its slots' size, now_ms)
_PARSER: tuple[mmap.mmap, int, int] | None = None


def _start_parser(memory: mmap.mmap, slot_bytes: int, now_ms: int) -> None:
    global _PARSER
    _PARSER = (memory, slot_bytes, now_ms)


def _parse_task(task: Block | InSlot) -> LakeBlock:
    assert _PARSER is not None, "a parser process starts with _start_parser"
    memory, slot_bytes, now_ms = _PARSER
    parsed = parse_for_lake(block_of(task, memory, slot_bytes), now_ms)
    if isinstance(task, InSlot):
        parsed.events = put_table(parsed.events, task, memory, slot_bytes)
    return parsed


def _events_back(ring: BlockRing, parsed: LakeBlock) -> LakeBlock:
    parsed.events = ring.take_table(parsed.events)
    return parsed


@holding_lock(  # adds `wait=`: see pipeline.lock
    lambda files, lake, *_a, **_k: lake,
    before=lambda files, *_a, **_k: check_inputs([Path(f) for f in files]),
)
def run(
    files: Sequence[Path],
    lake: Path,
    now_ms: int | None = None,
    workers: int | None = None,
    cluster: Cluster | None = None,
) -> IngestReport:
    """Validate `files` and add their new events and rejects to `lake`. With `cluster`, the files (or their
    blocks, when there are fewer files than workers) are parsed by tasks there; this process alone
    deduplicates and writes to the lake."""
    started = time.perf_counter()
    files = [Path(f) for f in files]
    check_inputs(files)
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    workers = workers or min(os.cpu_count() or 1, MAX_WORKERS)
    report = IngestReport(run_id=lake_io.new_run_id(), files=[str(f) for f in files])

    # Load + Process: parse (in workers), then drop copies of an `_id` seen earlier in this run
    with parse_all(files, now_ms, workers, cluster) as parsed:
        table, first, new_rejects = _collect(parsed, rejects_io.KnownRejects(lake), report)

    # Save: one file per UTC day, less the events the lake already holds
    staged = lake_io.StagedWrites(workers)
    days = table.column("ts_ms").to_numpy() // DAY_MS  # dates are after 2000: positive
    for day_number in progress(np.unique(days).tolist(), "write days"):
        day = EPOCH + timedelta(days=day_number)
        of_day = rows_where(table, first & (days == day_number))
        kept = _drop_known(lake, day, of_day)
        report.duplicates += of_day.num_rows - kept.num_rows
        if kept.num_rows:
            for piece, name in _day_pieces(kept, report.run_id, workers):
                staged.parquet(piece, lake_io.day_partition(lake, day) / name)
            report.events_new.update(_value_counts(kept.column("event_type")))
            report.days_touched.append(day.isoformat())
    if new_rejects:
        rejects_file = lake_io.rejects_dir(lake) / _part(report)
        staged.parquet(rejects_io.run_table(new_rejects, report.run_id), rejects_file)
        report.rejects_file = str(rejects_file)
    staged.commit()
    report.seconds = time.perf_counter() - started
    log.info(
        "ingest %s: %d lines, %d new events in %.1f s",
        report.run_id,
        report.lines,
        sum(report.events_new.values()),
        report.seconds,
    )
    return report


def check_reject_rate(report: IngestReport, max_rate: float) -> None:
    """Raise RejectRateError when the run's new rejects exceed `max_rate` percent of the lines it read.

    Called once everything is written: the error changes only the exit code and says where the rejects are.
    """
    rejected = sum(report.rejects_new.values())
    if not report.lines or rejected * 100 <= max_rate * report.lines:
        return
    allowed = int(max_rate * report.lines // 100)
    reasons = ", ".join(f"{reason} {count}" for reason, count in report.rejects_new.most_common())
    examples = "; ".join(f"{file} line {line}: {reason}" for file, line, reason in report.reject_examples)
    where = report.rejects_file or "LAKE/rejects/"
    raise RejectRateError(
        f"{rejected} of the {report.lines} lines read were rejected ({100 * rejected / report.lines:.2f}%), "
        f"over --max-reject-rate {max_rate:g}% (at most {allowed} lines): {reasons}.\n"
        f"The run went to its end: what was valid is in the lake, and so are the rejected lines.\n"
        f"First rejected: {examples}.\n"
        f"Every rejected line of this run (file, line, reason, raw text) is in {where}; list them with\n"
        f"  python -c \"import pyarrow.parquet as pq; [print(r) for r in pq.read_table('{where}')"
        f".select(['file', 'line', 'reason', 'raw']).to_pylist()]\"\n"
        "Fix the export at those lines, or raise --max-reject-rate (a percentage) if they are expected."
    )


def _collect(
    parsed: Iterator[LakeBlock], known_rejects: rejects_io.KnownRejects, report: IngestReport
) -> tuple[pa.Table, np.ndarray, list[tuple[str, pa.Table]]]:
    """The run's events and which of them are the first of their `_id` in it (a mask: a copy of the table
    less a few rows would double the memory); the run's rejects less those already kept, per block."""
    tables: list[pa.Table] = []
    hashes: list[np.ndarray] = []  # of each block's ids, made while the parsers work on the next blocks
    new_rejects: list[tuple[str, pa.Table]] = []
    for block in progress(parsed, "ingest (blocks)"):
        report.lines += block.lines
        tables.append(block.events)
        hashes.append(id_hashes(block.events.column("event_id")))
        if not block.rejects.num_rows:
            continue
        new = known_rejects.new(block.path, block.rejects)
        report.rejects_known += block.rejects.num_rows - new.num_rows
        if not new.num_rows:
            continue
        new_rejects.append((block.path, new))
        report.rejects_new.update(_value_counts(new.column("reason")))
        examples = new.slice(0, REJECT_EXAMPLES - len(report.reject_examples)).select(["line", "reason"])
        report.reject_examples += [(block.path, row["line"], row["reason"]) for row in examples.to_pylist()]
    table = pa.concat_tables(tables) if tables else lake_io.EVENT_SCHEMA.empty_table()
    first = first_of_each_id(table.column("event_id"), np.concatenate(hashes) if hashes else None)
    report.duplicates += int(table.num_rows - first.sum())
    return table, first, new_rejects


def id_hashes(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Python's hash of each id: the same within this process only, so made and compared here."""
    values = ids.to_pylist()
    return np.fromiter(map(hash, values), np.int64, len(values))


def first_of_each_id(ids: pa.ChunkedArray, hashes: np.ndarray | None = None) -> np.ndarray:
    """Per row: whether it is its id's first occurrence.

    With `hashes` (`id_hashes` of the same rows, made block by block as they came in), only the rows whose
    hash another row shares are looked at: each is compared with the earliest row of its hash; if one of
    them is another id (a collision), every id is compared. The hashes are sorted, not the rows (NumPy sorts
    2,850,000 of them in 0.05 s, where ordering the rows by them took 0.3-0.48 s, and a dictionary of every
    id 0.79-0.94 s for 1.13 M ids: serial work at the end of the run, the parsers idle)."""
    if hashes is None or len(hashes) != len(ids):
        return _first_of_each_id_exactly(ids)
    first = np.ones(len(ids), bool)
    ordered = np.sort(hashes)
    shared = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])  # the hashes of more than one row
    if not len(shared):
        return first
    rows, group = _rows_of(shared, hashes)
    # every shared hash has rows: its first index in `group` is its earliest row
    earlier = rows[np.unique(group, return_index=True)[1]][group]
    later = earlier != rows
    rows, earlier = rows[later], earlier[later]
    if not pc.all(pc.equal(ids.take(rows), ids.take(earlier))).as_py():
        return _first_of_each_id_exactly(ids)
    first[rows] = False
    return first


def _rows_of(shared: np.ndarray, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows whose hash is in `shared` (sorted, unique), in order, and the index of their hash in `shared`.
    Only rows whose hash's low bits are some shared hash's are searched for: a search of `shared` for every
    row took 0.65 s on 3,000,000 rows, 5 % of them copies (a bisection of 139,000 values per row)."""
    bits = int(np.clip(len(shared) * 64, 1 << 16, 1 << 23)).bit_length()  # a 16 MB mask at most
    low = (1 << bits) - 1
    maybe = np.zeros(1 << bits, bool)
    maybe[shared & low] = True
    rows = np.flatnonzero(maybe[hashes & low])
    at = np.searchsorted(shared, hashes[rows]).clip(max=len(shared) - 1)
    hit = shared[at] == hashes[rows]
    return rows[hit], at[hit]


def _first_of_each_id_exactly(ids: pa.ChunkedArray) -> np.ndarray:
    """Per row: whether it is its id's first occurrence (the chunks share one dictionary)."""
    encoded = pc.dictionary_encode(ids).chunks
    if not encoded or len(encoded[-1].dictionary) == len(ids):
        return np.ones(len(ids), bool)
    codes = np.concatenate([chunk.indices.to_numpy() for chunk in encoded])
    first = np.zeros(len(ids), bool)
    first[np.unique(codes, return_index=True)[1]] = True
    return first


def _part(report: IngestReport) -> str:
    return f"part-{report.run_id}.parquet"


def _day_pieces(events: pa.Table, run_id: str, workers: int) -> list[tuple[pa.Table, str]]:
    """A day's new events as one file, or in consecutive pieces of WRITE_PIECE_ROWS rows or more, one per
    worker."""
    pieces = min(workers, events.num_rows // WRITE_PIECE_ROWS)
    if pieces <= 1:
        return [(events, f"part-{run_id}.parquet")]
    size = -(-events.num_rows // pieces)
    return [(events.slice(k * size, size), f"part-{run_id}-{k + 1}.parquet") for k in range(pieces)]


def _drop_known(lake: Path, day: date, events: pa.Table) -> pa.Table:
    existing = lake_io.read_days(lake, [day], columns=["event_id"]).column("event_id")
    if len(existing) == 0:
        return events
    known = pc.is_in(events.column("event_id"), value_set=existing).to_numpy(zero_copy_only=False)
    return rows_where(events, ~known)


def rows_where(table: pa.Table, mask: np.ndarray) -> pa.Table:
    """The rows of `table` where `mask` holds, in order. A chunk whose rows all hold is kept as it is, not
    copied: a run's events are one chunk per block, nearly all of them of one day and first of their id, and
    `Table.filter` copied them all (a regional day: 0.93 s of serial work, and the run's peak memory
    doubled)."""
    kept, start = [], 0
    for batch in table.to_batches():
        rows = mask[start : start + batch.num_rows]
        start += batch.num_rows
        if rows.all():
            kept.append(batch)
        elif rows.any():
            kept.append(batch.filter(pa.array(rows)))
    return pa.Table.from_batches(kept, schema=table.schema)


def _value_counts(column: pa.ChunkedArray) -> dict[str, int]:
    counts = pc.value_counts(column)
    return dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist()))
