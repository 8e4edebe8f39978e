"""The pages without a browser: structure, escaping, links inside the site, data written once per entity.

The site is built by the real pipeline (ingest → site) from a tiny seeded input; `build_tiny_site` is shared
with tests/test_browser.py.
"""

from __future__ import annotations

import csv
import gzip
import html
import json
import random
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import markupsafe
import pytest
from conftest import event

from pipeline import assets, charts, holidays, ingest, render
from pipeline.constants import INDICATORS, PERIOD_WORDS, PROFILES, RUNS_DATA
from pipeline.site import SiteOptions, build

AS_OF = date(2026, 3, 31)
HOSTILE = "<script>alert(1)</script>"
HOSTILE_APP = '</script><img src=x onerror="alert(2)">'
STRUCTURES = [
    ("s-hostile", "0000001X", HOSTILE),
    ("s-lycee", "0750001A", 'Lycée Victor Hugo & Cie, "Paris"'),
]
CLASSES = [
    ("c-2nde-a", "s-lycee", "2nde A"),
    ("c-1ere-b", "s-lycee", "1ère B </script>"),
    ("c-vide", "s-hostile", "Classe sans activité"),  # in the directory, no event lists it
]
MODULES = ["Pronote", "Conversation", "Blog", HOSTILE_APP]
ENT_CODES = [p.code for p in PROFILES[1:]]


def _events(seed: int) -> list[dict]:
    rng = random.Random(seed)
    users = [(f"u{i}", ENT_CODES[i % len(ENT_CODES)], STRUCTURES[i % 2][0]) for i in range(40)]
    start = datetime(2025, 3, 1, 6, tzinfo=UTC)
    events = []
    for n in range(2500):
        user, profile, structure = rng.choice(users)
        moment = start + timedelta(minutes=rng.randrange(395 * 24 * 60))
        kind = rng.choices(["LOGIN", "ACCESS", "ACTIVATION"], weights=[6, 4, 0.2])[0]
        classes = [CLASSES[n % 2][0]] if structure == "s-lycee" else []
        event = {
            "_id": f"e{seed}-{n}",
            "event-type": kind,
            "date": int(moment.timestamp() * 1000),
            "userId": user,
            "profil": profile,
            "structures": [structure],
            "classes": classes,
            "module": "Auth",
        }
        if kind == "ACCESS":
            event["module"] = rng.choice(MODULES)
        events.append(event)
    return events


