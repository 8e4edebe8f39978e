"""The CSV files of SPEC 3.2: BOM, `;`, every field quoted, CRLF, decimal comma, formula cells prefixed.

The numeric rows are not built cell by cell in Python: the part of a row that depends only on the bucket
and the profile (`"2026-03-01";"Tous";`) is built once per build and shared by every entity; an entity adds
its name cells and its number cells (from a table of the small numbers, the others cast by Arrow), and one
Arrow cast puts them end to end (see `_numeric_rows`).
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Sequence
from datetime import date
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .constants import (
    CSV_FORMULA_PREFIXES,
    CSV_HEAD,
    CSV_TAIL_BY_KIND,
    HOUR_SLOTS,
    INDICATORS,
    PERIODS,
    PROFILE_CODES,
    PROFILE_LABELS,
    WEEKDAYS,
)
from .model import EntityFigures

BOM = "\ufeff".encode()
LINE_END = "\r\n"


def cell(value: object) -> str:
    """One quoted field; numbers with a decimal comma, None empty, formula-looking text neutralised."""
    if value is None:
        text = ""
    elif isinstance(value, float):
        text = f"{value:.2f}".replace(".", ",")
    else:
        text = str(value)
    if text.startswith(CSV_FORMULA_PREFIXES):
        text = "'" + text
    return '"' + text.replace('"', '""') + '"'


def entity_csvs(figures: EntityFigures) -> dict[str, bytes]:
    """File name → bytes, for every CSV of one entity.

    The numeric files (series, hours, weekdays) are built together, as one text (`_numeric_rows`) cut into
    files at their row bounds.
    """
    entity = figures.entity
    head = ";".join(cell(v) for v in (entity.structure_name, entity.uai, entity.class_name)) + ";"
    blocks: list[tuple[str, bytes, tuple, np.ndarray]] = []  # (file, header, its rows' layout, values)
    files: dict[str, bytes] = {}
    for indicator in INDICATORS:
        header = _header(indicator.kind, indicator.value_label)
        if indicator.kind == "series":
            for grouping, series in figures.series[indicator.id].items():
                blocks.append(
                    (indicator.csv_name(grouping), header, tuple(series.labels), series.values.ravel())
                )
        elif indicator.kind == "apps":
            for period in PERIODS:
                files[indicator.csv_name(period)] = header + _apps_lines(head, figures.apps[period])
        else:
            table = figures.hours if indicator.kind == "hours" else figures.weekdays
            for period in PERIODS:
                counts = np.array([table[period][code] for code in PROFILE_CODES], dtype=np.int64).ravel()
                blocks.append((indicator.csv_name(period), header, (indicator.kind,), counts))
    text, bounds = _numeric_rows(head, blocks)
    for (name, header, _layout, _values), (first, last) in zip(blocks, itertools.pairwise(bounds)):
        files[name] = header + text[first:last]
    return {indicator_file: files[indicator_file] for indicator_file in _file_order()}


# Arrow scalars made once: a Python str given to a compute function costs ~70 µs to convert (pyarrow tries
# to import dateutil for it each time), more than the call itself on one entity's rows
_ROW_END = pa.scalar('"' + LINE_END, pa.string())  # a number cell's closing quote and the line's end
_NOTHING = pa.scalar("", pa.string())
_DECIMAL_COMMA = pa.scalar(",", pa.string())


@lru_cache(maxsize=1)
def _file_order() -> tuple[str, ...]:
    """Every file name, in the order of INDICATORS (series by grouping, the others by period)."""
    return tuple(i.csv_name(choice) for i in INDICATORS for choice in i.choices)


# ------------------------------------------------------------------------------------- shared per build
@lru_cache(maxsize=16)
def _header(kind: str, value_label: str) -> bytes:
    names = (*CSV_HEAD, *CSV_TAIL_BY_KIND[kind], value_label)
    return BOM + (";".join(cell(v) for v in names) + LINE_END).encode()


_PROFILE_CELLS = [cell(PROFILE_LABELS[code]) + ";" for code in PROFILE_CODES]


@lru_cache(maxsize=16)
def _bucket_profile_cells(labels: tuple[date, ...]) -> pa.Array:
    """`"<date>";"<profile>";` of every row of a time series: bucket after bucket, profiles inside."""
    return pa.array([f'"{day.isoformat()}";{profile}' for day in labels for profile in _PROFILE_CELLS])


@lru_cache(maxsize=4)
def _profile_slot_cells(kind: str) -> pa.Array:
    """`"<profile>";"<slot or weekday>";` of every row of an hours or weekdays file: profile after profile."""
    slots = HOUR_SLOTS if kind == "hours" else WEEKDAYS
    return pa.array([profile + cell(slot) + ";" for profile in _PROFILE_CELLS for slot in slots])


# ------------------------------------------------------------------------------------------- one entity
# The numeric rows are put together as Arrow string views (16 bytes each: a length, then the text inline
# when it is 12 bytes or less, else a reference into a buffer), three per row: the entity's name cells, the
# row's shared cells, its number cell. Casting the views to a plain string array copies their texts end to
# end in C: that is the files' text. An entity's work is NumPy on 16-byte records, not a string kernel per
# row: the number cells come from a table of every count and every ratio (in hundredths) below
# NUMBER_TABLE_SIZE, and only larger values are cast to text.
NUMBER_TABLE_SIZE = 1 << 16
_INLINE_BYTES = 12  # the longest text a view holds in itself (Arrow's BinaryView layout)
_VIEW = np.dtype("V16")  # a view as opaque bytes: NumPy copies and gathers them whole


def _numeric_rows(
    head: str, blocks: list[tuple[str, bytes, tuple, np.ndarray]]
) -> tuple[memoryview, np.ndarray]:
    """The rows of every numeric file, end to end, and each file's bounds in that text."""
    shared, shared_buffers, row_bounds = _row_starts(tuple(layout for _, _, layout, _ in blocks))
    values = [values for *_, values in blocks]
    ratio = np.repeat([v.dtype.kind == "f" for v in values], [len(v) for v in values])
    numbers, number_buffers = _cell_views(
        np.concatenate(values, dtype=np.float64), ratio, len(shared_buffers)
    )
    buffers = [*shared_buffers, *number_buffers]
    encoded_head = head.encode()
    views = np.empty((len(shared), 3), dtype=_VIEW)
    views[:, 0] = _view_of(encoded_head, len(buffers))
    views[:, 1] = shared
    views[:, 2] = numbers
    pieces = pa.Array.from_buffers(
        pa.string_view(), views.size, [None, pa.py_buffer(views), *buffers, pa.py_buffer(encoded_head)]
    )
    rows = pc.cast(pieces, pa.string())
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32, count=views.size + 1)
    return memoryview(rows.buffers()[2]), offsets[row_bounds * 3]


