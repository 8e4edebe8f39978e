"""The texts of the static site's pages, data scripts, summary.json and assets (Jinja2, autoescaped).

Pure text: `pipeline.writer` writes the files. What is built once per build: the templates, the chart
specifications (pipeline.charts), the indicator panels of the detail pages (they hold no figures) and the
shared assets (content-hashed names). What is rendered per entity: `data.js` (its figures, once, in its own
folder), `index.html` (the seven tiles) and one detail page per indicator.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from .constants import (
    CHANGE_NEW,
    CHANGE_NEW_WORD,
    COMPARED,
    DAY_WINDOWS,
    DEFAULT_DAY_WINDOW,
    DEFAULT_GROUPING,
    DEFAULT_PERIOD,
    GROUPING_LABELS,
    GROUPINGS,
    INDICATORS,
    MONTH_NAMES,
    PERIOD_WORDS,
    PERIODS,
    PLATFORM_NAME,
    PROFILE_CODES,
    PROFILES,
    RUNS_PAGE,
    RUNS_TITLE,
    SIDE_BY_SIDE,
    Indicator,
)
from .holidays import Holiday, HolidayZones
from .model import CLASS, PLATFORM, STRUCTURE, Comparison, Entity, EntityFigures

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
KIND_WORDS = {PLATFORM: "Plateforme", STRUCTURE: "Établissement", CLASS: "Classe"}
_JS_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


class _UnindentedLoader(FileSystemLoader):
    """The templates without their lines' indentation: fewer bytes per page (about 6 %), the same pages
    (no <pre> or <textarea> in them, where leading spaces would show)."""

    def get_source(self, environment: Environment, template: str):
        source, filename, uptodate = super().get_source(environment, template)
        return re.sub(r"(?m)^[ \t]+", "", source), filename, uptodate


_env = Environment(
    loader=_UnindentedLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def relative(from_folder: str, to_path: str) -> str:
    """A link from a page in `from_folder` (site-relative) to `to_path` (site-relative), for file:// too."""
    return os.path.relpath(to_path, from_folder or ".").replace(os.sep, "/")


def summary_json(figures: EntityFigures, zone: str, holidays: tuple[Holiday, ...]) -> str:
    """summary.json; `holidays`: those of the entity's `zone` over the `12months` period (SPEC 2.6)."""
    entity = figures.entity
    tiles: dict[str, dict[str, Any]] = {
        i.id: {"value": figures.tiles[i.id], "period": i.tile_period} for i in INDICATORS
    }
    for tile, before in figures.before.items():
        tiles[tile]["before"] = {
            "value": before.value,
            "from": before.first.isoformat(),
            "to": before.last.isoformat(),
        }
        tiles[tile]["change"] = before.change
    data = {
        "tiles": tiles,
        "entity": {
            "kind": entity.kind,
            "id": entity.id,
            "name": entity.name,
            "uai": entity.uai,
            "structure_id": entity.structure_id,
        },
        "as_of": figures.as_of.isoformat(),
        "periods": {
            p: {"first": d.isoformat(), "last": figures.as_of.isoformat()}
            for p, d in figures.period_starts.items()
        },
        "visitors": figures.visitors,
    }
    return json.dumps(data, ensure_ascii=False, indent=1).removesuffix("\n}") + _holidays_json(zone, holidays)


@lru_cache(maxsize=8)  # one text per zone in a build, shared by its entities
def _holidays_json(zone: str, holidays: tuple[Holiday, ...]) -> str:
    """summary.json's last member, `holidays`, one line per holiday: a year's ~7 in ~520 bytes, where
    json.dumps's indent would take ~900 of an entity's 100 KB."""
    lines = ",\n".join("  " + json.dumps(h.as_json(), ensure_ascii=False) for h in holidays)
    periods = f"[\n{lines}\n ]" if holidays else "[]"
    return f',\n "holidays": {{"zone": {json.dumps(zone)}, "periods": {periods}}}\n}}'


