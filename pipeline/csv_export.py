"""The CSV files of SPEC 3.2: BOM, `;`, every field quoted, CRLF, decimal comma, formula cells prefixed.

The rows of a file are built as Arrow string columns, not cell by cell in Python: the part of a row that
depends only on the bucket and the profile (`"2026-03-01";"Tous";`) is built once per build and shared by
every entity; an entity adds its name cells and its numbers, cast to text by Arrow.
"""

from __future__ import annotations

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

    The numeric files (series, hours, weekdays) are built together: their rows are one Arrow string column
    (shared prefixes + the entity's name cells + its numbers as text), cut into files at their row bounds.
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
    row_starts, bounds = _row_starts(tuple(layout for _, _, layout, _ in blocks))
    numbers = _number_texts([values for *_, values in blocks])
    rows = pc.binary_join_element_wise(row_starts, numbers, _END, _NOTHING)
    # each file's rows joined by the entity's name cells (row, head, row, head, …): one Arrow call in all
    bodies = pc.binary_join(pa.ListArray.from_arrays(bounds, rows), pa.scalar(head, pa.string()))
    data, offsets = _buffer(bodies)
    encoded_head = head.encode()
    for k, (name, header, _layout, values) in enumerate(blocks):
        body = data[offsets[k] : offsets[k + 1]]
        files[name] = b"".join((header, encoded_head, body)) if len(values) else header
    return {indicator_file: files[indicator_file] for indicator_file in _file_order()}


@lru_cache(maxsize=4)
def _row_starts(layouts: tuple[tuple, ...]) -> tuple[pa.Array, pa.Array]:
    """What every entity's numeric rows share in a build, end to end: each row's cells before its number,
    with the number's opening quote (`"2026-03-01";"Tous";"`); and each file's row bounds. A layout is a
    series' bucket labels, or `("hours",)` / `("weekdays",)`."""
    parts = [
        _profile_slot_cells(layout[0]) if isinstance(layout[0], str) else _bucket_profile_cells(layout)
        for layout in layouts
    ]
    bounds = np.cumsum([0] + [len(part) for part in parts], dtype=np.int32)
    return pc.binary_join_element_wise(pa.concat_arrays(parts), '"', _NOTHING), pa.array(bounds)


# Arrow scalars made once: a Python str given to a compute function costs ~70 µs to convert (pyarrow tries
# to import dateutil for it each time), more than the call itself on one entity's rows
_END = pa.scalar('"' + LINE_END, pa.string())
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
def _number_texts(blocks: list[np.ndarray]) -> pa.Array:
    """The blocks' values as cell texts, in order: counts as integers, ratios (floats of two decimals)
    with a decimal comma and empty where NaN. One Arrow cast per kind, not one per value."""
    counts = [b for b in blocks if b.dtype.kind != "f"]
    ratios = [b for b in blocks if b.dtype.kind == "f"]
    count_texts = pc.cast(pa.array(np.concatenate(counts)), pa.string()) if counts else None
    ratio_texts = _ratio_texts(np.concatenate(ratios)) if ratios else None
    parts, taken = [], {"i": 0, "f": 0}
    for block in blocks:
        kind = "f" if block.dtype.kind == "f" else "i"
        source = ratio_texts if kind == "f" else count_texts
        parts.append(source.slice(taken[kind], len(block)))
        taken[kind] += len(block)
    return pa.concat_arrays(parts)


def _ratio_texts(values: np.ndarray) -> pa.Array:
    empty = np.isnan(values)
    units, cents = np.divmod(np.rint(np.where(empty, 0, values) * 100).astype(np.int64), 100)
    units_text = pc.cast(pa.array(units), pa.string())
    cents_text = pc.utf8_lpad(pc.cast(pa.array(cents), pa.string()), 2, "0")
    return pc.if_else(
        pa.array(empty), _NOTHING, pc.binary_join_element_wise(units_text, cents_text, _DECIMAL_COMMA)
    )


def _buffer(lines: pa.Array) -> tuple[bytes, np.ndarray]:
    """A string array's UTF-8 data and its value offsets (value k is data[offsets[k]:offsets[k + 1]])."""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4)
    return lines.buffers()[2].to_pybytes(), offsets


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
