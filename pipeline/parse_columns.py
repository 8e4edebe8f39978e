"""A block of mongoexport lines → validated events as Arrow columns, rejects with their reasons (SPEC 1.1).

The fast path: msgspec reads each line into typed fields (C code, no dict), then every rule of SPEC 1.1 is
checked on whole columns with Arrow. A line is an event only when every check passes on a form the fast
path knows for certain. A line is a reject without the reference when its reason is certain too (the first
failing check on forms it knows, or not JSON at all): `pipeline.parse_rejects` makes its raw text. Every other
line (a form the fast path leaves alone: a BOM, a date with spaces, an offset written `+0100`…) goes to
`parse.parse_line`, the reference, which gives its event or its reason and raw text. So the fast path can
only agree with `parse_line`: tests/test_parse_columns.py holds it to that.
"""

from __future__ import annotations

import gc
import re
from dataclasses import dataclass
from itertools import compress

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import lake as lake_io
from . import rejects as rejects_io
from .constants import ENT_PROFILES, EVENT_TYPES_USED, FUTURE_TOLERANCE_MS, ID_ALPHABET_PATTERN, MIN_EVENT_MS
from .exports import Block
from .parse import (
    BAD_ID,
    DATE_BEFORE_2000,
    DATE_IN_FUTURE,
    MISSING_DATE,
    MISSING_EVENT_TYPE,
    MISSING_ID,
    MISSING_MODULE,
    MISSING_PROFILE,
    MISSING_USER_ID,
    NOT_JSON,
    SURROGATE_ESCAPE,
    TRUNCATED_GZIP,
    UNKNOWN_PROFILE,
    Event,
    parse_line,
)
from .parse_rejects import CUT_SHORT_ERROR, known_raws, not_json

_ABSENT = msgspec.Raw(b"")


class _Fields(msgspec.Struct):
    """The fields of SPEC 1.1. Those of many forms are kept as their JSON text (`Raw`), to be read as whole
    columns; the others are typed, and a value of another type fails the line's decoding."""

    event_id: msgspec.Raw = msgspec.field(name="_id", default=_ABSENT)
    event_type: str | None = msgspec.field(name="event-type", default=None)
    module: str | None = None
    date: msgspec.Raw = _ABSENT
    userId: str | None = None
    profil: str | None = None
    structures: msgspec.Raw = _ABSENT
    classes: msgspec.Raw = _ABSENT


_decode = msgspec.json.Decoder(_Fields).decode
_UNREAD = _Fields()  # stands for a line msgspec could not read: no `_id`, so it goes to parse_line
# why msgspec could not read a line: a value of another type (or nesting past its depth), text that is not
# JSON to it, or JSON that ends inside a value (read to its end: cut short, for any parser)
OTHER_SHAPE, MALFORMED, CUT_SHORT = 0, 1, 2

_TEXT = r'"[^"\\]+"'  # a non-empty JSON string without escapes: its text is its value
_OID_START, _OID_END = '{"$oid":', "}"
EVENT_ID_TEXT, EVENT_ID_OID = f"^{_TEXT}$", rf'^\{{"\$oid":{_TEXT}\}}$'
_ID = '"' + ID_ALPHABET_PATTERN.removeprefix("^").removesuffix("$") + '"'
ID_LIST_FORMS = rf"^(?:\[(?:{_ID}(?:,{_ID})*)?\]|null|)$"  # empty: the field is absent
STRING_LIST_FORMS = r'^\[(?:"[^"\\]*"(?:,"[^"\\]*")*)?\]$'  # any strings: a bad_id when not those above
_ID_SEPARATOR = '","'
_SURROGATE_ESCAPES = re.compile(SURROGATE_ESCAPE.encode()).finditer

