"""Stage 4: figures → the static site's pages, their data scripts and summary.json (Jinja2, autoescaped).

What is built once per build: the templates, the chart specifications (pipeline.charts), the indicator
panels of the detail pages (they hold no figures) and the shared assets (content-hashed names). What is
written per entity: `data.js` (its figures, once, in its own folder), `index.html` (the seven tiles) and one
detail page per indicator; each page is a single template render.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from . import charts
from .constants import (
    DEFAULT_GROUPING,
    DEFAULT_PERIOD,
    GROUPING_LABELS,
    GROUPINGS,
    HOUR_SLOTS,
    INDICATORS,
    MONTH_NAMES,
    PERIOD_WORDS,
    PERIODS,
    PLATFORM_NAME,
    PROFILES,
    SERIES_INDICATORS,
    WEEKDAYS,
    Indicator,
)
from .model import CLASS, PLATFORM, STRUCTURE, Entity, EntityFigures

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
SITE_SRC = ROOT / "site_src"
KIND_WORDS = {PLATFORM: "Plateforme", STRUCTURE: "Établissement", CLASS: "Classe"}
LOCALE = "fr-FR"
_JS_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


class Sink(Protocol):
    files: int
    bytes: int

    def write(self, path: Path, text: str, kind: str) -> None: ...


def relative(from_folder: str, to_path: str) -> str:
    """A link from a page in `from_folder` (site-relative) to `to_path` (site-relative), for file:// too."""
    return os.path.relpath(to_path, from_folder or ".").replace(os.sep, "/")