@lru_cache(maxsize=4)
def _row_starts(layouts: tuple[tuple, ...]) -> tuple[np.ndarray, tuple[pa.Buffer, ...], np.ndarray]:
    """What every entity's numeric rows share in a build, as views: each row's cells before its number, with
    the number's opening quote (`"2026-03-01";"Tous";"`); their buffers; each file's row bounds. A layout is
    a series' bucket labels, or `("hours",)` / `("weekdays",)`."""
    parts = [
        _profile_slot_cells(layout[0]) if isinstance(layout[0], str) else _bucket_profile_cells(layout)
        for layout in layouts
    ]
    bounds = np.cumsum([0] + [len(part) for part in parts])
    views, buffers = _views(pc.binary_join_element_wise(pa.concat_arrays(parts), '"', _NOTHING), 0)
    views.flags.writeable = False  # shared by every entity of the build, as are the buffers (a tuple)
    return views, tuple(buffers), bounds


def _cell_views(
    values: np.ndarray, ratio: np.ndarray, first_buffer: int
) -> tuple[np.ndarray, list[pa.Buffer]]:
    """The number cells with their row end (`12"` CRLF, `1,50"` CRLF) as views, and their buffers: counts as
    integers, ratios (where `ratio`; floats of two decimals) with a decimal comma, empty where NaN. Counts
    are exact as floats (far below 2**53)."""
    scaled = np.where(ratio, np.rint(values * 100), values)
    inside = (scaled >= 0) & (scaled < NUMBER_TABLE_SIZE)  # False for NaN
    index = np.where(inside, scaled + ratio * NUMBER_TABLE_SIZE, 2 * NUMBER_TABLE_SIZE).astype(np.intp)
    views = _number_table()[index]
    buffers: list[pa.Buffer] = []
    for kind in (False, True):  # the values past the table, counts then ratios, cast to text by Arrow
        beyond = ~inside & ~np.isnan(scaled) & (ratio == kind)
        if beyond.any():
            views[beyond], more = _views(_cell_texts(scaled[beyond].astype(np.int64), kind), first_buffer)
            buffers += more
            first_buffer += len(more)
    return views, buffers