_N = "-?[0-9]{1,18}"  # 18 digits at most: an int64 whatever the digits; longer goes to parse_line
DATE_NUMBER_FORMS = (  # the compact number forms of SPEC 1.1's `date`, as mongoexport writes them
    rf'^(?:{_N}|\{{"\$numberLong":"{_N}"\}}|\{{"\$date":\{{"\$numberLong":"{_N}"\}}\}})$'
)
_DATE_NUMBER_WRAPPING = '{}"$numberLongdate:'  # what is around the number in those forms
_ISO_START = '{"$date":"'
DATE_ISO_FORM = (
    r'^\{"\$date":"'
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})T(?P<h>[0-9]{2}):(?P<mi>[0-9]{2}):(?P<s>[0-9]{2})"
    r"(?:\.(?P<f>[0-9]{1,6}))?(?:Z|(?P<sign>[+-])(?P<oh>[0-9]{2}):(?P<om>[0-9]{2}))"
    r'"\}$'
)
_ISO_PARTS = ("y", "mo", "d", "h", "mi", "s", "f", "sign", "oh", "om")
# The ISO forms mongoexport writes, each digit at a fixed place, 32, 36, 37 or 41 characters:
# {"$date":"YYYY-MM-DDTHH:MM:SS[.mmm](Z|±HH:MM)"}. Their numbers are read from those places in the column's
# bytes: DATE_ISO_FORM's groups (extract_regex) cost about 1 µs a date. Other ISO texts (other fractions, an
# offset without a colon…) are read by the groups.
DATE_ISO_FIXED = (
    r'^\{"\$date":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}'
    r'(?:\.[0-9]{3})?(?:Z|[+-][0-9]{2}:[0-9]{2})"\}$'
)
_FIXED_AT = {  # (where, how many digits)
    "y": (10, 4), "mo": (15, 2), "d": (18, 2), "h": (21, 2), "mi": (24, 2), "s": (27, 2), "f": (30, 3),
}  # fmt: skip
_WITH_FRACTION, _WITH_OFFSET = (36, 41), (37, 41)  # the lengths of the fixed forms that have one
_PROFILES = pa.array(sorted(ENT_PROFILES))
_TYPES_USED = pa.array(EVENT_TYPES_USED)
_ABSENT_DATES = pa.array(["", "null"], pa.large_string())  # no `date`, or `"date":null`
# Literals given to compute functions as typed scalars: pyarrow infers the type of a Python value, and its
# inference tries to import dateutil each time (where it is not installed, 13 failed imports a block: on a
# 2-core AMD EPYC, parsing a block of four lines took 9.7 ms with them, 3.9 ms without)
_EMPTY, _DIGIT_0, _MINUS, _ACCESS = (pa.scalar(text, pa.string()) for text in ("", "0", "-", "ACCESS"))
_INT_0, _INT_1 = pa.scalar(0, pa.int64()), pa.scalar(1, pa.int64())


@dataclass
class ParsedBlock:
    """A block's events (lake.EVENT_SCHEMA, in line order) and rejects (rejects.BLOCK_SCHEMA, in line
    order)."""

    path: str
    lines: int
    events: pa.Table
    rejects: pa.Table


def parse_block(block: Block, now_ms: int) -> ParsedBlock:
    """Every line of the block, validated; the break of a broken stream is one more line, rejected."""
    gc_was_on = gc.isenabled()
    gc.disable()  # a block makes many small containers, none cyclic: collecting them only costs time
    try:
        lines = block.lines()
        readable = _whole_lines_readable(block.text, lines) if lines else np.zeros(0, bool)
        events, (rows, reasons), slow = _fast_events(lines, readable, now_ms)
        raws = known_raws([Block.line_text(lines[row]) for row in rows], reasons)
    finally:
        if gc_was_on:
            gc.enable()
    if None in raws:  # orjson did not read the line: parse_line decides
        written = [raw is not None for raw in raws]
        slow += [row for row, ok in zip(rows, written) if not ok]
        rows, reasons, raws = (list(compress(column, written)) for column in (rows, reasons, raws))
    found = [(index, parse_line(Block.line_text(lines[index]), now_ms)) for index in slow]
    slow_events = [(index, parsed) for index, parsed in found if type(parsed) is Event]
    for index, parsed in found:
        if type(parsed) is not Event:
            rows.append(index)
            reasons.append(parsed.reason)
            raws.append(parsed.raw)
    if block.broken:
        rows.append(block.count)
        reasons.append(TRUNCATED_GZIP)
        raws.append("")
    if slow_events:
        events = _merge(events, slow_events)
    else:
        events = events.drop_columns(["index"])
    rejects = rejects_io.block_columns(rows, reasons, raws, first_line=block.first_line)
    return ParsedBlock(block.path, block.count + block.broken, events, rejects)