def summary_json(figures: EntityFigures) -> str:
    entity = figures.entity
    data = {
        "tiles": {i.id: {"value": figures.tiles[i.id], "period": i.tile_period} for i in INDICATORS},
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
    return json.dumps(data, ensure_ascii=False, indent=1)


# Text ------------------------------------------------------------------------------------------------
def js_json(value: object) -> str:
    """JSON that is safe inside a <script> element or a .js file: no `<`, `>`, `&`, U+2028, U+2029."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in _JS_ESCAPES:
        if raw in text:
            text = text.replace(raw, escaped)
    return text


def date_words(day: date) -> str:
    """`1er mars 2026`, `31 mars 2026`."""
    return f"{'1er' if day.day == 1 else day.day} {MONTH_NAMES[day.month - 1]} {day.year}"


def tile_text(value: object) -> str:
    """A tile's value as the page shows it: `1 234` (narrow no-break space), `4,50`, a name, or `—`."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float):
        return f"{value:,.2f}".replace(",", "\u202f").replace(".", ",")
    return f"{value:,}".replace(",", "\u202f")


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


# Assets ----------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def vega_runtime() -> str:
    """Vega + Vega-Lite + vega-embed from vl-convert, wrapped so its top-level names stay private."""
    import vl_convert

    return "(function () {\n" + vl_convert.javascript_bundle() + "\n})();\n"


def chart_config() -> dict[str, Any]:
    """What every detail page's script needs besides the entity's data: labels, colours, chart specs."""
    import vl_convert

    time_locale = vl_convert.get_time_format_locale(LOCALE)
    time_locale["months"] = list(MONTH_NAMES)
    return {
        "profiles": [{"code": p.code, "label": p.label, "colour": p.colour} for p in PROFILES],
        "indicators": [
            {
                "id": i.id,
                "label": i.label,
                "kind": i.kind,
                "unit": i.value_label.lower(),
                "period": i.tile_period,
                "oneProfile": i.one_profile,
                "ratio": i.ratio,
                "exports": {choice: i.csv_name(choice) for choice in i.choices},
            }
            for i in INDICATORS
        ],
        "defaults": {"grouping": DEFAULT_GROUPING, "period": DEFAULT_PERIOD, "profile": PROFILES[0].code},
        "weekdays": list(WEEKDAYS),
        "hourSlots": list(HOUR_SLOTS),
        "months": list(MONTH_NAMES),
        "groupings": {g: GROUPING_LABELS[g] for g in GROUPINGS},
        "periodWords": dict(PERIOD_WORDS),
        "specs": charts.chart_specs(),
        "appStep": charts.APP_STEP,
        "timeLocale": time_locale,
        "numberLocale": vl_convert.get_format_locale(LOCALE),
    }


def profile_css() -> str:
    """The profiles' swatches (`.swatch-Teacher`), appended to style.css from PROFILES: the pages have no
    style attribute (the Content-Security-Policy allows no inline style); the colours stay defined once."""
    rules = ["\n/* Profile swatches: written by pipeline/render.py from pipeline/constants.py PROFILES */\n"]
    for p in PROFILES:
        assert re.fullmatch(r"[A-Za-z][\w-]*", p.code), f"profile {p.code!r} is not a CSS class name"
        assert re.fullmatch(r"#[0-9a-fA-F]{6}", p.colour), f"profile {p.code!r}: {p.colour!r} is not #rrggbb"
        rules.append(f".swatch-{p.code} {{ background: {p.colour}; }}\n")
    return "".join(rules)


def hashed_name(stem: str, suffix: str, text: str) -> str:
    return f"{stem}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]}{suffix}"


def navigation_script(entities: list[Entity]) -> str:
    """Names and links of the platform and every structure (no figures): the switcher's list."""
    structures = [[e.id, e.name, e.uai] for e in entities if e.kind == STRUCTURE]
    return "window.STATS_NAV=" + js_json({"platform": PLATFORM_NAME, "structures": structures}) + ";\n"


def write_assets(site: Path, entities: list[Entity], written: Sink) -> dict[str, str]:
    """Writes SITE/assets/ (content-hashed names); returns logical name → file name."""
    assets = site / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    texts = {
        source.name: source.read_text(encoding="utf-8")
        for source in sorted(SITE_SRC.iterdir())
        if source.is_file()
    }
    texts["style.css"] += profile_css()
    texts["vega.js"] = vega_runtime()
    texts["charts.js"] = "window.STATS_CONFIG=" + js_json(chart_config()) + ";\n"
    texts["nav.js"] = navigation_script(entities)
    names = {}
    for logical, text in texts.items():
        stem, dot, suffix = logical.rpartition(".")
        names[logical] = hashed_name(stem, dot + suffix, text)
        written.write(assets / names[logical], text, suffix)
    return names


# Per-entity data -------------------------------------------------------------------------------------
def entity_data(figures: EntityFigures, classes: list[list[str]]) -> dict[str, Any]:
    """The entity's figures in the compact shape the page script reads (profiles in PROFILES order)."""
    entity = figures.entity
    shared = {g: [d for d, _ in figures.series[SERIES_INDICATORS[0]][g]] for g in GROUPINGS}
    series: dict[str, dict[str, Any]] = {}
    for indicator_id in SERIES_INDICATORS:
        series[indicator_id] = {}
        for grouping in GROUPINGS:
            rows = figures.series[indicator_id][grouping]
            cells = [v for _, v in rows]
            entry: dict[str, Any] = {"v": {p.code: list(map(itemgetter(p.code), cells)) for p in PROFILES}}
            own = [d for d, _ in rows]
            if own != shared[grouping]:
                entry["b"] = [d.isoformat() for d in own]
            series[indicator_id][grouping] = entry
    buckets = {g: [d.isoformat() for d in days] for g, days in shared.items()}
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
        "buckets": buckets,
        "series": series,
        "apps": figures.apps,
        "hours": figures.hours,
        "weekdays": figures.weekdays,
        "classes": classes,
    }


def data_script(figures: EntityFigures, classes: list[list[str]]) -> str:
    return "window.STATS_DATA=" + js_json(entity_data(figures, classes)) + ";\n"


# Pages -----------------------------------------------------------------------------------------------
def indicator_panel(indicator: Indicator) -> Markup:
    """What of a detail page depends only on the indicator: controls, chart, legend, table, export."""
    single = indicator.one_profile
    return Markup(
        _env.get_template("panel.html").render(
            indicator=indicator,
            groupings=[(g, GROUPING_LABELS[g]) for g in GROUPINGS] if indicator.kind == "series" else [],
            periods=[(p, capitalised(PERIOD_WORDS[p])) for p in PERIODS]
            if indicator.kind != "series"
            else [],
            default_grouping=DEFAULT_GROUPING,
            default_period=DEFAULT_PERIOD,
            profiles=PROFILES if single else [],
            legend=[] if single else (PROFILES if indicator.kind == "series" else PROFILES[1:]),
            export=indicator.csv_name(indicator.default_choice),
        )
    )


