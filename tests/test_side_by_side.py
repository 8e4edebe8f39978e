"""SPEC 3.5, side by side: the CSV's header, row order (accents and case ignored, then the id), empty cells,
the year before's columns; the pages' rows and links. Expectations counted by hand from the events below."""

from __future__ import annotations

import re
from datetime import date

import pytest
from chromium import serious_violations
from conftest import Site, csv_bytes, event, serving, write_directory, write_lines

from pipeline import ingest
from pipeline.side_by_side import collation_key
from pipeline.site import SiteOptions, build

AS_OF = "2026-03-31"
STRUCTURES = [
    ("s1", "0750001A", "Lycée Un"),
    ("s2", "0750002B", "Collège Deux"),
    ("s3", "0750003C", "école trois"),
    ("s4", "0750004D", "=Formule"),
    ("s5", "0750005E", "LYCEE UN"),  # the same name as s1 once accents and case are ignored: after it (id)
]
CLASSES = [("c1", "s1", "2nde A"), ("c2", "s1", "1ère B")]
HEADER = (
    '"Établissement";"UAI";"Classe";"Connexions";"Visiteurs uniques";"Visites par visiteur unique";'
    '"Appli la plus utilisée";"Pic de connexion journalier";"Pic de connexion hebdomadaire";'
    '"Comptes activés";'
    '"Connexions un an avant";"Visiteurs uniques un an avant";"Visites par visiteur unique un an avant";'
    '"Comptes activés un an avant"'
)
# 12 months: 2025-03-01 … 2026-03-31, the 12 months before: 2024-03-02 … 2025-04-01;
# the month: 2026-03-01 … 31, the month before: 2025-03-02 … 2025-04-01
S1 = {"structures": ["s1"], "classes": ["c1"]}
EVENTS = [
    event("GET_RESOURCE", when="2024-01-01 10:00", user="x", structures=["s2"]),  # the lake's first day
    event(when="2025-03-15 09:00", user="u1", **S1),  # a Saturday; in both 12 months and the month before
    event("ACTIVATION", when="2025-06-01 10:00", user="u9", **S1),
    event(when="2026-03-10 09:00", user="u1", **S1),  # a Tuesday
    event(when="2026-03-11 14:00", user="u1", **S1),  # a Wednesday
    event("ACCESS", when="2026-03-10 09:05", user="u1", module="Blog", **S1),
    event(when="2026-03-05 10:00", user="u2", structures=["s2"]),  # a Thursday
]
EMPTY_ROW = '"0";"0";"";"";"";"";"0";"0";"0";"";"0"'  # no event: counts 0, no ratio, no top; covered


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("side")
    lake = folder / "lake"
    ingest.run([write_lines(folder / "events.json", EVENTS)], lake)
    directory = write_directory(folder / "directory", STRUCTURES, CLASSES)
    report = build(SiteOptions(lake, directory, folder / "site", date.fromisoformat(AS_OF)))
    return Site(folder / "site", report)


def lines(path) -> list[str]:
    text = csv_bytes(path).decode("utf-8")
    assert text.startswith("\ufeff") and text.endswith("\r\n")
    return text[1:].split("\r\n")[:-1]


def test_the_structures_csv(site):
    assert lines(site.root / "platform/csv/structures.csv") == [
        HEADER,
        '"\'=Formule";"0750004D";"";' + EMPTY_ROW,
        '"Collège Deux";"0750002B";"";"1";"1";"1,00";"";"10h-11h";"Jeudi";"0";"0";"0";"";"0"',
        '"école trois";"0750003C";"";' + EMPTY_ROW,
        # 3 logins in the 12 months (09h twice; Saturday, Tuesday, Wednesday: the earliest from Monday),
        # 2 in the month by 1 visitor; the year before: 1 login by 1 visitor, no activation yet
        '"Lycée Un";"0750001A";"";"3";"1";"2,00";"Blog";"09h-10h";"Mardi";"1";"1";"1";"1,00";"0"',
        '"LYCEE UN";"0750005E";"";' + EMPTY_ROW,
    ]


def test_the_classes_csv_and_a_structure_without_classes(site):
    assert lines(site.root / "structures/s1/csv/classes.csv") == [
        HEADER,
        '"Lycée Un";"0750001A";"1ère B";' + EMPTY_ROW,  # 1ère before 2nde
        '"Lycée Un";"0750001A";"2nde A";"3";"1";"2,00";"Blog";"09h-10h";"Mardi";"1";"1";"1";"1,00";"0"',
    ]
    assert lines(site.root / "structures/s2/csv/classes.csv") == [HEADER]
    page = (site.root / "structures/s2/classes.html").read_text(encoding="utf-8")
    assert "Aucune classe de cet établissement n&#39;a de pages." in page and "<table" not in page


def test_an_uncovered_year_before_leaves_its_cells_empty(make_site):
    # the lake starts 2025-01-10: the month before (2025-03-02 …) is covered, the 12 months before are not
    documents = [event(when="2025-01-10 10:00", user="u7"), event(when="2026-03-10 09:00", user="u1")]
    built = make_site(documents, as_of=AS_OF, structures=[("s1", "0750001A", "Lycée Un")])
    rows = lines(built.root / "platform/csv/structures.csv")
    assert rows[1] == '"Lycée Un";"0750001A";"";"1";"1";"1,00";"";"09h-10h";"Mardi";"0";"";"0";"";""'