def _fast_events(
    lines: list[bytes], readable: np.ndarray, now_ms: int
) -> tuple[pa.Table, tuple[list[int], list[str]], list[int]]:
    """The lines the fast path validates, as a table with their `index` in the block; the lines it knows for
    certain to be rejects, as (indices, reasons); the others' indices, for parse_line. `readable`: per line,
    whether it is whole UTF-8 (msgspec skips the fields it is not asked for unread).

    SPEC 1.1's checks run in `parse.validate`'s order: a line's reason is its first failing check, known for
    certain when every check before it passed on a form the fast path reads."""
    decoded, failed = _decoded(lines)
    n = len(decoded)
    id_texts = _raw_texts([d.event_id for d in decoded])
    event_id, id_ok = _event_ids(id_texts)
    event_type = pa.array([d.event_type for d in decoded], pa.string())
    module = pa.array([d.module for d in decoded], pa.string())
    user_id = pa.array([d.userId for d in decoded], pa.string())
    profile = pa.array([d.profil for d in decoded], pa.string())
    date_texts = _raw_texts([d.date for d in decoded])
    ms, date_ok = dates_ms(date_texts)
    structures = id_lists(_raw_texts([d.structures for d in decoded]))
    classes = id_lists(_raw_texts([d.classes for d in decoded]))

    ts_ms = pa.array(ms)
    has_user = _numpy(_nonempty(user_id))
    has_module = _numpy(_nonempty(module))
    used = _numpy(pc.is_in(event_type, value_set=_TYPES_USED))
    known_profile = _numpy(pc.fill_null(pc.is_in(profile, value_set=_PROFILES), False))
    id_absent = _numpy(pc.equal(id_texts, _EMPTY))
    date_absent = _numpy(pc.is_in(date_texts, value_set=_ABSENT_DATES))
    access = _numpy(pc.fill_null(pc.equal(event_type, _ACCESS), False))
    nothing = np.zeros(n, bool)
    checks = (  # (reason, fails for certain, not known to the fast path), in parse.validate's order
        (MISSING_ID, id_absent, ~id_absent & ~id_ok),
        (MISSING_EVENT_TYPE, ~_numpy(_nonempty(event_type)), nothing),
        (MISSING_DATE, date_absent, ~date_absent & ~date_ok),
        (DATE_BEFORE_2000, ms < MIN_EVENT_MS, nothing),
        (DATE_IN_FUTURE, ms > now_ms + FUTURE_TOLERANCE_MS, nothing),
        (MISSING_USER_ID, used & ~has_user, nothing),
        (MISSING_PROFILE, used & ~_numpy(_nonempty(profile)), nothing),
        (UNKNOWN_PROFILE, used & ~known_profile, nothing),
        (MISSING_MODULE, used & access & ~has_module, nothing),
        (None, nothing, ~structures.strings),
        (None, nothing, ~classes.strings),
        (BAD_ID, ~structures.valid | ~classes.valid, nothing),
        (None, nothing, structures.twice | classes.twice),
    )
    why = np.full(n, -1, np.int8)  # per line msgspec could not read: why (_decoded); -1 for the others
    if failed:  # few
        why[np.fromiter(failed, np.int64, len(failed))] = np.fromiter(failed.values(), np.int8, len(failed))
    undecided = readable & (why < 0)
    malformed, cut_short = readable & (why == MALFORMED), readable & (why == CUT_SHORT)
    not_json_lines = not_json(lines, readable & (why == OTHER_SHAPE), malformed, cut_short)
    slow = ~undecided & ~not_json_lines
    reasons = [NOT_JSON] + [reason for reason, _fails, _unknown in checks]
    reason_of = np.where(not_json_lines, 0, -1)  # per line: its known reason, as an index in `reasons`
    for code, (_reason, fails, unknown) in enumerate(checks, 1):
        reason_of[undecided & fails] = code
        slow |= undecided & ~fails & unknown
        undecided &= ~fails & ~unknown
    # events of other types keep a user and a profile only when they are valid ones
    module = _null_where(module, undecided & ~has_module)
    user_id = _null_where(user_id, undecided & ~has_user)
    profile = _null_where(profile, undecided & ~known_profile)
    table = pa.Table.from_arrays(
        [event_id, event_type, module, ts_ms, user_id, profile, structures.lists, classes.lists]
        + [pa.array(np.arange(n))],
        schema=lake_io.EVENT_SCHEMA.append(pa.field("index", pa.int64())),
    )
    known = np.flatnonzero(reason_of >= 0)
    known_reasons = np.array(reasons, object)[reason_of[known]].tolist()
    events = table if undecided.all() else _rows_kept(table, undecided)  # `undecided`: every check passed
    return events, (known.tolist(), known_reasons), np.flatnonzero(slow).tolist()


