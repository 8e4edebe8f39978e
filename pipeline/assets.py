"""The site's shared files, `SITE/assets/`: site_src/ as it is, the profiles' swatches appended to its style
sheet, the chart runtime (Vega, Vega-Lite, vega-embed from vl-convert), the charts' configuration and the
switcher's list of structures. Each is named by a hash of its content (`asset_name`), written once per build
by `pipeline.writer`; the costly ones (the runtime, the chart specifications) are kept between runs in the
cache folder (`cached_text`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from .constants import (
    APP_STEP,
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
    PLATFORM_NAME,
    PROFILES,
    RATIO_OF,
    WEEKDAYS,
)
from .holidays import ZONES, calendar
from .model import STRUCTURE, Entity
from .render import ROOT, indicator_controls, js_json

SITE_SRC = ROOT / "site_src"
LOCALE = "fr-FR"


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
    rules = ["\n/* Profile swatches: written by pipeline/assets.py from pipeline/constants.py PROFILES */\n"]
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