def rows_of(page: str) -> list[tuple[str, str, list[str]]]:
    """(link, name, cells' texts) of each body row of a side-by-side page."""
    out = []
    for row in re.findall(r"<tr>(.*?)</tr>", page.split("</thead>")[1], re.S):
        link, name = re.search(r'<a href="([^"]+)">([^<]*)</a>', row).groups()
        out.append((link, name, re.findall(r"<td[^>]*>([^<]*)</td>", row)))
    return out


def test_the_pages_list_the_rows_in_order_with_links_and_changes(site):
    page = (site.root / "platform/structures.html").read_text(encoding="utf-8")
    rows = rows_of(page)
    assert [(link, name) for link, name, _ in rows] == [
        ("../structures/s4/index.html", "=Formule"),
        ("../structures/s2/index.html", "Collège Deux"),
        ("../structures/s3/index.html", "école trois"),
        ("../structures/s1/index.html", "Lycée Un"),
        ("../structures/s5/index.html", "LYCEE UN"),
    ]
    # Lycée Un: UAI, then each tile, a change after the four compared ones
    nbsp = "\u202f"
    assert rows[3][2] == [
        "0750001A",
        "3",
        f"+200{nbsp}%",
        "1",
        f"0{nbsp}%",
        "2,00",
        f"+100{nbsp}%",
        "Blog",
        "09h-10h",
        "Mardi",
        "1",
        "nouveau",
    ]
    assert rows[0][2][1:] == ["0", "—", "0", "—", "—", "—", "—", "—", "—", "0", "—"]
    classes = rows_of((site.root / "structures/s1/classes.html").read_text(encoding="utf-8"))
    assert [(link, name) for link, name, _ in classes] == [
        ("classes/c2/index.html", "1ère B"),
        ("classes/c1/index.html", "2nde A"),
    ]


def test_summary_pages_link_to_them(site):
    read = lambda path: (site.root / path).read_text(encoding="utf-8")
    assert '<a href="structures.html">Comparer les établissements</a>' in read("platform/index.html")
    assert '<a href="classes.html">Comparer les classes</a>' in read("structures/s1/index.html")
    assert "Comparer" not in read("structures/s1/classes/c1/index.html")


def test_collation_ignores_accents_and_case():
    names = ["Lycée", "École", "Collège", "ecole"]
    assert sorted(names, key=collation_key) == ["Collège", "École", "ecole", "Lycée"]


# ------------------------------------------------------------------------------------ in Chromium
@pytest.fixture(scope="module")
def served(site):
    with serving(site.root) as url:
        yield url


@pytest.mark.browser
def test_the_table_sorts_both_ways_by_mouse_and_keyboard_and_filters(browser, served, axe_script):
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(served + "platform/structures.html")
    names = lambda: page.locator("#compare-table tbody tr:not([hidden]) th").all_inner_texts()
    headers = page.locator("#compare-table thead th")
    announced = page.locator("#compare-sorted")
    assert names() == ["=Formule", "Collège Deux", "école trois", "Lycée Un", "LYCEE UN"]
    assert headers.nth(0).get_attribute("aria-sort") == "ascending"

    connections = page.get_by_role("button", name="Connexions depuis un an")
    connections.click()  # figures: largest first; ties (three zeros) keep the page's order
    assert names() == ["Lycée Un", "Collège Deux", "=Formule", "école trois", "LYCEE UN"]
    assert headers.nth(2).get_attribute("aria-sort") == "descending"
    assert headers.nth(0).get_attribute("aria-sort") is None
    assert announced.inner_text() == "Tableau trié par Connexions depuis un an, ordre décroissant."
    connections.focus()
    page.keyboard.press("Enter")  # the same column again: the other way
    assert names() == ["=Formule", "école trois", "LYCEE UN", "Collège Deux", "Lycée Un"]
    assert headers.nth(2).get_attribute("aria-sort") == "ascending"
    assert announced.inner_text().endswith("ordre croissant.")

    change = page.get_by_role("button", name="Sur un an : évolution, connexions")
    change.focus()
    page.keyboard.press("Space")  # nouveau above +200 %; cells without a change last, both ways
    assert names() == ["Collège Deux", "Lycée Un", "=Formule", "école trois", "LYCEE UN"]
    page.keyboard.press("Space")
    assert names() == ["Lycée Un", "Collège Deux", "=Formule", "école trois", "LYCEE UN"]
    page.get_by_role("button", name="Établissement", exact=True).click()  # A to Z, accents and case ignored
    assert names() == ["=Formule", "Collège Deux", "école trois", "Lycée Un", "LYCEE UN"]

    search = page.get_by_label("Filtrer par nom ou UAI")
    count = page.locator("#compare-count")
    assert count.inner_text() == "5 établissements"
    search.fill("lycee")
    page.wait_for_function("document.getElementById('compare-count').textContent.includes('sur')")
    assert (names(), count.inner_text()) == (["Lycée Un", "LYCEE UN"], "2 établissements sur 5")
    search.fill("0750002")  # a UAI
    page.wait_for_function("document.getElementById('compare-count').textContent.startsWith('1 ')")
    assert (names(), count.inner_text()) == (["Collège Deux"], "1 établissement sur 5")
    search.fill("")
    page.wait_for_function("document.getElementById('compare-count').textContent === '5 établissements'")
    assert len(names()) == 5

    for path in ("platform/structures.html", "structures/s1/classes.html", "structures/s2/classes.html"):
        page.goto(served + path)
        assert serious_violations(page, axe_script) == [], path
    assert errors == []
    context.close()