def _null_where(values: pa.Array, null: np.ndarray) -> pa.Array:
    """`values`, null where `null` holds; as they are (with no validity bitmap to carry through the block's
    filter) where it holds nowhere: the rows that need a null are most often rows the filter drops."""
    return pc.if_else(pa.array(~null), values, pa.scalar(None, values.type)) if null.any() else values


def _rows_kept(table: pa.Table, kept: np.ndarray) -> pa.Table:
    """The rows of a one-chunk `table` where `kept` holds, in order: a block's events less its rejects and the
    lines parse_line reads. A list column's filter is its values' filter, the row mask repeated by list length
    (Arrow's filter of a list column gathers its values by index: 1.9 against 1.5 ms for both id lists of a
    block of 40,000 regional lines, 5 % of them rejects; the whole filter 3.1 against 2.6 ms). It pays where
    most rows are kept, as in a block: keeping 5 % or 50 % of a block's 40,000 events it took 1.46 and 3.62 ms
    against the batch's own filter's 0.41 and 2.17, so ingest.rows_where keeps Arrow's."""
    mask = pa.array(kept)
    columns = [
        _lists_kept(column.chunk(0), kept) if pa.types.is_list(column.type) else column.chunk(0).filter(mask)
        for column in table.columns
    ]
    return pa.Table.from_arrays(columns, schema=table.schema)


def _lists_kept(lists: pa.ListArray, kept: np.ndarray) -> pa.ListArray:
    if lists.null_count:  # id_lists makes none: an empty list is its offsets alone
        return lists.filter(pa.array(kept))
    offsets = lists.offsets.to_numpy()
    lengths = np.diff(offsets)
    values = lists.values.slice(offsets[0], offsets[-1] - offsets[0])
    values = values.filter(pa.array(np.repeat(kept, lengths)))
    kept_offsets = np.zeros(np.count_nonzero(kept) + 1, np.int32)
    np.cumsum(lengths[kept], out=kept_offsets[1:])
    return pa.ListArray.from_arrays(pa.array(kept_offsets), values)


def _decoded(lines: list[bytes]) -> tuple[list[_Fields], dict[int, int]]:
    """Each line's fields, msgspec mapped over the lines (C code, no Python step per line); the lines it
    could not read, by index, with why (OTHER_SHAPE, MALFORMED or CUT_SHORT). Such a line stops the map: it
    takes its place as _UNREAD, and the map goes on from the next line."""
    decoded: list[_Fields] = []
    failed: dict[int, int] = {}
    rest = iter(lines)
    while True:
        try:
            decoded.extend(map(_decode, rest))  # what was read before a failure stays in `decoded`
            return decoded, failed
        except (msgspec.ValidationError, RecursionError):
            failed[len(decoded)] = OTHER_SHAPE
        except msgspec.DecodeError as error:  # the JSON itself (a skipped field's syntax is checked too)
            failed[len(decoded)] = CUT_SHORT if str(error) == CUT_SHORT_ERROR else MALFORMED
        decoded.append(_UNREAD)