@lru_cache(maxsize=1)
def _number_table() -> np.ndarray:
    """Views of the number cells of the counts 0…NUMBER_TABLE_SIZE - 1, then of the ratios 0,00…, then of
    the empty ratio: all short enough to be held inline (no buffer)."""
    numbers = np.arange(NUMBER_TABLE_SIZE, dtype=np.int64)
    texts = pa.concat_arrays(
        [_cell_texts(numbers, False), _cell_texts(numbers, True), pa.array([_ROW_END.as_py()])]
    )
    views, buffers = _views(texts, 0)
    assert not buffers, "every cell of the table is held inline"
    views.flags.writeable = False
    return views


def _cell_texts(numbers: np.ndarray, ratio: bool) -> pa.Array:
    """Counts, or ratios in hundredths (`150` → `1,50`), as number cells with the row's end."""
    if ratio:
        units, cents = np.divmod(numbers, 100)
        cents_text = pc.utf8_lpad(pc.cast(pa.array(cents), pa.string()), 2, "0")
        texts = pc.binary_join_element_wise(pc.cast(pa.array(units), pa.string()), cents_text, _DECIMAL_COMMA)
    else:
        texts = pc.cast(pa.array(numbers), pa.string())
    return pc.binary_join_element_wise(texts, _ROW_END, _NOTHING)


def _views(texts: pa.Array, first_buffer: int) -> tuple[np.ndarray, list[pa.Buffer]]:
    """`texts` as string views, their buffer references counted from `first_buffer`; and those buffers."""
    cast = pc.cast(texts, pa.string_view())
    buffers = cast.buffers()
    fields = np.frombuffer(buffers[1], dtype=np.int32).reshape(-1, 4)[cast.offset : cast.offset + len(cast)]
    fields = fields.copy()
    fields[fields[:, 0] > _INLINE_BYTES, 2] += first_buffer
    return fields.view(_VIEW).ravel(), [buffer for buffer in buffers[2:] if buffer is not None]


def _view_of(text: bytes, buffer: int) -> np.ndarray:
    """One text's view (16 bytes: its length, then the text inline, or its first 4 bytes, the buffer that
    holds it whole and its offset there, 0)."""
    if len(text) <= _INLINE_BYTES:
        record = struct.pack("<i12s", len(text), text)
    else:
        record = struct.pack("<i4sii", len(text), text[:4], buffer, 0)
    return np.frombuffer(record, dtype=_VIEW)[0]


def _apps_lines(head: str, apps: dict[str, Sequence[tuple[str, int]]]) -> bytes:
    """Per profile, every module with its count (a few rows per entity: built in Python)."""
    rows = [
        f'{head}{profile}{_name_cell(name)};"{count}"{LINE_END}'
        for code, profile in zip(PROFILE_CODES, _PROFILE_CELLS)
        for name, count in apps[code]
    ]
    return "".join(rows).encode()


@lru_cache(maxsize=1 << 14)
def _name_cell(name: str) -> str:
    return cell(name)
