"""Rejected lines on their way to the lake (SPEC 1.1, 3.4): a block's rejects as a table, made where the block
is parsed; those an earlier run (or this one) already kept, left out; the run's rejects file.

A reject is known by its file name, line number and the SHA-1 of its raw text: ingesting the same file again
adds none twice. The digest and the table are made by the parsers, in parallel, so that the process that
writes the lake only compares pairs and joins tables: at 5 % of rejects, per-reject work there (hashing,
tuples, pickled lists) cost 4.6 µs of serial CPU a reject, more than a valid line's whole cost.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import lake as lake_io

BLOCK_FIELDS = ("line", "reason", "raw", "raw_sha1")
BLOCK_SCHEMA = pa.schema([lake_io.REJECT_SCHEMA.field(name) for name in BLOCK_FIELDS])
KEY_FIELDS = ("file_name", "line", "raw_sha1")  # what a reject is known by
# copied for each text: hashlib.sha1(text) has OpenSSL look the digest up at each call (0.82 µs a text of
# 300 bytes, a regional reject's, against 0.64 µs with a copy; 40 timings alternated, AMD EPYC, 2026-12-08)
_SHA1 = hashlib.sha1()


def sha1_hex(data: bytes) -> str:
    """The SHA-1 of `data`, in hexadecimal."""
    hasher = _SHA1.copy()
    hasher.update(data)
    return hasher.hexdigest()


def block_columns(
    lines: list[int], reasons: list[str], raws: list[str | bytes], first_line: int = 0
) -> pa.Table:
    """A block's rejects, as a table of BLOCK_SCHEMA in line order, their lines counted from `first_line`. A
    raw text given as bytes is UTF-8. The digest is of the raw text as it was (a lone surrogate included); the
    text kept is UTF-8 (a lone surrogate replaced)."""
    try:  # every raw text as bytes (the fast path's): the digests without a Python step per reject
        digests = list(map(sha1_hex, raws))
    except TypeError:  # some as str (parse_line's)
        raws, digests = _utf8_with_digests(raws)
    columns = [np.asarray(lines, np.int64) + first_line, pa.array(reasons, pa.string()), _utf8_column(raws)]
    table = pa.Table.from_arrays([*columns, digests], schema=BLOCK_SCHEMA)
    order = np.argsort(lines, kind="stable")
    return table if (order == np.arange(len(order))).all() else table.take(order)


def _utf8_column(texts: list[bytes]) -> pa.StringArray:
    """UTF-8 texts as a string column, their bytes joined once (the builder of pa.array grows its buffer, a
    copy each time) and not checked again."""
    offsets = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, texts), np.int64, len(texts)), out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:  # past what a string column's offsets count: Arrow says so
        return pa.array(texts, pa.binary()).cast(pa.string())
    buffers = [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(b"".join(texts))]
    return pa.Array.from_buffers(pa.string(), len(texts), buffers)


def _utf8_with_digests(raws: list[str | bytes]) -> tuple[list[bytes], list[str]]:
    texts, digests = [], []
    for raw in raws:
        if type(raw) is bytes:
            texts.append(raw)
            digests.append(sha1_hex(raw))
            continue
        try:
            data = raw.encode("utf-8")
            texts.append(data)
        except UnicodeEncodeError:
            data = raw.encode("utf-8", "surrogatepass")
            texts.append(raw.encode("utf-8", "replace"))
        digests.append(sha1_hex(data))
    return texts, digests


class KnownRejects:
    """The rejects the lake holds, then those met in this run too, known by (line, digest) per file name.

    A block is looked up only against what another reading of its file name left: the lake's rejects (read
    for a name when it first comes), another path of that name in this run, or the same file read again.
    The blocks of one reading come in line order and cannot repeat each other. A night's file is new to the
    lake: its blocks are not looked up at all, where a set of every reject the lake holds used to be built
    at each run (2,000,000 rejects: 1.3 s) and every reject went through it."""

    def __init__(self, lake: Path) -> None:
        self._lake = lake_io.read_rejects(lake, columns=list(KEY_FIELDS))
        self._known: dict[str, set[str]] = {}  # by file name: the keys of its other readings
        self._reading: dict[str, tuple[str, int]] = {}  # by file name: (path, last line) of the current one
        self._pending: dict[str, list[pa.Table]] = {}  # by file name: the rejects of the current reading

    def new(self, path: str, rejects: pa.Table) -> pa.Table:
        """The rows of `rejects` (a block's, of BLOCK_SCHEMA, from the file at `path`) not met before;
        from now on they are."""
        name = Path(path).name
        if name not in self._known:
            kept = self._lake.filter(pc.equal(self._lake.column("file_name"), name))
            self._known[name] = set(_keys(kept).to_pylist())
        if not rejects.num_rows:
            return rejects
        lines = rejects.column("line")
        current, last = self._reading.get(name, (path, 0))
        if current != path or pc.min(lines).as_py() <= last:  # another reading: the last one's keys count
            for table in self._pending.pop(name, []):
                self._known[name].update(_keys(table).to_pylist())
        self._reading[name] = (path, pc.max(lines).as_py())
        if known := self._known[name]:
            rejects = rejects.filter(pa.array([key not in known for key in _keys(rejects).to_pylist()]))
        self._pending.setdefault(name, []).append(rejects)
        return rejects


def _keys(table: pa.Table) -> pa.Array:
    """A reject's key as one string per row: `line:digest`."""
    line = pc.cast(table.column("line"), pa.string())
    return pc.binary_join_element_wise(line, table.column("raw_sha1"), ":").combine_chunks()


def run_table(blocks: list[tuple[str, pa.Table]], run_id: str) -> pa.Table:
    """A run's new rejects, given as (path as given, a block's rejects) in order, as a REJECT_SCHEMA table."""
    rows = pa.concat_tables([table for _path, table in blocks])
    paths = [path for path, _table in blocks]
    block_of_row = pa.array(np.repeat(np.arange(len(blocks)), [table.num_rows for _path, table in blocks]))
    columns = {  # each block's values repeated by Arrow: no Python string per row
        "file": pa.array(paths, pa.string()).take(block_of_row),
        "file_name": pa.array([Path(path).name for path in paths], pa.string()).take(block_of_row),
        **{name: rows.column(name) for name in BLOCK_FIELDS},
        "run_id": pa.repeat(pa.scalar(run_id, pa.string()), rows.num_rows),
    }
    return pa.Table.from_pydict(columns, schema=lake_io.REJECT_SCHEMA)