@dataclass
class RenderStats:
    """What build.json reports of the pages: how fast they were written and how big they are."""

    pages: int = 0
    html_bytes: int = 0
    entities: int = 0
    seconds: float = 0.0  # writing pages and data scripts
    setup_seconds: float = 0.0  # once per build: assets, chart specs, templates

    def merge(self, other: RenderStats) -> None:
        self.pages += other.pages
        self.html_bytes += other.html_bytes
        self.entities += other.entities

    def report(self) -> dict[str, float | int]:
        return {
            "pages_written": self.pages,
            "pages_per_second": round(self.pages / self.seconds, 1) if self.seconds else 0.0,
            "html_bytes_per_entity": round(self.html_bytes / self.entities) if self.entities else 0,
            "setup_seconds": round(self.setup_seconds, 3),
        }


@dataclass
class SiteRenderer:
    """Writes the shared assets and the root index at creation, then one entity at a time."""

    site: Path
    entities: list[Entity]
    written: Sink
    stats: RenderStats = field(default_factory=RenderStats)

    def __post_init__(self) -> None:
        clock = time.perf_counter()
        self.assets = write_assets(self.site, self.entities, self.written)
        self.panels = {i.id: indicator_panel(i) for i in INDICATORS}
        self.summary_page = _env.get_template("summary.html")
        self.detail_page = _env.get_template("detail.html")
        self.classes: dict[str, list[list[str]]] = {}
        self.structure_names = {e.id: e.name for e in self.entities if e.kind == STRUCTURE}
        for entity in self.entities:
            if entity.kind == CLASS:
                self.classes.setdefault(entity.structure_id, []).append([entity.id, entity.name])
        self.stats.setup_seconds += time.perf_counter() - clock
        clock = time.perf_counter()
        self._write_page(
            self.site / "index.html",
            _env.get_template("root_index.html").render(
                structures=[e for e in self.entities if e.kind == STRUCTURE],
                assets={k: "assets/" + v for k, v in self.assets.items()},
            ),
        )
        self.stats.seconds += time.perf_counter() - clock

    def _write_page(self, path: Path, html: str) -> None:
        before = self.written.bytes
        self.written.write(path, html, "html")
        self.stats.pages += 1
        self.stats.html_bytes += self.written.bytes - before

    def write_entity(self, folder: Path, figures: EntityFigures) -> None:
        """data.js, index.html and the seven detail pages of one entity."""
        clock = time.perf_counter()
        entity = figures.entity
        classes = self.classes.get(entity.structure_id, []) if entity.kind != PLATFORM else []
        self.written.write(folder / "data.js", data_script(figures, classes), "js")
        root = "../" * (entity.path.count("/") + 1)
        common = {
            "entity": entity,
            "kind_word": KIND_WORDS[entity.kind],
            "root": root,
            "assets": {k: root + "assets/" + v for k, v in self.assets.items()},
            "crumbs": self._crumbs(entity, root),
            "as_of": date_words(figures.as_of),
            "indicators": INDICATORS,
        }
        self._write_page(folder / "index.html", self.summary_page.render(common, tiles=self._tiles(figures)))
        for indicator in INDICATORS:
            html = self.detail_page.render(common, indicator=indicator, panel=self.panels[indicator.id])
            self._write_page(folder / f"{indicator.id}.html", html)
        self.stats.entities += 1
        self.stats.seconds += time.perf_counter() - clock

    def _crumbs(self, entity: Entity, root: str) -> list[tuple[str, str]]:
        crumbs = [(PLATFORM_NAME, root + "platform/index.html")]
        if entity.kind == CLASS:
            crumbs.append(
                (self.structure_names.get(entity.structure_id, entity.structure_name), "../../index.html")
            )
        return crumbs if entity.kind != PLATFORM else []

    @staticmethod
    def _tiles(figures: EntityFigures) -> list[dict[str, Any]]:
        return [
            {
                "indicator": i,
                "text": tile_text(figures.tiles[i.id]),
                "raw": json.dumps(figures.tiles[i.id]),
                "period": PERIOD_WORDS[i.tile_period],
            }
            for i in INDICATORS
        ]
