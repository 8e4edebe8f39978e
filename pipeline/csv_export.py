"""The CSV files of SPEC 3.2: BOM, `;`, every field quoted, CRLF, decimal comma, formula cells prefixed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from functools import lru_cache

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

BOM = "\ufeff"


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


@lru_cache(maxsize=1 << 16, typed=True)  # typed: 0 and 0.0 are different cells; most cells repeat
def number_cell(value: float | int | None) -> str:
    """`cell` for a count or a ratio, without the text checks a number never needs."""
    if value is None:
        return '""'
    if isinstance(value, float):
        return '"' + f"{value:.2f}".replace(".", ",") + '"'
    return f'"{value}"'


@lru_cache(maxsize=4096)
def _date_cell(day: date) -> str:
    return f'"{day.isoformat()}"'


def entity_csvs(figures: EntityFigures) -> dict[str, str]:
    """File name → text, for every CSV of one entity. Cells that repeat (names, labels) are quoted once."""
    entity = figures.entity
    head = ";".join(cell(v) for v in (entity.structure_name, entity.uai, entity.class_name))
    profiles = [(code, cell(PROFILE_LABELS[code]) + ";") for code in PROFILE_CODES]
    files = {}
    for indicator in INDICATORS:
        header = (*CSV_HEAD, *CSV_TAIL_BY_KIND[indicator.kind], indicator.value_label)
        if indicator.kind == "series":
            for grouping, buckets in figures.series[indicator.id].items():
                lines = [
                    start + profile + number_cell(values[code])
                    for label, values in buckets
                    for start in (f"{head};{_date_cell(label)};",)
                    for code, profile in profiles
                ]
                files[indicator.csv_name(grouping)] = _join(header, lines)
            continue
        for period in PERIODS:
            lines = [
                f"{head};{profile}{cell(name)};{cell(count)}"
                for code, profile in profiles
                for name, count in _pairs(figures, indicator.kind, period, code)
            ]
            files[indicator.csv_name(period)] = _join(header, lines)
    return files


def _join(header: Sequence[str], lines: list[str]) -> str:
    return BOM + "\r\n".join([";".join(cell(v) for v in header), *lines]) + "\r\n"


def _pairs(figures: EntityFigures, kind: str, period: str, code: str) -> Iterable[tuple[str, int]]:
    if kind == "apps":
        return figures.apps[period][code]
    if kind == "hours":
        return zip(HOUR_SLOTS, figures.hours[period][code])
    return zip(WEEKDAYS, figures.weekdays[period][code])
