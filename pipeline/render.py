"""The texts of the static site's pages, data scripts, summary.json and assets (Jinja2, autoescaped).

Pure text: `pipeline.writer` writes the files. What is built once per build: the templates, the chart
specifications (pipeline.charts), the indicator panels of the detail pages (they hold no figures) and the
shared assets (content-hashed names). What is rendered per entity: `data.js` (its figures, once, in its own
folder), `index.html` (the seven tiles) and one detail page per indicator.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from .constants import (
    APP_STEP,
    CHANGE_NEW,
    CHANGE_NEW_WORD,
    COMPARED,
    CSV_STORED_SUFFIX,
    DAY_WINDOWS,
    DEFAULT_DAY_WINDOW,
    DEFAULT_GROUPING,
    DEFAULT_PERIOD,
    GROUPING_LABELS,
    GROUPINGS,
    HOLIDAY_COLOUR,
    HOLIDAY_GROUPINGS,
    HOLIDAY_LEGEND,
    HOUR_SLOTS,
    INDICATORS,
    MONTH_NAMES,
    PERIOD_WORDS,
    PERIODS,
    PLATFORM_NAME,
    PROFILE_CODES,
    PROFILES,
    RATIO_OF,
    RUNS_PAGE,
    RUNS_TITLE,
    SIDE_BY_SIDE,
    WEEKDAYS,
    Indicator,
)
from .holidays import ZONES, Holiday, HolidayZones, calendar
from .model import CLASS, PLATFORM, STRUCTURE, Comparison, Entity, EntityFigures

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


# Assets ----------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def vega_runtime() -> str:
    """Vega + Vega-Lite + vega-embed from vl-convert, wrapped so its top-level names stay private.

    vl-convert bundles it on each first call (1.2 s here, every run): the text is kept in the cache folder
    (`cached_text`), named by vl-convert's version."""
    import vl_convert

    return cached_text(
        f"vega-runtime-{vl_convert.__version__}.js",
        lambda: "(function () {\n" + vl_convert.javascript_bundle() + "\n})();\n",
    )


def chart_specs() -> dict[str, dict[str, Any]]:
    """`charts.chart_specs()`, kept in the cache folder (`cached_text`) as JSON named by `chart_code()`.
    Building them took 1.0 s of every `site` process (2-core AMD EPYC), and importing Altair 0.5 s more;
    reading them back, a few milliseconds."""
    key = hashlib.sha1("\n".join(chart_code()).encode()).hexdigest()[:16]

    def built() -> str:
        from . import charts  # imports Altair

        return json.dumps(charts.chart_specs())

    return json.loads(cached_text(f"chart-specs-{key}.json", built))


def chart_code() -> list[str]:
    """What makes the chart specs: Altair's version, the source of pipeline.charts and of pipeline.constants
    (its only import from this package)."""
    sources = [Path(__file__).with_name(name) for name in ("charts.py", "constants.py")]
    return [metadata.version("altair"), *(source.read_text(encoding="utf-8") for source in sources)]


def cached_text(name: str, make: Callable[[], str]) -> str:
    """The text of `runtime_cache_folder()/name`, made and written there first when absent: the same from
    run to run, costly to make. An unwritable cache only costs the time."""
    cached = runtime_cache_folder() / name
    try:
        return cached.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        pass
    text = make()
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_name(f".{cached.name}.{os.getpid()}")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, cached)  # whole or absent, with runs side by side
    except OSError:
        pass
    return text


def runtime_cache_folder() -> Path:
    """$STATISTIQUES_CACHE, else $XDG_CACHE_HOME/statistiques, else ~/.cache/statistiques."""
    if folder := os.environ.get("STATISTIQUES_CACHE"):
        return Path(folder)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "statistiques"


