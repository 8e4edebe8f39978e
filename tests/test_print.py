"""The pages on paper: Chromium's PDF output (A4 portrait) of the summary and the detail pages, read back with
pypdf. What must be there (the entity, its as-of day, the chart's words, its table, the period in words), what
must not (navigation, controls), how many sheets, and no table row cut across two of them."""

from __future__ import annotations

import io
import re
import unicodedata
from datetime import date, timedelta

import pytest
from conftest import holidays_by_day, read_csv
from test_browser import STRUCTURE, Watched, base_url, site, tab, watched  # noqa: F401 -- its fixtures
from test_pages import AS_OF

from pipeline.constants import INDICATORS, PROFILES, WEEKDAYS
from pipeline.render import date_words

pytestmark = pytest.mark.browser
pypdf = pytest.importorskip("pypdf", reason="pypdf is missing (pip install -e '.[test]')")

A4_POINTS = (595.28, 841.89)
CHROME = (
    "Aller au contenu",
    "Statistiques",
    "Voir le détail",
    "Grouper par",
    "Exporter les données",
    "Afficher",
)
FIRST_DAY = AS_OF.replace(year=AS_OF.year - 1, day=1)  # 12months: 1 March 2025 … 31 March 2026


def printed(session: Watched, path: str, chart: bool = True) -> list[str]:
    """Each A4 sheet's text (NFKC: no ligatures), after checking that every sheet is A4 portrait."""
    page = session.open(path, chart=chart)
    reader = pypdf.PdfReader(io.BytesIO(page.pdf(prefer_css_page_size=True)))
    for sheet in reader.pages:
        assert (float(sheet.mediabox.width), float(sheet.mediabox.height)) == pytest.approx(A4_POINTS, abs=1)
    assert not session.errors
    return [unicodedata.normalize("NFKC", sheet.extract_text()) for sheet in reader.pages]


def test_a_summary_prints_on_one_sheet_with_its_seven_tiles(watched: Watched, site) -> None:  # noqa: F811
    (text,) = printed(watched, f"{STRUCTURE}/index.html", chart=False)
    assert 'Synthèse — Lycée Victor Hugo & Cie, "Paris"' in text
    assert f"Données au {date_words(AS_OF)}" in text
    for indicator in INDICATORS:
        assert indicator.label in text
    assert "depuis un an (1er mars 2025 – 31 mars 2026)" in " ".join(text.split())
    for chrome in (*CHROME, "Comparer les classes"):
        assert chrome not in text


def test_a_detail_page_prints_its_chart_table_and_period_without_navigation(watched: Watched) -> None:  # noqa: F811
    (text,) = printed(watched, f"{STRUCTURE}/connections.html")  # by month: 13 rows, one sheet
    words = " ".join(text.split())
    assert 'Connexions — Lycée Victor Hugo & Cie, "Paris"' in words and "Données au 31 mars 2026" in words
    assert "Courbes : connexions par mois, depuis un an (du 1er mars 2025 au 31 mars 2026)" in words
    caption = "Connexions par mois, depuis un an (du 1er mars 2025 au 31 mars 2026)"
    assert caption in words
    for profile in PROFILES:
        assert profile.label in words  # the legend, and the table's head
    for chrome in CHROME:
        assert chrome not in words
    other = [i.label for i in INDICATORS if i.id != "connections"]
    assert not [label for label in other if label in words]  # the indicator list is not printed


