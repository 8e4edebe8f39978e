"""Rejected lines on their way to the lake (SPEC 1.1, 3.4): a block's rejects as a table, made where the block
is parsed; those an earlier run (or this one) already kept, left out; the run's rejects file.

A reject is known by its file name, line number and the SHA-1 of its raw text: ingesting the same file again
adds none twice. The digest and the table are made by the parsers, in parallel, so that the process that
writes the lake only compares pairs and joins tables: at 5 % of rejects, per-reject work there (hashing,
tuples, pickled lists) cost 4.6 µs of serial CPU a reject, more than a valid line's whole cost.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa

from . import lake as lake_io

BLOCK_FIELDS = ("line", "reason", "raw", "raw_sha1")
BLOCK_SCHEMA = pa.schema([lake_io.REJECT_SCHEMA.field(name) for name in BLOCK_FIELDS])
KEY_FIELDS = ("file_name", "line", "raw_sha1")  # what a reject is known by


def block_table(rejects: list[tuple[int, str, str]]) -> pa.Table:
    """A block's rejects, (line, reason, raw text), as a table of BLOCK_SCHEMA. The digest is of the raw text
    as it was (a lone surrogate included); the text kept is UTF-8 (a lone surrogate replaced)."""
    raws, digests = [], []
    for _line, _reason, raw in rejects:
        try:
            data = raw.encode("utf-8")
        except UnicodeEncodeError:
            data = raw.encode("utf-8", "surrogatepass")
            raw = raw.encode("utf-8", "replace").decode("utf-8")
        raws.append(raw)
        digests.append(hashlib.sha1(data).hexdigest())
    lines = [line for line, _reason, _raw in rejects]
    reasons = [reason for _line, reason, _raw in rejects]
    return pa.Table.from_arrays(
        [pa.array(lines, pa.int64()), pa.array(reasons, pa.string()), pa.array(raws, pa.string()), digests],
        schema=BLOCK_SCHEMA,
    )


class KnownRejects:
    """The rejects the lake holds, then those met in this run too: (line, digest) pairs per file name."""

    def __init__(self, lake: Path) -> None:
        table = lake_io.read_rejects(lake, columns=list(KEY_FIELDS))
        self._by_name: defaultdict[str, set[tuple[int, str]]] = defaultdict(set)
        for name, line, digest in zip(*(table.column(c).to_pylist() for c in KEY_FIELDS)):
            self._by_name[name].add((line, digest))

    def new(self, file_name: str, rejects: pa.Table) -> pa.Table:
        """The rows of `rejects` (a block's, of BLOCK_SCHEMA, from a file named `file_name`) not met before;
        from now on they are."""
        seen = self._by_name[file_name]
        keys = list(zip(rejects.column("line").to_pylist(), rejects.column("raw_sha1").to_pylist()))
        fresh = [key not in seen for key in keys] if seen else None
        seen.update(keys)
        return rejects if fresh is None or all(fresh) else rejects.filter(pa.array(fresh))


def run_table(blocks: list[tuple[str, pa.Table]], run_id: str) -> pa.Table:
    """A run's new rejects, given as (path as given, a block's rejects) in order, as a REJECT_SCHEMA table."""
    rows = pa.concat_tables([table for _path, table in blocks])
    counts = [table.num_rows for _path, table in blocks]
    paths = [path for path, _table in blocks]
    columns = {
        "file": np.repeat(np.array(paths, object), counts),
        "file_name": np.repeat(np.array([Path(path).name for path in paths], object), counts),
        **{name: rows.column(name) for name in BLOCK_FIELDS},
        "run_id": np.full(rows.num_rows, run_id, object),
    }
    return pa.Table.from_pydict(columns, schema=lake_io.REJECT_SCHEMA)