@lru_cache(maxsize=1)
def charts_script() -> str:
    """assets/charts.js: the chart configuration, the same every build."""
    return "window.STATS_CONFIG=" + js_json(chart_config()) + ";\n"


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
                "summed": i.summed,
                "exports": {choice: i.csv_name(choice) for choice in i.choices},
                "controls": indicator_controls(i),
            }
            for i in INDICATORS
        ],
        "defaults": {
            "grouping": DEFAULT_GROUPING,
            "period": DEFAULT_PERIOD,
            "profile": PROFILES[0].code,
            "window": DEFAULT_DAY_WINDOW,
        },
        "dayWindows": {key: days for key, (days, _label) in DAY_WINDOWS.items()},
        "exportStoredSuffix": CSV_STORED_SUFFIX,  # opened from disk, a page links the stored file itself
        "ratioOf": list(RATIO_OF),
        "weekdays": list(WEEKDAYS),
        "hourSlots": list(HOUR_SLOTS),
        "months": list(MONTH_NAMES),
        "groupings": {g: GROUPING_LABELS[g] for g in GROUPINGS},
        "periodWords": dict(PERIOD_WORDS),
        "specs": chart_specs(),
        "holidays": holiday_config(),
        "appStep": APP_STEP,
        "timeLocale": time_locale,
        "numberLocale": vl_convert.get_format_locale(LOCALE),
    }


def holiday_config() -> dict[str, Any]:
    """Every zone's holidays since holidays.CALENDAR_FROM, the same from night to night (so is charts.js):
    a page takes its entity's zone (data.js) and clips them to its period. Names are indices into `names`."""
    names = sorted({h.name for zone in ZONES for h in calendar(zone)})
    return {
        "groupings": list(HOLIDAY_GROUPINGS),
        "legend": HOLIDAY_LEGEND,
        "names": names,
        "zones": {
            zone: [[names.index(h.name), h.first.isoformat(), h.last.isoformat()] for h in calendar(zone)]
            for zone in ZONES
        },
    }


def profile_css() -> str:
    """The profiles' swatches (`.swatch-Teacher`), appended to style.css from PROFILES: the pages have no
    style attribute (the Content-Security-Policy allows no inline style); the colours stay defined once."""
    rules = ["\n/* Profile swatches: written by pipeline/render.py from pipeline/constants.py PROFILES */\n"]
    for p in PROFILES:
        assert re.fullmatch(r"[A-Za-z][\w-]*", p.code), f"profile {p.code!r} is not a CSS class name"
        assert re.fullmatch(r"#[0-9a-fA-F]{6}", p.shade), f"profile {p.code!r}: {p.shade!r} is not #rrggbb"
        rules.append(f".swatch-{p.code} {{ background: {p.shade}; clip-path: {SHAPE_CLIPS[p.shape]}; }}\n")
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", HOLIDAY_COLOUR), f"{HOLIDAY_COLOUR!r} is not #rrggbb"
    rules.append(f".swatch-holiday {{ background: {HOLIDAY_COLOUR}; }}\n")
    return "".join(rules)


# The Vega point shapes of the profiles' series, drawn by the legend's swatches as CSS clip paths
SHAPE_CLIPS = {
    "circle": "circle(50%)",
    "square": "inset(6%)",
    "triangle-up": "polygon(50% 0, 100% 100%, 0 100%)",
    "diamond": "polygon(50% 0, 100% 50%, 50% 100%, 0 50%)",
    "triangle-down": "polygon(0 0, 100% 0, 50% 100%)",
    "cross": "polygon(33% 0, 67% 0, 67% 33%, 100% 33%, 100% 67%, 67% 67%, 67% 100%, 33% 100%, 33% 67%, "
    "0 67%, 0 33%, 33% 33%)",
}


def hashed_name(stem: str, suffix: str, text: str) -> str:
    return f"{stem}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]}{suffix}"


def navigation_script(entities: list[Entity]) -> str:
    """Names and links of the platform and every structure (no figures): the switcher's list."""
    structures = [[e.id, e.name, e.uai] for e in entities if e.kind == STRUCTURE]
    return "window.STATS_NAV=" + js_json({"platform": PLATFORM_NAME, "structures": structures}) + ";\n"


def asset_texts(entities: list[Entity]) -> dict[str, str]:
    """SITE/assets/'s files by logical name (`app.js`): site_src/, the Vega runtime, the config, the nav."""
    texts = {
        source.name: source.read_text(encoding="utf-8")
        for source in sorted(SITE_SRC.iterdir())
        if source.is_file()
    }
    texts["style.css"] += profile_css()
    texts["vega.js"] = vega_runtime()
    texts["charts.js"] = charts_script()
    texts["nav.js"] = navigation_script(entities)
    return texts


def asset_name(logical: str, text: str) -> str:
    """`app.js` → `app-<12 hex of its content's hash>.js`."""
    stem, dot, suffix = logical.rpartition(".")
    return hashed_name(stem, dot + suffix, text)


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