def _raw_texts(raws: list[msgspec.Raw]) -> pa.LargeStringArray:
    """The texts as one Arrow column, without a Python object per value; a text that is not UTF-8 becomes "",
    a form no reader takes (msgspec does not check the UTF-8 of a value it keeps raw)."""
    offsets = np.zeros(len(raws) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, raws), np.int64, len(raws)), out=offsets[1:])
    texts = _binary_column(offsets, b"".join(raws))
    try:
        return texts.cast(pa.large_string())
    except pa.ArrowInvalid:
        return pa.array([_utf8_or_empty(raw) for raw in raws], pa.large_string())


def _binary_column(offsets: np.ndarray, data: bytes) -> pa.LargeBinaryArray:
    """Values data[offsets[i]:offsets[i + 1]], over `data` itself (no copy)."""
    buffers = [None, pa.py_buffer(offsets.astype(np.int64)), pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.large_binary(), len(offsets) - 1, buffers)


def _utf8_or_empty(raw: msgspec.Raw | bytes) -> str:
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return ""


def _whole_lines_readable(text: bytes, lines: list[bytes]) -> np.ndarray:
    """Per line of `text` (`lines`: Block.lines, each but the last with its `\\n`): not empty, UTF-8
    throughout, and no `\\u` escape of a surrogate (one of a pair, or a lone one) anywhere: parse_line
    decides on those, field by field. Where each line starts comes from the lengths of `lines`, not from a
    search of the text for newlines (820 instructions a regional line)."""
    lengths = np.fromiter(map(len, lines), np.int64, len(lines))
    starts = np.concatenate([[0], np.cumsum(lengths[:-1])])
    lengths[:-1] -= 1  # their `\\n`
    readable = lengths > 0
    if not text.isascii():
        try:
            _binary_column(np.append(starts, len(text)), text).cast(pa.large_string())
        except pa.ArrowInvalid:
            readable &= [_utf8_or_empty(line) != "" for line in text.split(b"\n")]
    # a one-byte search first: memchr, 0.008 s per 100 MB, where the two-byte one takes 0.11 s (CPython's
    # search of a two-byte needle), and most exports hold no backslash at all
    if b"\\" in text and b"\\u" in text:
        escapes = [found.start() for found in _SURROGATE_ESCAPES(text)]
        readable[np.searchsorted(starts, escapes, side="right") - 1] = False
    return readable


