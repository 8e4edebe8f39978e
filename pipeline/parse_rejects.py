"""The rejects the columnar fast path (pipeline.parse_columns) decides without the reference,
`parse.parse_line`: the lines that are for certain not JSON, and the raw text of a reject whose reason the
columns found.

Both agree with the reference to the byte (tests/test_parse_columns.py): what they cannot be certain of, they
leave to `parse`. They exist for speed: the standard parser took 4 µs to fail on a line cut short, and
`parse.reject_of` walks every document for floats before writing it back.
"""

from __future__ import annotations

from collections import deque
from itertools import repeat

import msgspec
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from .constants import NEVER_STORED_FIELDS
from .exports import Block
from .parse import NOT_JSON, drop_private, reject_of

# A line that is not JSON to msgspec is not to parse_line either, unless it holds what only the standard
# parser takes (parse_line's slow path): NaN, Infinity, a byte order mark, a number past a double's range (a
# long exponent, a long run of digits). A lone surrogate is not `readable` (parse_columns). A number in an
# object follows `:`, `,` or `[`: hex ids ("…3e480…") are not taken for exponents.
STANDARD_ONLY = r"NaN|Infinity|\x{FEFF}|[:,\[][ \t\r\n]*-?[0-9]+(?:\.[0-9]*)?[eE][+-]?[0-9]{3}|[0-9]{300}"

_read = msgspec.json.Decoder().decode
CUT_SHORT_ERROR = "Input data was truncated"  # msgspec's, for a text that ends inside a value


def _no_float(_text: str) -> float:
    raise ValueError("a float: parse.reject_of writes it")


_read_without_floats = msgspec.json.Decoder(float_hook=_no_float).decode
_read_objects_without_floats = msgspec.json.Decoder(dict, float_hook=_no_float).decode_lines


def not_json(
    lines: list[bytes], unread: np.ndarray, malformed: np.ndarray, cut_short: np.ndarray
) -> np.ndarray:
    """Per line: whether it is, for certain, not JSON. `cut_short`: the whole UTF-8 lines msgspec read to
    their end and found cut short; no parser reads more of them, so they are not JSON to the reference
    either, whatever they hold. `malformed`: the other whole UTF-8 lines the fast path found malformed;
    `unread`: the others it could not read (few: each is read again here, to tell JSON of another shape from
    text that is not JSON). `lines`: `Block.lines`, each but the last with its `\\n` (STANDARD_ONLY matches
    the same with it); a line is read again as it was read, without it."""
    certain = cut_short.copy()
    rows = np.flatnonzero(malformed).tolist()
    rows += [row for row in np.flatnonzero(unread).tolist() if _malformed(Block.line_text(lines[row]))]
    if rows:
        texts = pa.array([lines[row] for row in rows], pa.binary()).cast(pa.string())
        certain[rows] = ~pc.match_substring_regex(texts, STANDARD_ONLY).to_numpy(zero_copy_only=False)
    return certain


def _malformed(line: bytes) -> bool:
    try:
        _read(line)
    except RecursionError:  # deeper than msgspec goes: the reference decides
        return False
    except msgspec.DecodeError:
        return True
    return False


def known_raws(lines: list[bytes], reasons: list[str]) -> list[bytes | str | None]:
    """`known_raw` of each line, its reason known. The lines are read as JSON all at once, by C code with no
    Python step per line; if one of them cannot be (see `_raws_without_floats`), each is read alone."""
    texts = [line for line, reason in zip(lines, reasons) if reason != NOT_JSON]
    raws = _raws_without_floats(texts) if texts else []
    if raws is None:
        return [known_raw(line, reason) for line, reason in zip(lines, reasons)]
    if len(raws) == len(lines):
        return raws
    read = iter(raws)
    return [
        known_raw(line, reason) if reason == NOT_JSON else next(read) for line, reason in zip(lines, reasons)
    ]


def _raws_without_floats(lines: list[bytes]) -> list[bytes] | None:
    """`_raw_without_floats` of every line, each a JSON object (the fast path read it as one), decoded at
    once; None where that fails for one of them (a float, an integer past 64 bits, deep nesting)."""
    try:
        documents = _read_objects_without_floats(b"\n".join(lines))
        for field in NEVER_STORED_FIELDS:  # drop_private's, as C calls
            deque(map(dict.pop, documents, repeat(field), repeat(None)), maxlen=0)
        raws = list(map(orjson.dumps, documents))
    except (msgspec.DecodeError, RecursionError, orjson.JSONEncodeError):
        return None
    return raws if len(raws) == len(lines) else None


def known_raw(line: bytes, reason: str) -> bytes | str | None:
    """The raw text of a line whose reject reason is known: its UTF-8 bytes when msgspec and orjson write it
    (see `_raw_without_floats`; a line that is not JSON is its own text), else `parse.reject_of`'s text;
    None when orjson does not read the line (`parse.parse_line` decides)."""
    if reason == NOT_JSON:
        return line.rstrip(b"\r\n")  # a whole UTF-8 line (the fast path's `readable`)
    raw = _raw_without_floats(line)
    if raw is not None:
        return raw
    reject = reject_of(line, reason)
    return reject.raw if reject is not None else None


def _raw_without_floats(line: bytes) -> bytes | None:
    """The line less `ip` and `ua`, as `parse.reject_of` writes it: msgspec reads it into a dict in C and
    stops at a float (orjson writes floats unlike the standard encoder, so `parse._dumps` walks every
    document for them). None for a line msgspec does not read, or with an integer past 64 bits (where orjson
    reads a float) or more than 255 levels (which orjson does not write): `parse.reject_of` decides."""
    try:
        document = _read_without_floats(line)
    except (msgspec.DecodeError, RecursionError):  # a float is a ValidationError, a DecodeError
        return None
    if type(document) is not dict:
        return None
    drop_private(document)
    try:
        return orjson.dumps(document)
    except orjson.JSONEncodeError:
        return None
