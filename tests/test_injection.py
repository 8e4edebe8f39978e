"""Hostile names and ids, from the directory snapshot and from events, through the real pipeline.

HTML text and attributes are escaped, JSON in scripts cannot close its <script>, CSV cells that look like
formulas are neutralised (SPEC 3.2), and an id outside `A-Z a-z 0-9 _ -` never becomes a path: rejected at
ingest (SPEC 1.1), refused in the snapshot with the file, the line and the fix. tests/test_pages.py checks
the escaping of one hostile structure on a full site; this file covers every place a name can land.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import csv_bytes, event, write_directory, write_lines
from markupsafe import escape

import build as cli
from pipeline import ingest, lake, parse
from pipeline.constants import CSV_FORMULA_PREFIXES
from pipeline.exceptions import DirectoryError
from pipeline.site import SiteOptions, build

AS_OF = date(2026, 3, 31)
XSS = "</script><script>alert(1)</script>"
QUOTES = "Lycée \"Arts\" & 'Métiers' <b>gras</b>"
SEPARATORS = "Collège\u2028ligne\u2029paragraphe <!-- commentaire -->"
STRUCTURES = [
    ("s-xss", "0750001A", XSS),
    ("s-quotes", "=1+1", QUOTES),  # a UAI that reads as a formula
    ("s-formula", "@SUM(A1)", '=HYPERLINK("http://evil.example","clic")'),
    ("s-lines", "0750004D", SEPARATORS),
]
CLASSES = [
    ("c-hyper", "s-xss", '=HYPERLINK("http://evil.example","clic")'),
    ("c-plus", "s-quotes", "+33 6 00 00 00 00"),
    ("c-minus", "s-quotes", "-2nde A"),
    ("c-at", "s-formula", "@cmd"),
    ("c-xss", "s-lines", "1ère </script><img src=x onerror=alert(2)>"),
]
MODULES = [
    "</script><script>alert(3)</script>",
    "=cmd|' /C calc'!A0",
    "</SCRIPT ><!--",
    "\t=1+1",
    "\r=2",
    "-1+1",
    "+1",
    "@SUM(1)",
    "Blog",
]
NAMES = [name for _, _, name in STRUCTURES] + [name for _, _, name in CLASSES]


def hostile_events() -> list[dict]:
    documents = []
    for structure, _, _ in STRUCTURES:
        classes = [c for c, s, _ in CLASSES if s == structure]
        documents.append(event(structures=[structure], classes=classes))
        for rank, module in enumerate(MODULES):  # the first module is the top app everywhere
            for _ in range(len(MODULES) - rank):
                documents.append(event("ACCESS", module=module, structures=[structure], classes=classes))
    return documents


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("injection")
    export = write_lines(folder / "events.json", hostile_events())
    ingest.run([export], folder / "lake")
    directory = write_directory(folder / "dir", structures=STRUCTURES, classes=CLASSES)
    out = folder / "site"
    build(SiteOptions(folder / "lake", directory, out, AS_OF))
    return out


class Page(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        (self.scripts if self._in_script else self.text).append(data)


ALLOWED_TAGS = set(
    "html head meta title link body a header div button span nav"
    " ol li main h1 h2 p ul script section fieldset legend input label figure figcaption noscript"
    " table caption thead tbody tr th td".split()
)  # what the templates write: anything else came from a name


def pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_html_text_and_attributes_are_escaped(site: Path) -> None:
    for path in pages(site):
        text = path.read_text(encoding="utf-8")
        for raw in ("<script>alert", "<img", "<b>", "<!--", "</script><", "<SCRIPT"):
            assert raw not in text, (path, raw)
        page = Page(text)
        assert {tag for tag, _ in page.tags} <= ALLOWED_TAGS, path
        for tag, attrs in page.tags:
            assert not any(name.startswith("on") for name in attrs), (path, tag, attrs)
            if tag == "script":
                assert attrs.get("src") and not re.match(r"[a-z]+:|//", attrs["src"]), (path, attrs)
        assert not "".join(page.scripts).strip(), path  # no inline script: figures come from data.js
    for structure, _, name in STRUCTURES:
        summary = Page((site / "structures" / structure / "index.html").read_text(encoding="utf-8"))
        assert name in "".join(summary.text)  # shown as text, as written
        title = (site / "structures" / structure / "connections.html").read_text(encoding="utf-8")
        assert f"<title>Connexions — {escape(name)} — Statistiques</title>" in title


def test_names_in_attributes_come_back_whole(site: Path) -> None:
    for structure, _, _ in STRUCTURES:
        page = Page((site / "structures" / structure / "index.html").read_text(encoding="utf-8"))
        values = {a["data-indicator"]: a for t, a in page.tags if t == "li" and "data-indicator" in a}
        tile = [a for t, a in page.tags if t == "p" and a.get("class") == "tile-value"]
        assert len(values) == len(tile) == 7  # no attribute broke out into a new element or attribute
        assert MODULES[0] in [json.loads(a["data-value"]) for a in tile]  # the top app, quotes and all
    root = Page((site / "index.html").read_text(encoding="utf-8"))
    links = [a["href"] for t, a in root.tags if t == "a" and a.get("href", "").startswith("structures/")]
    assert sorted(links) == sorted(f"structures/{s}/index.html" for s, _, _ in STRUCTURES)
    assert {"=1+1", "@SUM(A1)"} <= set(root.text)  # UAIs as text nodes of their own, as written


def js_values(path: Path) -> object:
    text = path.read_text(encoding="utf-8")
    name, _, body = text.partition("=")
    assert re.fullmatch(r"window\.STATS_[A-Z]+", name), path
    return json.loads(body.rstrip().removesuffix(";"))


def test_json_in_scripts_cannot_close_them(site: Path) -> None:
    scripts = [p for p in site.rglob("data.js")]
    scripts += [p for p in (site / "assets").glob("*.js") if p.name.startswith(("nav-", "charts-"))]
    assert len(scripts) > len(STRUCTURES) + len(CLASSES)
    seen = set()
    for path in scripts:
        text = path.read_text(encoding="utf-8")
        for raw in ("<", ">", "&", "\u2028", "\u2029"):
            assert raw not in text, (path, raw)  # so neither `</script` nor `<!--` in any case
        seen |= {v for v in _strings(js_values(path)) if v in NAMES or v in MODULES}
    assert seen == set(NAMES) | set(MODULES)  # and each comes back whole from its JSON
    escaped = (site / "structures" / "s-xss" / "data.js").read_text(encoding="utf-8")
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)" in escaped


def _strings(value: object):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in (*value.keys(), *value.values()):
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def csv_cells(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(csv_bytes(path).decode("utf-8-sig"), newline=""), delimiter=";"))


def test_csv_cells_that_look_like_formulas_start_with_a_quote(site: Path) -> None:
    files = sorted(site.rglob("*.csv.gz"))
    assert files
    cells = [cell for path in files for row in csv_cells(path) for cell in row]
    assert not [c for c in cells if c.startswith(CSV_FORMULA_PREFIXES)]
    expected = {
        "'=1+1",
        "'@SUM(A1)",
        '\'=HYPERLINK("http://evil.example","clic")',
        "'+33 6 00 00 00 00",
        "'-2nde A",
        "'@cmd",
        "'=cmd|' /C calc'!A0",
        "'\t=1+1",
        "'\r=2",
        "'-1+1",
        "'+1",
        "'@SUM(1)",
    }
    assert expected <= set(cells)
    assert {XSS, QUOTES, SEPARATORS, MODULES[0], MODULES[2]} <= set(cells)  # no formula: as written
    apps = csv_cells(site / "structures/s-formula/classes/c-at/csv/top_apps-12months.csv")
    assert apps[1][:3] == ['\'=HYPERLINK("http://evil.example","clic")', "'@SUM(A1)", "'@cmd"]


BAD_IDS = ["../etc", "a/b", "..", ".", "a\\b", "%2e%2e", "~root", "s1\n", " s1", "", "é"]


def test_ids_outside_the_alphabet_are_rejected_at_ingest_and_never_become_paths(tmp_path) -> None:
    documents = [event(_id=f"s{n}", structures=[bad]) for n, bad in enumerate(BAD_IDS)]
    documents += [event(_id=f"c{n}", classes=[bad]) for n, bad in enumerate(BAD_IDS)]
    documents += [event(_id="other-type", **{"event-type": "SHARE"}, structures=["../../x"])]
    documents += [event(_id="ok", structures=["s1"], classes=["c1"])]
    export = write_lines(tmp_path / "in" / "events.json", documents)
    report = ingest.run([export], tmp_path / "lake")
    assert report.rejects_new == {parse.BAD_ID: 2 * len(BAD_IDS) + 1}
    assert report.events_new == {"LOGIN": 1}
    out = tmp_path / "out" / "site"
    build(SiteOptions(tmp_path / "lake", write_directory(tmp_path / "dir"), out, AS_OF))
    assert sorted(p.name for p in (out / "structures").iterdir()) == ["s1", "s2"]
    for path in tmp_path.rglob("*"):
        assert path.resolve().is_relative_to(tmp_path.resolve())
        assert path.name not in {"etc", "x", "..", "root"} and "\\" not in path.name, path
    kept = [json.loads(r) for r in lake.read_rejects(tmp_path / "lake").column("raw").to_pylist()]
    ids = {d["_id"]: d["structures"] if d["_id"][0] in "so" else d["classes"] for d in kept}
    assert ids == {
        **{f"s{n}": [bad] for n, bad in enumerate(BAD_IDS)},
        **{f"c{n}": [bad] for n, bad in enumerate(BAD_IDS)},
        "other-type": ["../../x"],
    }


@pytest.mark.parametrize(
    "file, rows, column, bad",
    [
        ("structures.csv", {"structures": [("s1", "U", "Un"), ("../etc", "U", "Deux")]}, "id", "../etc"),
        ("structures.csv", {"structures": [("a/b", "U", "Un")]}, "id", "a/b"),
        ("structures.csv", {"structures": [("..", "U", "Un")]}, "id", ".."),
        ("classes.csv", {"classes": [("c1", "s1", "A"), ("c/2", "s1", "B")]}, "id", "c/2"),
        ("classes.csv", {"classes": [("c1", "../s1", "A")]}, "structure_id", "../s1"),
    ],
)
def test_snapshot_rows_with_such_ids_are_refused_naming_the_file_line_and_fix(
    tmp_path, file, rows, column, bad
):
    export = write_lines(tmp_path / "events.json", [event()])
    ingest.run([export], tmp_path / "lake")
    directory = write_directory(tmp_path / "dir", **rows)
    line = 1 + [r[0 if column == "id" else 1] for r in next(iter(rows.values()))].index(bad) + 1
    message = re.escape(f"{directory / file}, line {line}: {column} {bad!r} has a character outside")
    with pytest.raises(DirectoryError, match=message + ".*fix or remove that row"):
        build(SiteOptions(tmp_path / "lake", directory, tmp_path / "site", AS_OF))
    assert not (tmp_path / "site").exists()
    assert not [p for p in tmp_path.rglob("*") if p.name in {"etc", "b", "2", "s1"} and p.is_dir()]


def test_a_refused_snapshot_through_the_command_line(tmp_path) -> None:
    export = write_lines(tmp_path / "events.json", [event()])
    directory = write_directory(tmp_path / "dir", structures=[("s1", "U", "Un"), ("../../etc", "U", "X")])
    args = [
        "nightly",
        str(export),
        "--lake",
        str(tmp_path / "lake"),
        "--directory",
        str(directory),
        "--out",
        str(tmp_path / "site"),
        "--as-of",
        AS_OF.isoformat(),
    ]
    result = CliRunner().invoke(cli.cli, args)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {directory / 'structures.csv'}, line 3: id '../../etc' has")
    assert "fix or remove that row" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "site").exists()