def build_tiny_site(folder: Path, seed: int = 3) -> Path:
    """A small real site: two structures (one named like a script), two classes, a year of seeded events."""
    folder.mkdir(parents=True, exist_ok=True)
    events = folder / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in _events(seed)), encoding="utf-8")
    directory = folder / "directory"
    directory.mkdir(exist_ok=True)
    for name, header, rows in (
        ("structures.csv", ("id", "uai", "name"), STRUCTURES),
        ("classes.csv", ("id", "structure_id", "name"), CLASSES),
    ):
        with open(directory / name, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
    ingest.run([events], folder / "lake")
    site = folder / "site"
    build(SiteOptions(lake=folder / "lake", directory=directory, out=site, as_of=AS_OF))
    return site


@pytest.fixture(scope="module")
def site(tiny_site: Path) -> Path:
    return tiny_site


def entity_folders(site: Path) -> list[Path]:
    return sorted(p.parent for p in site.rglob("summary.json"))


class Page(HTMLParser):
    """Tags, attributes and text of one page, enough to check its structure."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def parse(path: Path) -> Page:
    return Page(path.read_text(encoding="utf-8"))


def test_every_entity_has_its_pages_and_data(site: Path) -> None:
    folders = entity_folders(site)
    assert len(folders) == 1 + len(STRUCTURES) + len(CLASSES)
    for folder in folders:
        names = {p.name for p in folder.iterdir()}
        assert {"index.html", "data.js", "summary.json", "csv"} <= names
        assert {f"{i.id}.html" for i in INDICATORS} <= names


def test_data_js_writes_a_profile_without_any_value_as_one_zero(make_site) -> None:
    """Most classes have no Personnels and no Autres: a year of zeros for each would be a quarter of their
    data.js. The page script expands the 0 again (tests/test_browser.py)."""
    site = make_site(
        [event(when="2026-03-10 10:00", user="t1"), event(when="2026-03-12 10:00", profile="Student")],
        as_of="2026-03-31",
    )
    text = (site.root / "platform" / "data.js").read_text(encoding="utf-8")
    series = json.loads(text.removeprefix("window.STATS_DATA=").rstrip(";\n"))["series"]
    days = (AS_OF - AS_OF.replace(year=AS_OF.year - 1, day=1)).days + 1  # the 12months period
    logins = series["connections"]["day"]["v"]
    assert [p.code for p in PROFILES if logins[p.code] != 0] == ["all", "Teacher", "Student"]
    assert len(logins["Teacher"]) == days and sum(logins["Teacher"]) == sum(logins["Student"]) == 1
    assert sum(logins["all"]) == 2
    assert series["activations"]["day"]["v"] == {p.code: 0 for p in PROFILES}
    visitors = series["unique_visitors"]["month"]["v"]
    assert visitors["Relative"] == 0 and visitors["Teacher"][-1] == 1 and len(visitors["Teacher"]) == 13


def test_pages_have_language_landmarks_and_one_heading(site: Path) -> None:
    pages = [site / "index.html"]
    pages += [folder / name for folder in entity_folders(site) for name in ("index.html", "top_apps.html")]
    for path in pages:
        text = path.read_text(encoding="utf-8")
        assert text.startswith('<!doctype html>\n<html lang="fr">')
        page = parse(path)
        assert len(page.all("h1")) == 1, path
        assert len(page.all("main")) == 1, path
        assert page.all("header"), path


def test_summary_tiles_hold_the_summary_json_values(site: Path) -> None:
    for folder in entity_folders(site):
        tiles = json.loads((folder / "summary.json").read_text(encoding="utf-8"))["tiles"]
        text = (folder / "index.html").read_text(encoding="utf-8")
        for indicator in INDICATORS:
            tile = re.search(rf'data-indicator="{indicator.id}">(.*?)</li>', text, re.S).group(1)
            value = tiles[indicator.id]["value"]
            shown = re.search(r'class="tile-value" data-value="([^"]*)">([^<]*)<', tile)
            assert json.loads(html.unescape(shown.group(1))) == value
            assert html.unescape(shown.group(2)) == render.tile_text(value)
            summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
            first = date.fromisoformat(summary["periods"][indicator.tile_period]["first"])
            span = f"({render.date_words(first)} – {render.date_words(AS_OF)})"  # the period in words too
            assert f"{PERIOD_WORDS[indicator.tile_period]} {span}</p>" in html.unescape(tile), tile
            assert f'href="{indicator.id}.html"' in tile


def test_tile_text_is_french() -> None:
    assert render.tile_text(12334) == "12\u202f334"
    assert render.tile_text(0) == "0"
    assert render.tile_text(4.5) == "4,50"
    assert render.tile_text(None) == "—"
    assert render.tile_text("08h-09h") == "08h-09h"
    assert render.date_words(date(2026, 3, 1)) == "1er mars 2026"


def test_hostile_names_are_escaped_everywhere(site: Path) -> None:
    for path in site.rglob("*"):
        if path.suffix in {".html", ".js"} and path.is_file():
            text = path.read_text(encoding="utf-8")
            assert HOSTILE not in text, path
            assert "</script><img" not in text, path
            if path.name == "data.js" or path.parent.name == "assets" and path.name.startswith("nav-"):
                assert "<" not in text and ">" not in text, path
    page = parse(site / "structures" / "s-hostile" / "index.html")
    assert HOSTILE in "".join(page.text)
    root = parse(site / "index.html")
    assert HOSTILE in "".join(root.text)
    data = (site / "structures" / "s-hostile" / "data.js").read_text(encoding="utf-8")
    assert json.loads(data.removeprefix("window.STATS_DATA=").rstrip(";\n"))["entity"]["name"] == HOSTILE


def test_js_json_cannot_break_out_of_a_script() -> None:
    text = render.js_json({"a": "</script>\u2028\u2029&<!--"})
    assert not set("<>&\u2028\u2029") & set(text)
    assert json.loads(text) == {"a": "</script>\u2028\u2029&<!--"}


def test_links_and_scripts_stay_inside_the_site(site: Path) -> None:
    for path in site.rglob("*.html"):
        page = parse(path)
        targets = [a.get("href") for a in page.all("a")] + [s.get("src") for s in page.all("script")]
        targets += [link.get("href") for link in page.all("link")]
        for target in targets:
            assert target and not re.match(r"^[a-z]+:|^//", target), (path, target)
            if target.startswith("#"):
                continue
            resolved = (path.parent / target).resolve()
            if resolved.suffix == ".csv":  # served from the stored csv/<name>.csv.gz (SPEC 3.2)
                resolved = resolved.with_name(resolved.name + ".gz")
            assert resolved.is_relative_to(site.resolve()) and resolved.exists(), (path, target)


# A site made for the next test: each entity's users open a module nobody else opens and log in at hours
# and on days of their own, so that each entity's figures (its top app, its arrays of counts) are its alone.
# Accesses are weighted so that each entity's own module is its top app (a tile value).
LEAK_STRUCTURES = [("s1", "0750001A", "Lycée Un"), ("s2", "0750002B", "Collège Deux")]
LEAK_CLASSES = [("c1", "s1", "2nde A"), ("c3", "s1", "1ère C"), ("c2", "s2", "3e B")]


@dataclass(frozen=True)
class Group:
    """Users who belong to one entity only (and to its ancestors): what they do is that entity's own."""

    users: tuple[str, ...]
    profile: str
    structure: str
    klass: str | None
    hour: str
    days: tuple[str, ...]
    module: str  # opened by this group alone
    accesses: int  # per login


LEAK_GROUPS = {  # entity folder → its own group
    "structures/s1/classes/c1": Group(
        ("k1", "k2", "k3"),
        "Student",
        "s1",
        "c1",
        "08:15",
        ("2026-03-02", "2026-03-09", "2025-11-04"),
        "Cahier-C1",
        2,
    ),
    "structures/s1/classes/c3": Group(
        ("m1",), "Student", "s1", "c3", "11:05", ("2026-03-02", "2025-12-01"), "Atelier-C3", 1
    ),
    "structures/s1": Group(
        ("t1", "t2"),
        "Teacher",
        "s1",
        None,
        "09:20",
        ("2026-03-02", "2026-03-09", "2025-10-06"),
        "Forum-S1",
        5,
    ),
    "structures/s2/classes/c2": Group(
        ("p1",), "Student", "s2", "c2", "14:10", ("2026-03-03", "2026-01-13"), "Labo-C2", 1
    ),
    "structures/s2": Group(
        ("q1",), "Personnel", "s2", None, "16:40", ("2026-03-03", "2026-03-10"), "Agenda-S2", 3
    ),
}


def _leak_events() -> list[dict]:
    events = []
    for group in LEAK_GROUPS.values():
        for user in group.users:
            who = {
                "user": user,
                "profile": group.profile,
                "structures": [group.structure],
                "classes": [group.klass] if group.klass else [],
            }
            for day in group.days:
                events.append(event(when=f"{day} {group.hour}", **who))
                events += [
                    event("ACCESS", when=f"{day} {group.hour}", module=group.module, **who)
                    for _ in range(group.accesses)
                ]
            events.append(event("ACTIVATION", when=f"{group.days[-1]} {group.hour}", **who))
    return events


def _site_texts(site: Path) -> dict[str, str]:
    """Every file of the site as text, by site-relative path: .gz decompressed, HTML unescaped."""
    texts = {}
    for path in sorted(site.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".gz":
                data = gzip.decompress(data)
            text = data.decode("utf-8", errors="replace")
            texts[path.relative_to(site).as_posix()] = html.unescape(text) if ".htm" in path.name else text
    return texts


def _owner(relative: str, folders: list[str]) -> str | None:
    """The deepest entity folder holding a site-relative path (None: the root's own files, assets/)."""
    holders = [f for f in folders if relative.startswith(f + "/")]
    return max(holders, key=len) if holders else None


def test_figures_live_only_in_the_entity_folder(make_site) -> None:
    """SPEC 3.1: no file outside an entity's folder holds its figures; a class's may also stand in its
    structure's folder; the platform's folder (super administrators only; 3.5 lists every structure's
    tiles there) may hold anything. So a structure's figures must not be in its classes' folders, a class's
    not in a sibling class's folder nor in another structure's, and nobody's in index.html, assets/,
    access.json or build.json.

    Each entity's figures are recognised by needles taken from its own data.js and summary.json: its own
    module (also its top app: a tile value, in whatever form a tile is written), its arrays of counts (by
    day, by week, by hour: compared with every file's text with whitespace removed, so compact, spaced or
    indented JSON alike), its tiles as summary.json writes them, and the head of its CSV rows.
    A writer that copied an entity's data.js into assets/ or beside another entity's, listed a structure's
    tiles in the root index or in its classes' pages, or wrote a class's figures under the wrong structure,
    would put one of these where the entity's readers are not the only readers, and fail here.
    """
    site = make_site(_leak_events(), as_of="2026-03-31", structures=LEAK_STRUCTURES, classes=LEAK_CLASSES)
    texts = _site_texts(site.root)
    squeezed = {name: re.sub(r"\s+", "", text) for name, text in texts.items()}
    folders = sorted(p.parent.relative_to(site.root).as_posix() for p in site.root.rglob("summary.json"))
    assert set(folders) == {"platform", *LEAK_GROUPS}
    structures = {s: (name, uai) for s, uai, name in LEAK_STRUCTURES}
    class_names = {c: name for c, _s, name in LEAK_CLASSES}
    for folder, group in LEAK_GROUPS.items():
        data = json.loads(texts[f"{folder}/data.js"].removeprefix("window.STATS_DATA=").rstrip(";\n"))
        summary = json.loads(texts[f"{folder}/summary.json"])
        assert summary["tiles"]["top_apps"]["value"] == group.module
        arrays = [
            data["series"]["connections"]["day"]["v"]["all"],
            data["series"]["unique_visitors"]["week"]["v"]["all"],
            data["hours"]["12months"]["all"],
        ]
        figures = [json.dumps(a, separators=(",", ":")) for a in arrays]
        figures.append(json.dumps(summary["tiles"], separators=(",", ":"), ensure_ascii=False))
        head = (*structures[group.structure], class_names.get(group.klass, ""))
        row_head = ";".join(f'"{v}"' for v in head) + ';"'  # a CSV row of this entity, up to its Date
        own_csv = "".join(text for name, text in texts.items() if name.startswith(f"{folder}/csv/"))
        assert group.module in own_csv and own_csv.count(row_head) > 100, folder
        assert all(n in squeezed[f"{folder}/data.js"] + squeezed[f"{folder}/summary.json"] for n in figures)

        allowed = {folder, "platform"} | {f for f in folders if folder.startswith(f + "/")}
        for name, text in texts.items():
            if _owner(name, folders) in allowed:
                continue
            found = [group.module] if group.module in text else []
            found += [n for n in figures if n in squeezed[name]]
            found += [row_head] if row_head in text else []
            assert not found, f"{folder}'s figures in {name}: {[n[:60] for n in found]}"
    # pages load figures from their own folder only (data.js beside them), and code from assets/
    shared = (site.root / "assets").resolve()
    for path in site.root.rglob("*.html"):
        for script in (s.get("src") for s in parse(path).all("script")):
            target = (path.parent / script).resolve()
            own = target.parent == path.parent.resolve() and target.name in ("data.js", RUNS_DATA)
            assert own or target.parent == shared, (path, script)
    for asset in shared.iterdir():
        data = asset.read_bytes()
        text = (gzip.decompress(data) if asset.suffix == ".gz" else data).decode("utf-8")
        assert "STATS_DATA" not in text or asset.name.startswith(("app-", "detail-"))  # they read it


def test_runtime_and_assets_have_content_hashed_names(site: Path) -> None:
    names = [p.name for p in (site / "assets").iterdir()]
    for stem in ("vega", "charts", "nav", "app", "detail", "style"):
        assert sum(1 for n in names if re.fullmatch(rf"{stem}-[0-9a-f]{{12}}\.(js|css)", n)) == 1, names
    vega = next((site / "assets").glob("vega-*.js")).read_text(encoding="utf-8")
    assert "window.vegaEmbed" in vega
    for name in names:  # each with its gzip twin, for gzip_static, and nothing else
        plain = name.removesuffix(".gz")
        assert plain in names and f"{plain}.gz" in names, name
        twin = gzip.decompress((site / "assets" / f"{plain}.gz").read_bytes())
        assert twin == (site / "assets" / plain).read_bytes(), name


def test_detail_pages_default_to_an_existing_export(site: Path) -> None:
    for folder in entity_folders(site):
        for indicator in INDICATORS:
            page = parse(folder / f"{indicator.id}.html")
            export = [a for a in page.all("a") if a.get("id") == "export"]
            assert len(export) == 1
            assert (folder / (export[0]["href"] + ".gz")).is_file()  # the stored file of the export
            current = [a for a in page.all("a") if a.get("aria-current") == "page"]
            assert {a.get("href") for a in current} == {f"{indicator.id}.html"}


def test_chart_specs_take_their_data_by_name() -> None:
    specs = charts.chart_specs(validate=True)  # Vega-Lite's JSON schema: raises on any invalid part
    assert charts.chart_specs() == specs  # what a build writes, unvalidated, is the same
    assert set(specs) >= {"lines-month", "bars-day", "apps", "hours", "weekdays"}
    for spec in specs.values():
        text = json.dumps(spec)
        assert '"values"' not in text and "datasets" not in spec
        assert '{"name": "rows"}' in text
        assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v6")


def test_build_report_has_render_speed(site: Path) -> None:
    report = json.loads((site / "build.json").read_text(encoding="utf-8"))
    stats = report["render"]
    assert stats["pages_written"] == sum(1 for _ in site.rglob("*.html"))
    assert stats["pages_per_second"] > 0
    assert stats["html_bytes_per_entity"] > 0
    assert isinstance(stats["setup_seconds"], int | float) and stats["setup_seconds"] >= 0


@pytest.mark.parametrize("kind", ["platform", "structure", "class"])
def test_page_shells_give_what_jinja_renders_for_the_entity(site: Path, kind: str) -> None:
    """Each entity's pages are a shell filled with its texts; Jinja rendering the same templates with the
    entity's own texts must give the same bytes, for names and tiles that need escaping too."""
    from types import SimpleNamespace

    from pipeline.model import Entity, EntityFigures

    path = {"platform": "platform", "structure": "structures/s1", "class": "structures/s1/classes/c1"}[kind]
    name = HOSTILE + " & \"quoted\" 'single' \x00mark\x00"
    entity = Entity(kind=kind, id="x", name=name, path=path, structure_id="s1", structure_name="<b>S</b> & 1")
    tiles = dict(zip([i.id for i in INDICATORS], [1234, None, 4.5, HOSTILE_APP, "08h-09h", "Lundi", 0]))
    figures = EntityFigures(
        entity=entity,
        as_of=AS_OF,
        period_starts={},
        tiles=tiles,
        series={},
        apps={},
        hours={},
        weekdays={},
        visitors={},
    )
    pages = render.Pages(
        [entity],
        {n: n for n in ("style.css", "app.js", "detail.js", "nav.js", "vega.js", "charts.js")},
        holidays.zones_for([], None, AS_OF, AS_OF),
    )
    got = pages.of(figures)
    root = "../" * (path.count("/") + 1)
    texts = pages.tiles(figures)
    stand_in = SimpleNamespace(name=name)
    want = pages.render(kind, root, stand_in, render.date_words(AS_OF), "<b>S</b> & 1", texts)
    assert [n for n, _ in got] == ["index.html"] + [f"{i.id}.html" for i in INDICATORS]
    assert got == want
    summary = got[0][1]
    assert html.escape(HOSTILE, quote=False) in summary and HOSTILE not in summary
    assert "1\u202f234" in summary and "4,50" in summary and "\x00mark\x00" in summary
    if kind == "class":
        assert "&lt;b&gt;S&lt;/b&gt; &amp; 1" in summary


def test_the_chart_runtime_is_bundled_once_then_read_from_the_cache(tmp_path, monkeypatch) -> None:
    import vl_convert

    monkeypatch.setenv("STATISTIQUES_CACHE", str(tmp_path / "cache"))
    assets.vega_runtime.cache_clear()
    try:
        runtime = assets.vega_runtime()
        cached = tmp_path / "cache" / f"vega-runtime-{vl_convert.__version__}.js"
        assert cached.read_text(encoding="utf-8") == runtime and "vega" in runtime
        cached.write_text("/* from the cache */", encoding="utf-8")
        assets.vega_runtime.cache_clear()
        assert assets.vega_runtime() == "/* from the cache */"

        blocked = tmp_path / "not-a-folder"
        blocked.write_text("a file where the cache folder would be", encoding="utf-8")
        monkeypatch.setenv("STATISTIQUES_CACHE", str(blocked / "cache"))
        assets.vega_runtime.cache_clear()
        bundled = []  # from here vl-convert's bundler is stood in for: it is the call that counts
        monkeypatch.setattr(vl_convert, "javascript_bundle", lambda: bundled.append(1) or "/* bundled */")
        assert "/* bundled */" in assets.vega_runtime() and bundled == [1]  # an unwritable cache: bundled
        assets.vega_runtime.cache_clear()
        assert "/* bundled */" in assets.vega_runtime() and bundled == [1, 1]  # ... each time
    finally:
        assets.vega_runtime.cache_clear()


def test_chart_specs_are_built_once_then_read_from_the_cache(tmp_path, monkeypatch) -> None:
    import inspect

    import altair

    monkeypatch.setenv("STATISTIQUES_CACHE", str(tmp_path / "cache"))
    built = charts.chart_specs()
    assert assets.chart_specs() == built
    (cached,) = (tmp_path / "cache").glob("chart-specs-*.json")
    cached.write_text('{"apps": {"mark": "from the cache"}}', encoding="utf-8")
    assert assets.chart_specs() == {"apps": {"mark": "from the cache"}}

    # the code that makes them changed: another name, built again (from here the build is stood in for)
    assert inspect.getsource(charts) in assets.chart_code() and altair.__version__ in assets.chart_code()
    builds = []
    monkeypatch.setattr(charts, "chart_specs", lambda: builds.append(1) or {"apps": {"mark": "built"}})
    code = assets.chart_code()
    monkeypatch.setattr(assets, "chart_code", lambda: [*code, "# edited"])
    assert assets.chart_specs() == {"apps": {"mark": "built"}} and builds == [1]
    assert len(list((tmp_path / "cache").glob("chart-specs-*.json"))) == 2
    assert assets.chart_specs() == {"apps": {"mark": "built"}} and builds == [1]  # read back

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be", encoding="utf-8")
    monkeypatch.setenv("STATISTIQUES_CACHE", str(blocked / "cache"))
    for times in (2, 3):  # an unwritable cache: built each time
        assert assets.chart_specs() == {"apps": {"mark": "built"}} and builds == [1] * times


def test_a_structure_absent_from_the_directory_says_why_on_its_pages_and_its_classes() -> None:
    from pipeline.model import Entity, EntityFigures

    absent = Entity("structure", "s-x", "s-x", "structures/s-x", structure_id="s-x", in_snapshot=False)
    known = Entity(
        "structure", "s-k", "Collège", "structures/s-k", structure_id="s-k", structure_name="Collège"
    )
    its_class = Entity("class", "c-x", "6e A", "structures/s-x/classes/c-x", structure_id="s-x")
    pages = render.Pages(
        [absent, known, its_class],
        {n: n for n in ("style.css", "app.js", "detail.js", "nav.js", "vega.js", "charts.js")},
        holidays.zones_for([], None, AS_OF, AS_OF),
    )
    note = str(markupsafe.escape(render.ABSENT_STRUCTURE_NOTE))
    for entity in (absent, known, its_class):
        figures = EntityFigures(
            entity=entity,
            as_of=AS_OF,
            period_starts={},
            tiles=dict.fromkeys([i.id for i in INDICATORS]),
            series={},
            apps={},
            hours={},
            weekdays={},
            visitors={},
        )
        for name, text in pages.of(figures):
            assert (note in text) == (entity is not known), (entity.id, name)


def test_profile_shades_keep_the_spec_hues_and_reach_3_to_1_on_white() -> None:
    import colorsys

    from chromium import contrast, rgb

    def hue(colour: str) -> float:
        return colorsys.rgb_to_hls(*(int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)))[0] * 360

    for profile in PROFILES:
        assert contrast(rgb(profile.shade), rgb("#ffffff")) >= 3.0, profile
        assert abs(hue(profile.colour) - hue(profile.shade)) < 2, profile
    assert len({p.shape for p in PROFILES}) == len(PROFILES)
    assert {p.shape for p in PROFILES} <= set(assets.SHAPE_CLIPS)


def test_every_page_has_an_icon_from_the_assets(site: Path) -> None:
    for path in [
        site / "index.html",
        *site.rglob("structures/*/index.html"),
        site / "platform/connections.html",
    ]:
        icons = [a for a in parse(path).all("link") if a.get("rel") == "icon"]
        assert len(icons) == 1, path
        assert (path.parent / str(icons[0]["href"])).resolve().is_file(), (path, icons[0]["href"])