# Text ------------------------------------------------------------------------------------------------
def js_json(value: object) -> str:
    """JSON that is safe inside a <script> element or a .js file: no `<`, `>`, `&`, U+2028, U+2029."""
    return script_safe(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def script_safe(text: str) -> str:
    """JSON text with `<`, `>`, `&`, U+2028 and U+2029 escaped: it cannot end or open a tag in a script."""
    for raw, escaped in _JS_ESCAPES:
        if raw in text:
            text = text.replace(raw, escaped)
    return text


def date_words(day: date) -> str:
    """`1er mars 2026`, `31 mars 2026`."""
    return f"{'1er' if day.day == 1 else day.day} {MONTH_NAMES[day.month - 1]} {day.year}"


def span_words(first: date, last: date) -> str:
    """`du 2 mars au 1er avril 2025`; both years when they differ."""
    start = date_words(first) if first.year != last.year else date_words(first).rsplit(" ", 1)[0]
    return f"du {start} au {date_words(last)}"


def change_text(change: int | str) -> str:
    """`+12 %`, `−5 %` (a minus sign), `0 %`, `nouveau`."""
    if change == CHANGE_NEW:
        return CHANGE_NEW_WORD
    assert isinstance(change, int)
    sign = "+" if change > 0 else "\u2212" if change < 0 else ""
    return f"{sign}{abs(change)}\u202f%"


def change_html(before: Comparison | None) -> Markup:
    """A tile's change to the year before: the figure, and in words (a tooltip, and for screen readers)
    what it compares with; nothing when there is no change to show."""
    if before is None or before.change is None:
        return Markup("")
    versus = f"contre {tile_text(before.value)} {span_words(before.first, before.last)}"
    if before.change == CHANGE_NEW:
        direction, words = "new", "nouveau"
    else:
        direction = "up" if before.change > 0 else "down" if before.change < 0 else "same"
        words = {"up": "en hausse de ", "down": "en baisse de ", "same": "stable, "}[direction]
        words += f"{abs(before.change)}\u202f%"
    return Markup(
        '<p class="tile-change" title="{}"><span class="change change-{}" aria-hidden="true">{}</span>'
        '<span aria-hidden="true"> sur un an</span>'
        '<span class="visually-hidden">Sur un an : {}, {}</span></p>'
    ).format(versus, direction, change_text(before.change), words, versus)


def tile_text(value: object) -> str:
    """A tile's value as the page shows it: `1 234` (narrow no-break space), `4,50`, a name, or `—`."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float):
        return f"{value:,.2f}".replace(",", "\u202f").replace(".", ",")
    return f"{value:,}".replace(",", "\u202f")


# A structure with events but absent from structures.csv has no name: its pages say why they show its id
ABSENT_STRUCTURE_NOTE = "Établissement absent de l'annuaire : il est nommé par son identifiant."


def entity_note(text: str) -> Markup:
    """The note under a page's title (a reason the entity is shown as it is)."""
    return Markup('<p class="entity-note">{}</p>').format(text)


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def root_index(entities: list[Entity], assets: dict[str, str]) -> str:
    """SITE/index.html: the platform and the structures, names and links only (no figures)."""
    return _env.get_template("root_index.html").render(
        structures=[e for e in entities if e.kind == STRUCTURE],
        assets={k: "assets/" + v for k, v in assets.items()},
    )


# Per-entity data -------------------------------------------------------------------------------------
def entity_data(figures: EntityFigures, classes: list[list[str]], zone: str) -> dict[str, Any]:
    """The entity's figures in the compact shape the page script reads (profiles in PROFILES order), and its
    holiday zone (the holidays themselves are in STATS_CONFIG, the same for every entity)."""
    entity = figures.entity
    series: dict[str, dict[str, Any]] = {}
    for indicator in INDICATORS:
        if indicator.kind != "series" or indicator.ratio:
            continue  # the page script divides RATIO_OF itself, exactly as the CSV writer does
        stored = ("day",) if indicator.summed else GROUPINGS  # the script sums days into weeks and months
        series[indicator.id] = {
            g: {"v": _compact_rows(figures.series[indicator.id][g].values)} for g in stored
        }
    return {
        "entity": {
            "kind": entity.kind,
            "id": entity.id,
            "name": entity.name,
            "structure_id": entity.structure_id,
            "structure_name": entity.structure_name,
        },
        "as_of": figures.as_of.isoformat(),
        "periods": {p: [figures.period_starts[p].isoformat(), figures.as_of.isoformat()] for p in PERIODS},
        "series": series,
        "apps": figures.apps,
        "hours": figures.hours,
        "weekdays": figures.weekdays,
        "classes": classes,
        "zone": zone,
    }


def _compact_rows(values: np.ndarray) -> dict[str, np.ndarray | int]:
    """Each profile's values (a column of `values`), a profile with only zeros as the number 0: most classes
    have no Personnels and no Autres, whose year of days would otherwise be a quarter of their data.js."""
    rows = np.ascontiguousarray(values.T)
    return {code: row if row.any() else 0 for code, row in zip(PROFILE_CODES, rows)}


def data_script(figures: EntityFigures, classes: list[list[str]], zone: str) -> bytes:
    """`window.STATS_DATA=…;`: the figures as JSON (NumPy arrays serialised by orjson, NaN as null), safe
    inside a script like `js_json`."""
    text = orjson.dumps(entity_data(figures, classes, zone), option=orjson.OPT_SERIALIZE_NUMPY).decode()
    return ("window.STATS_DATA=" + script_safe(text) + ";\n").encode()


# Pages -----------------------------------------------------------------------------------------------
def indicator_panel(indicator: Indicator) -> Markup:
    """What of a detail page depends only on the indicator: the chart's card, its table, its export link."""
    return Markup(
        _env.get_template("panel.html").render(
            indicator=indicator, export=indicator.csv_name(indicator.default_choice)
        )
    )


def indicator_controls(indicator: Indicator) -> dict[str, str]:
    """The chart's controls, which only work with the page script: written once into STATS_CONFIG, put in
    place by detail.js (`head` in the card's heading, `series` above the chart), not repeated in every page
    (13 KB of each entity's 43 KB of pages)."""
    controls = _env.get_template("controls.html").module
    series = indicator.kind == "series"
    single = indicator.one_profile
    head = controls.head(
        groupings=[(g, GROUPING_LABELS[g]) for g in GROUPINGS] if series else [],
        default_grouping=DEFAULT_GROUPING,
        windows=[(key, label) for key, (_days, label) in DAY_WINDOWS.items()] if series else [],
        default_window=DEFAULT_DAY_WINDOW,
        periods=[] if series else [(p, capitalised(PERIOD_WORDS[p])) for p in PERIODS],
        default_period=DEFAULT_PERIOD,
    )
    legend = [] if single else (PROFILES if series else PROFILES[1:])
    choice = controls.series(profiles=PROFILES if single else [], legend=legend, holidays=series)
    return {"head": str(head).strip(), "series": str(choice).strip()}


class PageShell:
    """A page rendered once, with a mark (`\\x00field\\x00`) wherever an entity's own text goes. Filling
    the marks with that text, escaped as Jinja escapes it, gives the page Jinja renders for the entity, at
    the cost of one join: no template runs per entity."""

    def __init__(self, text: str) -> None:
        self.parts = text.split(_MARK)  # literal text at even positions, field names at odd ones
        self.fields = self.parts[1::2]

    def fill(self, values: dict[str, str]) -> str:
        parts = self.parts.copy()
        parts[1::2] = [values[name] for name in self.fields]
        return "".join(parts)


_MARK = "\x00"


def _marked(field: str) -> Markup:
    return Markup(f"{_MARK}{field}{_MARK}")


class Pages:
    """An entity's pages, from what every page of the build shares: the page shells of each entity kind,
    the asset names, the classes of each structure (for the switcher), the holiday zones."""

    def __init__(self, entities: list[Entity], assets: dict[str, str], holidays: HolidayZones) -> None:
        self.assets = assets
        self.holidays = holidays
        self.panels = {i.id: indicator_panel(i) for i in INDICATORS}
        self.classes: dict[str, list[list[str]]] = {}
        self.structure_names = {e.id: e.name for e in entities if e.kind == STRUCTURE}
        self.structures_absent = {e.id for e in entities if e.kind == STRUCTURE and not e.in_snapshot}
        for entity in entities:
            if entity.kind == CLASS:
                self.classes.setdefault(entity.structure_id, []).append([entity.id, entity.name])
        self._shells: dict[tuple[str, str], list[tuple[str, PageShell]]] = {}

    def data_script(self, figures: EntityFigures) -> bytes:
        entity = figures.entity
        classes = self.classes.get(entity.structure_id, []) if entity.kind != PLATFORM else []
        return data_script(figures, classes, self.holidays.of(entity))

    def summary_json(self, figures: EntityFigures) -> str:
        zone = self.holidays.of(figures.entity)
        return summary_json(figures, zone, self.holidays.periods(zone))

    def of(self, figures: EntityFigures) -> list[tuple[str, str]]:
        """(file name, html) of the entity's summary page and its seven detail pages."""
        entity = figures.entity
        root = _root_of(entity.path)
        shells = self._shells.get((entity.kind, root))
        if shells is None:
            shells = self._shells[(entity.kind, root)] = self.shells(entity.kind, root)
        values = self.entity_texts(figures)
        return [(name, shell.fill(values)) for name, shell in shells]

    def entity_texts(self, figures: EntityFigures) -> dict[str, str]:
        """What fills a shell's marks: the entity's texts, HTML-escaped."""
        entity = figures.entity
        values = {"name": escape(entity.name), "structure": escape(self.structure_name(entity))}
        values["as_of"] = escape(date_words(figures.as_of))
        absent = entity.kind != PLATFORM and entity.structure_id in self.structures_absent
        values["note"] = entity_note(ABSENT_STRUCTURE_NOTE) if absent else ""
        for k, tile in enumerate(self.tiles(figures)):
            values[f"text{k}"], values[f"raw{k}"] = escape(tile["text"]), escape(tile["raw"])
            values[f"span{k}"] = escape(tile["span"])
            values[f"change{k}"] = tile["change"]
        return values

    def shells(self, kind: str, root: str) -> list[tuple[str, PageShell]]:
        """(file name, shell) of the eight pages of an entity of `kind` whose folder is `root` deep."""
        stand_in = {
            "entity": SimpleNamespace(name=_marked("name")),
            "as_of": _marked("as_of"),
            "structure_name": _marked("structure"),
            "note_html": _marked("note"),
            "tiles": [
                {
                    "text": _marked(f"text{k}"),
                    "raw": _marked(f"raw{k}"),
                    "span": _marked(f"span{k}"),
                    "change": _marked(f"change{k}") if i.id in COMPARED else "",
                }
                for k, i in enumerate(INDICATORS)
            ],
        }
        return [(name, PageShell(html)) for name, html in self.render(kind, root, **stand_in)]

    def render(
        self,
        kind: str,
        root: str,
        entity: Any,
        as_of: str,
        structure_name: str,
        tiles: list[dict[str, Any]],
        note_html: str = "",
    ) -> list[tuple[str, str]]:
        """The eight pages rendered by Jinja from these texts (marks for a shell; an entity's own texts give
        its pages directly, as the tests compare)."""
        common = {
            "entity": entity,
            "kind_word": KIND_WORDS[kind],
            "root": root,
            "assets": self.assets_from(root),
            "crumbs": _crumbs(kind, root, structure_name),
            "as_of": as_of,
            "indicators": INDICATORS,
            "note_html": note_html,
        }
        compare = SIDE_BY_SIDE.get(kind)
        tiles = [
            {**tile, "indicator": i, "period": PERIOD_WORDS[i.tile_period]}
            for tile, i in zip(tiles, INDICATORS)
        ]
        summary = _env.get_template("summary.html").render(
            common,
            tiles=tiles,
            compare={"href": compare[0], "words": compare[3]} if compare else None,
            runs={"href": RUNS_PAGE, "words": RUNS_TITLE} if kind == PLATFORM else None,
        )
        pages = [("index.html", summary)]
        for indicator in INDICATORS:
            html = _env.get_template("detail.html").render(
                common, indicator=indicator, panel=self.panels[indicator.id]
            )
            pages.append((f"{indicator.id}.html", html))
        return pages

    def structure_name(self, entity: Entity) -> str:
        """The name of the entity's structure as the snapshot gives it (the entity's own, else)."""
        return self.structure_names.get(entity.structure_id, entity.structure_name)

    def assets_from(self, root: str) -> dict[str, str]:
        """The assets' URLs from a page whose folder is `root` (`../../`) below the site's root."""
        return {k: root + "assets/" + v for k, v in self.assets.items()}

    def compare_page(self, owner: Entity, title: str, **context: Any) -> str:
        """A side-by-side page (pipeline.side_by_side) in `owner`'s folder."""
        return self.owned_page("compare.html", owner, title, **context)

    def owned_page(self, template: str, owner: Entity, title: str, **context: Any) -> str:
        """A page of `owner`'s folder besides its eight (side by side, the runs' history), from `template`."""
        root = _root_of(owner.path)
        crumbs = [(PLATFORM_NAME, root + "platform/index.html")]
        if owner.kind == STRUCTURE:
            crumbs.append((self.structure_name(owner), "index.html"))
        return _env.get_template(template).render(
            entity=owner,
            kind_word=KIND_WORDS[owner.kind],
            root=root,
            assets=self.assets_from(root),
            crumbs=crumbs,
            current_crumb=title,
            indicators=INDICATORS,
            title=title,
            **context,
        )

    @staticmethod
    def tiles(figures: EntityFigures) -> list[dict[str, Any]]:
        """Each tile's text as shown (`1 234`) and its value as JSON (`data-value`), in INDICATORS order."""
        spans = {
            p: f" ({date_words(first)} – {date_words(figures.as_of)})"
            for p, first in figures.period_starts.items()
        }
        return [
            {
                "text": tile_text(figures.tiles[i.id]),
                "raw": json.dumps(figures.tiles[i.id]),
                "span": spans.get(i.tile_period, ""),
                "change": change_html(figures.before.get(i.id)),
            }
            for i in INDICATORS
        ]


def _root_of(path: str) -> str:
    """From an entity's folder (`structures/s1`) back to the site's root (`../../`)."""
    return "../" * (path.count("/") + 1)


def _crumbs(kind: str, root: str, structure_name: str) -> list[tuple[str, str]]:
    if kind == PLATFORM:
        return []
    crumbs = [(PLATFORM_NAME, root + "platform/index.html")]
    if kind == CLASS:
        crumbs.append((structure_name, "../../index.html"))
    return crumbs