def _event_ids(texts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """`_id` as a string or {"$oid": …}, and whether the fast path read it (no escape, no space)."""
    is_text = pc.match_substring_regex(texts, EVENT_ID_TEXT)
    is_oid = pc.match_substring_regex(texts, EVENT_ID_OID)
    text = pc.utf8_slice_codeunits(texts, 1, -1)
    oid = pc.utf8_slice_codeunits(texts, len(_OID_START) + 1, -len(_OID_END) - 1)
    ids = pc.if_else(is_text, text, oid).cast(pa.string())
    return ids, _numpy(pc.or_(is_text, is_oid))


@dataclass
class IdLists:
    """`structures` or `classes` read from their texts: `lists` where `valid`, else empty."""

    lists: pa.ListArray
    strings: np.ndarray  # an array of strings without escapes, null, or absent: parse_line's list forms
    valid: np.ndarray  # ... of ids of the SPEC's alphabet (else a bad_id reject)
    twice: np.ndarray  # ... with an id listed twice (valid: parse_line keeps it once; the fast path does not)


def id_lists(texts: pa.Array) -> IdLists:
    """`structures` / `classes` as lists of ids, and what the fast path knows of each text."""
    valid = _numpy(pc.match_substring_regex(texts, ID_LIST_FORMS))
    strings = valid.copy()
    others = np.flatnonzero(~valid)  # few: the second pattern only reads them
    if len(others):
        strings[others] = _numpy(pc.match_substring_regex(texts.take(others), STRING_LIST_FORMS))
    inner = pc.utf8_slice_codeunits(pc.if_else(valid, texts, _EMPTY), 2, -2)
    nothing = pa.scalar(None, inner.type)
    lists = pc.split_pattern(pc.if_else(pc.equal(inner, _EMPTY), nothing, inner), _ID_SEPARATOR)
    # a row without ids is a null the split left empty: its offsets alone make it [] (fill_null took 2-4 ms a
    # column for a block of 40,000 lines, this 0.05)
    lists = pa.ListArray.from_arrays(lists.offsets, lists.values.cast(pa.string()))
    return IdLists(lists, strings, valid, _listed_twice(lists))


def _listed_twice(lists: pa.ListArray) -> np.ndarray:
    """Per row: whether an id appears twice in its list (only lists of two ids or more are looked at: most
    events name one structure and at most one class)."""
    twice = np.zeros(len(lists), bool)
    several = np.flatnonzero(_numpy(pc.fill_null(pc.greater(pc.list_value_length(lists), _INT_1), False)))
    if len(several) == 0:
        return twice
    lists = lists.take(several)
    codes = pc.dictionary_encode(lists.flatten()).indices.to_numpy().astype(np.int64)
    rows = pc.list_parent_indices(lists).to_numpy().astype(np.int64)
    width = int(codes.max()) + 1
    keys = np.sort(rows * width + codes)
    twice[several[keys[1:][keys[1:] == keys[:-1]] // width]] = True
    return twice


def dates_ms(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Epoch milliseconds UTC of each compact `date` text, and whether the fast path read it for certain."""
    is_number = _numpy(pc.match_substring_regex(texts, DATE_NUMBER_FORMS))
    digits = pc.if_else(is_number, pc.ascii_trim(texts, _DATE_NUMBER_WRAPPING), _DIGIT_0)
    ms = digits.cast(pa.int64()).to_numpy(zero_copy_only=False, writable=True)
    iso = np.flatnonzero(_numpy(pc.starts_with(texts, _ISO_START)) & ~is_number)
    ok = is_number.copy()
    if len(iso):
        ms[iso], ok[iso] = _iso_ms(texts.take(iso))
    return ms, ok


def _iso_ms(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A `{"$date": "<ISO 8601>"}` text → epoch milliseconds, and whether it is a time that
    `datetime.fromisoformat` reads (a real calendar day, hours under 24…). A fraction is cut to whole
    milliseconds, as in parse._iso_to_ms."""
    parts, parsed = _iso_parts(texts)
    year, month, day, hour, minute, second = (parts[name] for name in ("y", "mo", "d", "h", "mi", "s"))
    offset_hours, offset_minutes = parts["oh"], parts["om"]
    months = (year - 1970) * 12 + np.clip(month, 1, 12) - 1  # since 1970-01, as NumPy's calendar counts
    first_day = _days_since_1970(months)
    ok = (
        parsed
        & (year >= 1) & (month >= 1) & (month <= 12)
        & (day >= 1) & (day <= _days_since_1970(months + 1) - first_day)
        & (hour <= 23) & (minute <= 59) & (second <= 59)
        & (offset_hours <= 23) & (offset_minutes <= 59)
    )  # fmt: skip
    seconds = (
        (first_day + day - 1) * 86_400
        + hour * 3600 + minute * 60 + second
        - parts["sign"] * (offset_hours * 3600 + offset_minutes * 60)
    )  # fmt: skip
    return seconds * 1000 + parts["f"], ok


def _iso_parts(texts: pa.Array) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The numbers of each ISO text (year `y` … offset minutes `om`; `f`: whole milliseconds; `sign`: ±1),
    and whether the text is of DATE_ISO_FORM: from fixed places for DATE_ISO_FIXED's forms, else from the
    pattern's groups."""
    n = len(texts)
    parts = {name: np.zeros(n, np.int64) for name in _ISO_PARTS}
    parts["sign"][:] = 1
    parsed = _numpy(pc.match_substring_regex(texts, DATE_ISO_FIXED))
    fixed, others = np.flatnonzero(parsed), np.flatnonzero(~parsed)
    found = [(fixed, _fixed_parts(texts.take(fixed)))] if len(fixed) else []
    if len(others):
        numbers, parsed[others] = _pattern_parts(texts.take(others))
        found.append((others, numbers))
    for rows, numbers in found:
        for name, values in numbers.items():
            parts[name][rows] = values
    return parts, parsed


def _fixed_parts(texts: pa.Array) -> dict[str, np.ndarray]:
    """The numbers of texts that are all of DATE_ISO_FIXED's forms, read at their places in the bytes."""
    offsets = np.frombuffer(texts.buffers()[1], np.int64)[texts.offset : texts.offset + len(texts) + 1]
    data = np.frombuffer(texts.buffers()[2], np.uint8)
    starts, lengths = offsets[:-1], np.diff(offsets)

    def number(at: np.ndarray, width: int) -> np.ndarray:
        value = np.zeros(len(starts), np.int64)
        for k in range(width):
            value = value * 10 + data[starts + at + k] - ord("0")
        return value

    parts = {name: number(np.int64(at), width) for name, (at, width) in _FIXED_AT.items() if name != "f"}
    fraction, offset = np.isin(lengths, _WITH_FRACTION), np.isin(lengths, _WITH_OFFSET)
    at, width = _FIXED_AT["f"]
    parts["f"] = number(np.where(fraction, at, 0), width) * fraction  # (a text without one: its first bytes)
    parts["sign"] = np.where(offset & (data[starts + lengths - 8] == ord("-")), -1, 1)
    parts["oh"] = number(lengths - 7, 2) * offset
    parts["om"] = number(lengths - 4, 2) * offset
    return parts


def _pattern_parts(texts: pa.Array) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The numbers of texts by DATE_ISO_FORM's groups, and whether each is of it (else its numbers are 0)."""
    found = pc.extract_regex(texts, DATE_ISO_FORM)
    text = {name: pc.fill_null(found.field(name).cast(pa.string()), _EMPTY) for name in _ISO_PARTS}

    def number(values: pa.Array) -> np.ndarray:
        return pc.if_else(pc.equal(values, _EMPTY), _DIGIT_0, values).cast(pa.int64()).to_numpy()

    parts = {name: number(text[name]) for name in ("y", "mo", "d", "h", "mi", "s", "oh", "om")}
    parts["f"] = number(pc.utf8_slice_codeunits(pc.utf8_rpad(text["f"], 3, "0"), 0, 3))
    parts["sign"] = np.where(_numpy(pc.equal(text["sign"], _MINUS)), -1, 1)
    return parts, _numpy(found.is_valid())


def _days_since_1970(months: np.ndarray) -> np.ndarray:
    """The day number of the 1st of each month, months counted from 1970-01 (proleptic Gregorian)."""
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def _numpy(mask: pa.Array) -> np.ndarray:
    return mask.to_numpy(zero_copy_only=False)


def _nonempty(values: pa.Array) -> pa.Array:
    return pc.fill_null(pc.greater(pc.utf8_length(values), _INT_0), False)


def _merge(events: pa.Table, slow_events: list[tuple[int, Event]]) -> pa.Table:
    indices, parsed = zip(*slow_events)
    columns = [list(c) for c in zip(*parsed)]
    arrays = [pa.array(c, f.type) for c, f in zip(columns, lake_io.EVENT_SCHEMA)]
    slow = pa.Table.from_arrays([*arrays, pa.array(indices, pa.int64())], schema=events.schema)
    merged = pa.concat_tables([events, slow])
    return merged.take(pc.sort_indices(merged.column("index"))).drop_columns(["index"])
