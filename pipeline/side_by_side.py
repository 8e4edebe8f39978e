"""SPEC 3.5, side by side: the platform's structures and each structure's classes, a row per entity (its
seven tiles and the changes of the four compared ones), as a page with a sortable, filterable table and as a
CSV in the format of SPEC 3.2.

Pure text from the tile table (indicator_tables.TileTable): `pipeline.writer` writes the files, with the
rest of the platform's or the structure's files. Rows come in `listings` order: the name with accents and
case ignored, then the id.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from . import render
from .constants import (
    COMPARED,
    CSV_HEAD,
    INDICATORS,
    INDICATORS_BY_ID,
    PERIOD_WORDS,
    SIDE_BY_SIDE,
    WEEKDAYS,
)
from .csv_export import BOM, LINE_END, cell
from .indicator_tables import TileTable
from .model import CLASS, PLATFORM, STRUCTURE, Comparison, Entity

NOUNS = {STRUCTURE: ("établissement", "établissements"), CLASS: ("classe", "classes")}
# rows per <tbody>: a group off screen is neither styled, laid out nor painted (content-visibility), so
# that 3,000 rows load in about the time of their parsing
CHUNK_ROWS = 100
EMPTY = {
    STRUCTURE: "Aucun établissement n'a de pages.",
    CLASS: "Aucune classe de cet établissement n'a de pages.",
}
CSV_HEADER = (
    *CSV_HEAD,
    *(i.label for i in INDICATORS),
    *(f"{INDICATORS_BY_ID[tile].label} un an avant" for tile in COMPARED),
)


def collation_key(name: str) -> str:
    """A name with accents and case ignored: `École` sorts between `Collège` and `Lycée`."""
    decomposed = unicodedata.normalize("NFD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def listings(entities: list[Entity]) -> dict[int, list[int]]:
    """For the platform and every structure (their index), the indices of the entities their page lists
    (structures; the structure's classes), in order. Every structure has one, even without classes."""
    structures = {e.id: i for i, e in enumerate(entities) if e.kind == STRUCTURE}
    listed: dict[int, list[int]] = {i: [] for i, e in enumerate(entities) if e.kind in SIDE_BY_SIDE}
    platform = next((i for i, e in enumerate(entities) if e.kind == PLATFORM), None)
    for i, entity in enumerate(entities):
        if entity.kind == STRUCTURE and platform is not None:
            listed[platform].append(i)
        elif entity.kind == CLASS and entity.structure_id in structures:
            listed[structures[entity.structure_id]].append(i)
    order = lambda i: (collation_key(entities[i].name), entities[i].id)
    return {owner: sorted(rows, key=order) for owner, rows in listed.items()}


@dataclass(frozen=True)
class Row:
    entity: Entity
    values: dict[str, object]  # tile values by indicator id
    before: dict[str, Comparison]  # the compared tiles' year before


def rows_of(tiles: TileTable, entities: list[Entity], indices: list[int]) -> list[Row]:
    return [Row(entities[i], tiles.values(i), tiles.before(i)) for i in indices]


# ------------------------------------------------------------------------------------------------ CSV
def csv_bytes(rows: list[Row]) -> bytes:
    """SPEC 3.5's CSV: the header, then a row per entity; empty where a tile shows `—` or the year before
    is not covered."""
    lines = [";".join(cell(name) for name in CSV_HEADER)]
    for row in rows:
        entity = row.entity
        values = [row.values[i.id] for i in INDICATORS] + [row.before[tile].value for tile in COMPARED]
        lines.append(
            ";".join(cell(v) for v in (entity.structure_name, entity.uai, entity.class_name, *values))
        )
    return BOM + "".join(line + LINE_END for line in lines).encode()


# ----------------------------------------------------------------------------------------------- page
def columns(kind_listed: str) -> list[dict[str, Any]]:
    """The table's columns: the name, the UAI (structures), then each tile and, after a compared one, its
    change. `type` says how the page script sorts it, and the style sheet aligns it (text to the left):
    `text`, `number` (read from the cell as shown: `12 345`, `4,50`, `+12 %`, `nouveau` above every change,
    `18h-19h` by its hour) or `weekday`."""
    name = "Établissement" if kind_listed == STRUCTURE else "Classe"
    out: list[dict[str, Any]] = [{"label": name, "type": "text", "filter": True}]  # the filter reads these
    if kind_listed == STRUCTURE:
        out.append({"label": "UAI", "type": "text", "filter": True})
    for indicator in INDICATORS:
        kind = {"apps": "text", "weekdays": "weekday"}.get(indicator.kind, "number")
        out.append({"label": indicator.label, "period": PERIOD_WORDS[indicator.tile_period], "type": kind})
        if indicator.id in COMPARED:
            hidden = f" : évolution, {indicator.label.lower()}"
            out.append({"label": "Sur un an", "hidden": hidden, "type": "number"})
    return out


def _cells(row: Row) -> list[str]:
    """The text of each tile and change cell, in `columns` order (`—` where there is none)."""
    out: list[str] = []
    for indicator in INDICATORS:
        out.append(render.tile_text(row.values[indicator.id]))
        if indicator.id in COMPARED:
            change = row.before[indicator.id].change
            out.append("—" if change is None else render.change_text(change))
    return out


def count_text(total: int, kind_listed: str) -> str:
    """`3 000 établissements`, `1 classe` (the page script writes `12 établissements sur 3 000`)."""
    singular, plural = NOUNS[kind_listed]
    return f"{render.tile_text(total)} {singular if total == 1 else plural}"


def page_html(pages: render.Pages, owner: Entity, rows: list[Row], as_of: str) -> str:
    """The side-by-side page of `owner` (the platform or a structure), in its folder."""
    _page, csv_name, kind_listed, title = SIDE_BY_SIDE[owner.kind]
    table_rows = [
        {
            "name": row.entity.name,
            "href": render.relative(owner.path, row.entity.path + "/index.html"),
            "uai": row.entity.uai,
            "cells": _cells(row),
        }
        for row in rows
    ]
    singular, plural = NOUNS[kind_listed]
    return pages.compare_page(
        owner,
        title=title,
        csv_name=csv_name,
        columns=columns(kind_listed),
        rows=table_rows,
        with_uai=kind_listed == STRUCTURE,
        count=count_text(len(rows), kind_listed),
        nouns=f"{singular}|{plural}",
        empty=EMPTY[kind_listed],
        weekdays="|".join(WEEKDAYS),
        chunk_rows=CHUNK_ROWS,
        as_of=as_of,
    )