def test_a_year_by_day_prints_every_row_whole_on_a4_sheets(watched: Watched, site) -> None:  # noqa: F811
    """396 days: several sheets, each repeating the table's head; every day's row once, on one line of one
    sheet, with the figures of the CSV and the holiday it falls in."""
    sheets = printed(watched, "platform/connections.html#grouping=day")
    assert 8 <= len(sheets) <= 16  # 397 lines of table at 9 pt
    head = "Jour " + " ".join(p.label for p in PROFILES) + " Vacances scolaires"
    assert all(head in " ".join(sheet.split()) for sheet in sheets)
    assert "Affichés : du 4 février 2026 au 31 mars 2026." in " ".join(sheets[0].split())
    holiday_of = holidays_by_day(site)
    counts: dict[str, list[str]] = {}
    for row in read_csv(site / "platform" / "csv" / "connections-by-day.csv"):
        counts.setdefault(row["Date"], []).append(row["Connexions"])
    found = {}
    for number, sheet in enumerate(sheets):
        for line in sheet.splitlines():
            match = re.match(r"^([a-z]+ \d+(?:er)? [a-zéû]+ \d{4}) ((?:\d+ ){5}\d+)(.*)$", line.strip())
            if match:
                assert match[1] not in found, f"{match[1]} printed twice"
                found[match[1]] = (number, match[2].split(), match[3].strip())
    day = FIRST_DAY
    while day <= AS_OF:
        label = f"{WEEKDAYS[day.weekday()].lower()} {date_words(day)}"
        assert label in found, f"the row of {label} is missing or cut"
        _sheet, figures, holiday = found[label]
        assert figures == counts[day.isoformat()], label
        assert holiday == holiday_of.get(day, ""), label
        day += timedelta(days=1)
    assert len(found) == (AS_OF - FIRST_DAY).days + 1
    assert len({sheet for sheet, _f, _h in found.values()}) == len(sheets)  # rows on every sheet


def test_a_year_by_week_prints_rows_of_several_lines_whole(watched: Watched, site) -> None:  # noqa: F811
    """By week a row may take several lines (a partial week's note, a holiday's name wrapped): each is whole
    on one sheet, as `label figures holiday` once the sheet's text is read without its line breaks."""
    sheets = [
        " ".join(sheet.split()) for sheet in printed(watched, "platform/connections.html#grouping=week")
    ]
    assert len(sheets) >= 2
    holiday_of = holidays_by_day(site)
    figures: dict[str, list[str]] = {}
    for row in read_csv(site / "platform" / "csv" / "connections-by-week.csv"):
        figures.setdefault(row["Date"], []).append(row["Connexions"])
    for monday_text, counts in figures.items():
        monday = date.fromisoformat(monday_text)
        days = [d for d in (monday + timedelta(days=n) for n in range(7)) if FIRST_DAY <= d <= AS_OF]
        label = f"semaine du {date_words(monday)}"
        if len(days) < 7:
            label += f" (semaine partielle : {len(days)} jour{'s' if len(days) > 1 else ''} sur 7)"
        held: dict[str, int] = {}
        for day in days:
            if day in holiday_of:
                held[holiday_of[day]] = held.get(holiday_of[day], 0) + 1
        words = ", ".join(
            name + (f" ({n} jour{'s' if n > 1 else ''})" if n < 7 else "") for name, n in held.items()
        )
        row = " ".join([label, *counts, words]).strip()
        whole = re.compile(re.escape(row) + r"(?!\S)(?! Vacances| \()")  # nothing of it further on
        on = [k for k, sheet in enumerate(sheets) if whole.search(sheet)]
        assert len(on) == 1, f"{row!r} is not whole on one sheet"


def test_a_row_of_many_lines_is_never_cut_across_two_sheets(watched: Watched) -> None:  # noqa: F811
    """Each row of the week table made eight lines tall (its holiday cell filled with words that wrap): a
    sheet ends between two rows, never inside one, so each row's first and last words share a sheet."""
    page = watched.open("platform/connections.html#grouping=week", chart=True)
    rows = page.evaluate(
        """() => Array.from(document.querySelectorAll('#table-region tbody tr')).map((tr, k) => {
             tr.querySelector('td.holiday').textContent =
               'debut' + k + ' ' + Array(14).fill('mot').join(' ') + ' fin' + k;
             return k; }).length"""
    )
    reader = pypdf.PdfReader(io.BytesIO(page.pdf(prefer_css_page_size=True)))
    sheets = [set(unicodedata.normalize("NFKC", sheet.extract_text()).split()) for sheet in reader.pages]
    assert len(sheets) >= 3
    for k in range(rows):
        starts = [n for n, words in enumerate(sheets) if f"debut{k}" in words]
        ends = [n for n, words in enumerate(sheets) if f"fin{k}" in words]
        assert len(starts) == 1 and starts == ends, f"row {k} is cut: it starts on {starts}, ends on {ends}"
