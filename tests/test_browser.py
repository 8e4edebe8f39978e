"""The pages in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

The site is built by the real pipeline from the tiny seeded input of tests/test_pages.py and served by the
preview server of `build.py serve` (the whole site) on 127.0.0.1; one page is also opened from disk
(file://). axe-core is read from $AXE_CORE_JS or chromium.AXE_DEFAULT (conftest's `axe_script`).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from chromium import CHROMIUM, contrast, rgb, serious_violations, with_axe
from conftest import holidays_by_day, read_csv, serving
from test_pages import AS_OF, HOSTILE

from pipeline.constants import INDICATORS, PROFILES, RUN_ALERT_COLOUR
from pipeline.render import tile_text

pytestmark = pytest.mark.browser
STRUCTURE = "structures/s-lycee"
READY = "body[data-chart-ready='true'] #chart svg .role-mark"

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)", allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="Playwright is missing (pip install playwright)")


@pytest.fixture(scope="module")
def site(tiny_site: Path) -> Path:
    return tiny_site


@pytest.fixture(scope="module")
def base_url(site: Path) -> Iterator[str]:
    with serving(site) as url:
        yield url


VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def tab(browser) -> Iterator[object]:
    """One browser tab for the module's tests, each starting it on a blank page: a tab's next page is drawn by
    its warm renderer in about half the time a new tab takes (0.45 against 0.9 s a detail page here)."""
    context = browser.new_context(viewport=VIEWPORT, locale="fr-FR")
    yield context.new_page()
    context.close()


class Watched:
    """The module's tab for one test, recording every request, console error and uncaught error. It starts
    blank, at the default size, with no storage or cookie a test before left."""

    def __init__(self, tab, base_url: str) -> None:
        self.page = tab
        self.base_url = base_url
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self._listeners = {
            "request": lambda request: self.requests.append(request.url),
            "console": lambda m: self.errors.append(m.text) if m.type == "error" else None,
            "pageerror": lambda error: self.errors.append(str(error)),
            "dialog": lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()),
        }
        self.page.set_viewport_size(VIEWPORT)
        for event, listener in self._listeners.items():
            self.page.on(event, listener)

    def open(self, path: str, chart: bool = False):
        self.page.goto(self.base_url + path)
        if chart:
            self.page.wait_for_selector(READY, state="attached")
        return self.page

    def close(self) -> None:
        for event, listener in self._listeners.items():
            self.page.remove_listener(event, listener)
        self.page.context.clear_cookies()
        if self.page.url.startswith(self.base_url):  # the site's storage is read only from its pages
            self.page.evaluate("() => { sessionStorage.clear(); localStorage.clear(); }")
        self.page.goto("about:blank")


@pytest.fixture
def watched(tab, base_url: str) -> Iterator[Watched]:
    session = Watched(tab, base_url)
    yield session
    session.close()


def rerendered(page, before: str) -> None:
    page.wait_for_function(
        "b => { const c = document.getElementById('chart'); return c.dataset.rendered !== b"
        " && c.querySelector('svg .role-mark'); }",
        arg=before,
    )


def test_summary_tiles_show_summary_json(watched: Watched, site: Path) -> None:
    for folder in ("platform", STRUCTURE):
        tiles = json.loads((site / folder / "summary.json").read_text(encoding="utf-8"))["tiles"]
        page = watched.open(f"{folder}/index.html")
        for indicator in INDICATORS:
            tile = page.locator(f".tile[data-indicator='{indicator.id}']")
            assert tile.locator(".tile-value").inner_text() == tile_text(tiles[indicator.id]["value"])
            link = tile.get_by_role("link", name=indicator.label)
            assert link.get_attribute("href") == f"{indicator.id}.html"


def test_every_detail_chart_draws_marks_without_errors_or_outside_requests(watched: Watched) -> None:
    for indicator in INDICATORS:
        page = watched.open(f"{STRUCTURE}/{indicator.id}.html", chart=True)
        marks = page.locator("#chart svg .role-mark path, #chart svg .role-mark text").count()
        assert marks > 0, indicator.id
        assert page.locator("#table-region table tbody tr").count() > 0, indicator.id
        assert page.locator("#chart-desc").inner_text().strip() != "Le graphique se charge…"
    assert watched.errors == []
    assert watched.requests and all(url.startswith(watched.base_url) for url in watched.requests)


def test_hiding_a_profile_from_the_legend_removes_its_series(watched: Watched) -> None:
    page = watched.open("platform/connections.html", chart=True)
    lines = page.locator("#chart svg .mark-line path")
    assert lines.count() == len(PROFILES)
    before = page.locator("#chart").get_attribute("data-rendered")
    button = page.locator(".legend-item[data-profile='Teacher']")
    button.click()
    rerendered(page, before)
    assert button.get_attribute("aria-pressed") == "false"
    assert lines.count() == len(PROFILES) - 1
    teacher = next(p for p in PROFILES if p.code == "Teacher").shade
    strokes = lines.evaluate_all("paths => paths.map(p => p.getAttribute('stroke'))")
    assert teacher not in strokes and len(set(strokes)) == len(PROFILES) - 1
    before = page.locator("#chart").get_attribute("data-rendered")
    button.focus()
    page.keyboard.press("Space")  # the keyboard does it too
    rerendered(page, before)
    assert lines.count() == len(PROFILES)


def test_grouping_changes_the_chart_the_table_and_the_export(watched: Watched) -> None:
    page = watched.open("platform/unique_visitors.html", chart=True)
    export = page.get_by_role("link", name="Exporter les données")
    assert export.get_attribute("href") == "csv/unique_visitors-by-month.csv"
    assert page.locator("#as-of").inner_text() == "Données au 31 mars 2026"  # from data.js
    points = page.locator("#chart svg .mark-symbol path")
    rows = page.locator("#table-region tbody tr")
    months = points.count(), rows.count()
    before = page.locator("#chart").get_attribute("data-rendered")
    page.get_by_text("Semaine", exact=True).click()
    rerendered(page, before)
    assert export.get_attribute("href") == "csv/unique_visitors-by-week.csv"
    assert page.locator("#chart").get_attribute("data-chart") == "lines-week"
    assert points.count() > months[0] and rows.count() > months[1]
    response = page.request.get(watched.base_url + "platform/" + export.get_attribute("href"))
    assert response.ok and response.body().startswith('\ufeff"Établissement";'.encode())


def test_the_export_link_downloads_the_csv_bytes(watched: Watched, site: Path) -> None:
    page = watched.open("platform/connections.html", chart=True)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Exporter les données").click()
    download = download_info.value
    assert download.suggested_filename == "connections-by-month.csv"
    stored = (site / "platform/csv/connections-by-month.csv.gz").read_bytes()
    saved = Path(download.path()).read_bytes()
    assert saved == gzip.decompress(stored) and saved.startswith(b'\xef\xbb\xbf"\xc3\x89tablissement";')


@pytest.mark.parametrize("indicator", [i.id for i in INDICATORS if i.kind == "series"])
def test_the_detail_table_shows_the_csv_figures_for_every_grouping(
    watched: Watched, site: Path, indicator: str
) -> None:
    """The page derives weeks and months of counts, and the ratio, from data.js: the same as the CSVs."""
    page = watched.open(f"{STRUCTURE}/{indicator}.html", chart=True)
    for grouping, label in (("day", "Jour"), ("week", "Semaine"), ("month", "Mois")):
        before = page.locator("#chart").get_attribute("data-rendered")
        page.locator(f"label[for='grouping-{grouping}']").click()
        if grouping != "month":  # month is shown first: clicking it again renders nothing new
            rerendered(page, before)
        cells = page.locator("#table-region tbody td.num").all_inner_texts()  # not the holidays' names
        shown = [re.sub(r"\s", "", c).replace("—", "") for c in cells]
        rows = read_csv(site / STRUCTURE / "csv" / f"{indicator}-by-{grouping}.csv")
        assert shown == [list(r.values())[-1] for r in rows], (indicator, label)
        dates = sorted({r["Date"] for r in rows})
        assert page.locator("#table-region tbody tr").count() == len(dates)


def test_period_and_profile_choices_switch_the_top_apps(watched: Watched) -> None:
    page = watched.open(f"{STRUCTURE}/top_apps.html", chart=True)
    before = page.locator("#chart").get_attribute("data-rendered")
    page.locator("label[for='period-month']").click()
    rerendered(page, before)
    assert page.locator("#export").get_attribute("href") == "csv/top_apps-month.csv"
    before = page.locator("#chart").get_attribute("data-rendered")
    page.locator("label[for='profile-Student']").click()
    rerendered(page, before)
    colour = next(p for p in PROFILES if p.code == "Student").colour
    bars = page.locator("#chart svg .mark-rect path")
    fills = bars.evaluate_all("bars => bars.map(b => b.getAttribute('fill'))")
    assert fills and set(fills) == {colour}
    assert "Élèves" in page.locator("#table-region caption").inner_text()


def test_a_tooltip_shows_the_detail_by_profile(watched: Watched) -> None:
    page = watched.open("platform/connections.html", chart=True)
    box = page.locator("#chart svg .mark-symbol path").nth(3).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tooltip = page.locator("#vg-tooltip-element")
    tooltip.wait_for(state="visible")
    text = tooltip.inner_text()
    assert re.search(r"^\w+ \d{4} — [\d\u202f ]+ connexions, dont ", text), text
    assert all(p.label in text for p in PROFILES[1:]), text


def test_the_pointer_near_a_bucket_not_on_its_symbol_gets_its_tooltip_and_a_rule(watched: Watched) -> None:
    """Symbols are 4–7 px: the hover target is the bucket's whole column (here 40 px from the symbol)."""
    page = watched.open("platform/connections.html", chart=True)
    symbols = page.locator("#chart svg .mark-symbol path")
    boxes = symbols.evaluate_all("paths => paths.map(p => p.getBoundingClientRect().toJSON())")
    centres = sorted({round(b["x"] + b["width"] / 2) for b in boxes})
    x, y = centres[4], symbols.first.bounding_box()["y"]  # the fifth bucket
    page.mouse.move(x + 12, y - 40)
    tooltip = page.locator("#vg-tooltip-element")
    tooltip.wait_for(state="visible")
    bucket = page.locator("#table-region tbody tr").nth(4).locator("th").inner_text()
    assert tooltip.inner_text().startswith(bucket + " — "), (tooltip.inner_text(), bucket)
    rule = page.locator("#chart svg .mark-rule.role-mark line").first
    assert abs(rule.bounding_box()["x"] - x) < 2


def test_series_reach_3_to_1_and_differ_by_shape_as_well_as_colour(watched: Watched) -> None:
    page = watched.open("platform/connections.html", chart=True)
    strokes = page.locator("#chart svg .mark-line path").evaluate_all(
        "paths => paths.map(p => p.getAttribute('stroke'))"
    )
    assert sorted(strokes) == sorted(p.shade for p in PROFILES)
    assert all(contrast(rgb(colour), "rgb(255, 255, 255)") >= 3 for colour in strokes), strokes
    shapes = page.locator("#chart svg .mark-symbol path").evaluate_all(
        "paths => paths.map(p => [p.getAttribute('fill'), p.getAttribute('d')])"
    )
    by_colour = {}
    for fill, d in shapes:  # a symbol's outline, relative to its centre
        by_colour.setdefault(fill, set()).add(re.sub(r"M[-\d.]+,[-\d.]+", "", d)[:40])
    assert len({min(outlines) for outlines in by_colour.values()}) == len(PROFILES)
    swatches = page.locator(".legend-item .swatch").evaluate_all(
        "els => els.map(e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).clipPath])"
    )
    assert len({clip for _, clip in swatches}) == len(PROFILES)
    for (background, _), profile in zip(swatches, PROFILES):
        assert background == rgb(profile.shade)


def test_the_peak_is_highlighted(watched: Watched) -> None:
    page = watched.open("platform/hourly_peak.html", chart=True)
    assert page.locator("#chart svg .mark-text.role-mark text").text_content() == "Pic"
    assert page.locator("#table-region tr.peak").count() == 1


EMPTY_CHART = "body[data-chart-ready='true'] #chart[data-chart='empty'] .chart-empty"


def test_hiding_every_series_says_so_and_the_caption_stays_true(watched: Watched) -> None:
    page = watched.open("platform/connections.html", chart=True)
    caption = page.locator("#chart-desc")
    assert "Maximum (Tous)" in caption.inner_text()
    for profile in PROFILES:
        before = page.locator("#chart").get_attribute("data-rendered")
        page.locator(f".legend-item[data-profile='{profile.code}']").click()
        if profile is not PROFILES[-1]:
            rerendered(page, before)
    page.wait_for_selector(EMPTY_CHART)
    assert "Aucun profil affiché" in page.locator("#chart").inner_text()
    assert "Maximum" not in caption.inner_text() and "Aucun profil affiché" in caption.inner_text()
    page.locator(".legend-item[data-profile='Teacher']").click()  # one profile back: its line and its maximum
    page.wait_for_selector(READY, state="attached")
    assert page.locator("#chart svg .mark-line path").count() == 1
    assert "Maximum (Enseignants)" in caption.inner_text() and not page.locator(".chart-empty").count()
    assert not watched.errors


def test_an_entity_without_activity_says_so_and_zero_is_not_missing(watched: Watched) -> None:
    folder = "structures/s-hostile/classes/c-vide"
    page = watched.open(f"{folder}/top_apps.html")
    page.wait_for_selector(EMPTY_CHART)
    assert page.locator("#chart").inner_text() == "Aucun accès aux applis sur la période."
    assert not page.locator("#chart svg").count()
    page = watched.open(f"{folder}/hourly_peak.html")
    page.wait_for_selector(EMPTY_CHART)
    assert page.locator("#chart").inner_text() == "Aucune connexion sur la période."
    page = watched.open(f"{folder}/connections.html", chart=True)  # zeros are figures: the lines are drawn
    caption = page.locator("#chart-desc").inner_text()
    assert "0 connexions sur toute la période (Tous)" in caption and "Aucune donnée" not in caption
    assert page.evaluate("window.STATS_DATA.series.connections.day.v.all") == 0  # stored as one 0
    before = page.locator("#chart").get_attribute("data-rendered")
    page.locator("label[for='grouping-week']").click()
    rerendered(page, before)
    cells = page.locator("#table-region tbody td.num").all_inner_texts()
    assert len(cells) >= 6 * 53 and set(cells) == {"0"}  # a 0 in every week of every profile
    page = watched.open(f"{folder}/visits_per_visitor.html")  # no visitor: no ratio to draw
    page.wait_for_selector(EMPTY_CHART)
    assert "Aucun visiteur sur la période" in page.locator("#chart").inner_text()
    assert not watched.errors


def test_the_view_lives_in_the_url_and_carries_over_to_the_next_indicator(watched: Watched) -> None:
    page = watched.open("platform/connections.html#grouping=week&hidden=Teacher,Guest", chart=True)
    assert page.locator("#chart").get_attribute("data-chart") == "lines-week"
    assert page.locator("#grouping-week").is_checked()
    assert page.locator("#chart svg .mark-line path").count() == len(PROFILES) - 2
    assert page.locator(".legend-item[data-profile='Guest']").get_attribute("aria-pressed") == "false"
    before = page.locator("#chart").get_attribute("data-rendered")
    page.locator("label[for='grouping-day']").click()
    rerendered(page, before)
    assert page.evaluate("location.hash") == "#grouping=day&hidden=Teacher%2CGuest"
    page.locator(".indicators a[href^='top_apps.html']").click()  # no grouping nor legend there
    page.wait_for_selector(READY, state="attached")
    before = page.locator("#chart").get_attribute("data-rendered")
    page.locator("label[for='period-month']").click()
    rerendered(page, before)
    assert page.evaluate("location.hash") == "#grouping=day&period=month&hidden=Teacher%2CGuest"
    page.locator(".indicators a[href^='unique_visitors.html']").click()  # what applies here, carried on
    page.wait_for_selector(READY, state="attached")
    assert page.locator("#chart").get_attribute("data-chart") == "lines-day"
    assert page.locator("#chart svg .mark-line path").count() == len(PROFILES) - 2
    page.evaluate("location.hash = 'grouping=month'")  # a view pasted into the address bar
    page.wait_for_function("document.getElementById('chart').dataset.chart === 'lines-month'")
    page.wait_for_selector(READY, state="attached")
    assert page.locator("#chart svg .mark-line path").count() == len(PROFILES)
    assert not watched.errors


def test_a_url_view_with_unknown_values_falls_back_to_the_defaults(watched: Watched) -> None:
    view = "#grouping=%3Cscript%3E&hidden=nobody,Teacher&x=1"
    page = watched.open("platform/connections.html" + view, chart=True)
    assert page.locator("#chart").get_attribute("data-chart") == "lines-month"
    assert page.locator("#chart svg .mark-line path").count() == len(PROFILES) - 1
    assert page.evaluate("location.hash") == "#hidden=Teacher"
    assert not watched.errors and not watched.dialogs


def switch_period(page, there: str, back: str) -> None:
    """Render the chart again (after the test changed its data) by choosing another period, then back."""
    for period in (there, back):
        before = page.locator("#chart").get_attribute("data-rendered")
        page.locator(f"label[for='period-{period}']").click()
        rerendered(page, before)


def test_every_tied_peak_is_marked(watched: Watched) -> None:
    page = watched.open("platform/hourly_peak.html", chart=True)
    page.evaluate("""() => {  // two slots tie at the top: 08h-09h and 14h-15h
      const hours = window.STATS_DATA.hours['12months'];
      Object.keys(hours).forEach(code => hours[code].forEach((_, i) => {
        hours[code][i] = (i === 8 || i === 14) ? 5 : i % 3; }));
    }""")
    switch_period(page, "month", "12months")
    assert page.locator("#chart svg .mark-text.role-mark text").all_text_contents() == ["Pic", "Pic"]
    rows = page.locator("#table-region tr.peak th")
    assert [t.split(" ")[0] for t in rows.all_inner_texts()] == ["08h-09h", "14h-15h"]
    assert "Pics ex æquo : 08h-09h et 14h-15h avec" in page.locator("#chart-desc").inner_text()


def test_the_weekly_peak_gives_the_mean_per_occurrence(watched: Watched, site: Path) -> None:
    page = watched.open(f"{STRUCTURE}/weekly_peak.html", chart=True)
    periods = json.loads((site / STRUCTURE / "summary.json").read_text(encoding="utf-8"))["periods"]
    first, last = (date.fromisoformat(periods["12months"][k]) for k in ("first", "last"))
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    counts = [sum(1 for d in days if d.weekday() == w) for w in range(7)]
    table = [
        [cell.strip() for cell in row.split("\t")]
        for row in page.locator("#table-region tbody tr").all_inner_texts()
    ]
    assert [int(row[-2]) for row in table] == counts
    for row, n in zip(table, counts):  # Tous ÷ the weekday's count, one decimal, French
        tous = int(row[1].replace("\u202f", "").replace(" ", ""))
        assert row[-1] == f"{tous / n:.1f}".replace(".", ",").removesuffix(",0"), row
    peak = page.locator("#table-region tr.peak th").first.inner_text().split(" ")[0]
    n = counts[[r[0].split(" ")[0] for r in table].index(peak)]
    caption = page.locator("#chart-desc").inner_text()
    assert re.search(rf"par {peak.lower()}, {n} {peak.lower()}s\)", caption), caption


def test_the_highest_bars_are_marked_on_the_activation_and_app_charts(watched: Watched) -> None:
    page = watched.open("platform/activations.html", chart=True)
    values = [int(v) for v in page.locator("#table-region tbody tr td:nth-child(2)").all_inner_texts()]
    labels = page.locator("#chart svg .mark-text.role-mark text").all_text_contents()
    assert labels == ["Max"] * values.count(max(values)) and max(values) > 0
    page = watched.open("platform/top_apps.html", chart=True)
    counts = [
        int(v.replace("\u202f", ""))
        for v in page.locator("#table-region tbody tr td:nth-child(3)").all_inner_texts()
    ]
    weights = page.locator("#chart svg .role-axis-label text").evaluate_all(
        "texts => texts.map(t => [t.textContent, t.getAttribute('font-weight')])"
    )
    bold = {name for name, weight in weights if weight == "bold"}
    names = page.locator("#table-region tbody tr th").all_inner_texts()
    assert bold == {name for name, count in zip(names, counts) if count == counts[0]}


def test_partial_weeks_and_months_are_marked(watched: Watched) -> None:
    """The period opens on Saturday 1 March 2025 and ends on Tuesday 31 March 2026 (AS_OF): its first and
    last weeks each hold 2 of their 7 days."""
    page = watched.open("platform/connections.html#grouping=week", chart=True)
    tagged = page.locator("#table-region tr.partial th .partial-tag").all_inner_texts()
    assert tagged == [" (semaine partielle : 2 jours sur 7)"] * 2
    rows = page.locator("#table-region tbody tr")
    assert rows.first.get_attribute("class") == "partial" and rows.last.get_attribute("class") == "partial"
    assert rows.nth(1).get_attribute("class") is None
    fills = page.locator("#chart svg .mark-symbol path").evaluate_all(
        "paths => paths.map(p => p.getAttribute('fill'))"
    )
    assert fills.count("#ffffff") == 2 * len(PROFILES)  # hollow: the first and last weeks, every series
    page = watched.open("platform/connections.html", chart=True)  # by month: March 2026 is whole (31 of 31)
    assert not page.locator("#table-region tr.partial").count()


def test_the_day_view_shows_a_window_that_moves_and_widens(watched: Watched) -> None:
    """By day, 13 months are 396 points a series: the last 8 weeks first (56 days up to AS_OF)."""
    page = watched.open("platform/connections.html#grouping=day", chart=True)
    caption = page.locator("#chart-desc")
    earlier, later = page.locator("#window-earlier"), page.locator("#window-later")
    assert page.locator("#day-window").is_visible()
    assert "Affichés : du 4 février 2026 au 31 mars 2026." in caption.inner_text()
    assert later.is_disabled() and not earlier.is_disabled()
    labels = page.locator(X_LABELS).all_text_contents()
    assert labels[0] == "4 févr." and not [t for t in labels if "janv" in t or "2025" in t], labels
    before = page.locator("#chart").get_attribute("data-rendered")
    earlier.click()
    rerendered(page, before)
    assert "Affichés : du 10 décembre 2025 au 3 février 2026." in caption.inner_text()
    assert not later.is_disabled()
    before = page.locator("#chart").get_attribute("data-rendered")
    page.locator("label[for='window-all']").click()
    rerendered(page, before)
    assert "Affichés : du 1er mars 2025 au 31 mars 2026." in caption.inner_text()
    assert earlier.is_disabled() and later.is_disabled()
    assert page.evaluate("location.hash") == "#grouping=day&window=all"
    before = page.locator("#chart").get_attribute("data-rendered")
    page.locator("label[for='grouping-week']").click()
    rerendered(page, before)
    assert page.locator("#day-window").is_hidden() and "Affichés" not in caption.inner_text()
    assert not watched.errors


BANDS = "#chart svg g.holidays_marks path"


def _bands(page) -> list[tuple[float, float]]:
    """The holiday bands' [left, right] in the plot's pixels (Vega draws a rect as `Mx,yhw…`)."""
    paths = page.locator(BANDS).evaluate_all("ps => ps.map(p => p.getAttribute('d'))")
    bands = []
    for d in paths:
        x, width = re.match(r"M([-\d.e]+),[-\d.e]+h([-\d.e]+)", d).groups()
        bands.append((float(x), float(x) + float(width)))
    return bands


def test_holidays_are_shaded_where_the_calendar_says_and_the_legend_leaves_them(
    watched: Watched, site: Path
) -> None:
    """The platform's zone is C (its one structure with a zone is in Paris). By day, each day's point is
    inside a band exactly when summary.json lists that day as a holiday, and its tooltip names it."""
    listed = json.loads((site / "platform" / "summary.json").read_text(encoding="utf-8"))["holidays"]
    assert listed["zone"] == "C" and listed["periods"]
    holiday_of = holidays_by_day(site)
    page = watched.open("platform/connections.html#grouping=day&window=all", chart=True)
    key = page.locator("#holiday-key")
    assert key.is_visible() and key.inner_text() == "Vacances scolaires (zone C)"
    assert "Bandes grisées : vacances scolaires (zone C)." in page.locator("#chart-desc").inner_text()
    bands = _bands(page)
    assert len(bands) == len(listed["periods"])
    points = page.locator("#chart svg g.mark-symbol path[aria-label*='l: Tous;']").evaluate_all(
        "ps => ps.map(p => [p.transform.baseVal[0].matrix.e, p.getAttribute('aria-label')])"
    )
    points.sort()
    assert len(points) == (AS_OF - date(2025, 3, 1)).days + 1
    for k, (x, label) in enumerate(points):
        day = date(2025, 3, 1) + timedelta(days=k)
        shaded = any(left <= x <= right for left, right in bands)  # edges: half a day from a point
        assert shaded == (day in holiday_of), (day, x, bands)
        assert label.endswith(f" — {holiday_of[day]}") if day in holiday_of else " — Vacances" not in label

    for profile in ("all", "Teacher"):  # a legend toggle hides series, never the holidays
        before = page.locator("#chart").get_attribute("data-rendered")
        page.locator(f".legend-item[data-profile='{profile}']").click()
        rerendered(page, before)
    hidden = _bands(page)  # the same days: the plot may be narrower (the value axis's labels changed)
    scale = hidden[-1][1] / bands[-1][1]
    assert hidden == [pytest.approx((left * scale, right * scale)) for left, right in bands]
    assert key.is_visible()

    page = watched.open("platform/connections.html#grouping=week", chart=True)
    rows = dict(
        zip(
            page.locator("#table-region tbody th").all_inner_texts(),
            page.locator("#table-region tbody td.holiday").all_inner_texts(),
        )
    )
    assert page.locator("#table-region thead th").last.inner_text() == "Vacances scolaires"
    assert rows["semaine du 13 octobre 2025"] == "Vacances de la Toussaint (2 jours)"  # its weekend
    assert rows["semaine du 20 octobre 2025"] == "Vacances de la Toussaint"
    assert rows["semaine du 3 novembre 2025"] == ""
    assert len(_bands(page)) == len(listed["periods"])
    page = watched.open("platform/connections.html", chart=True)  # by month: no holidays
    assert page.locator(BANDS).count() == 0 and key.is_hidden()
    assert page.locator("#table-region td.holiday").count() == 0
    page = watched.open("platform/top_apps.html", chart=True)
    assert page.locator("#holiday-key").count() == 0
    assert not watched.errors


def test_the_runs_history_draws_its_charts_and_says_what_to_check(watched: Watched, site: Path) -> None:
    """The tiny site's one run: day D (31 March 2026) holds far fewer events than the usual Tuesday."""
    page = watched.open("platform/runs.html")
    page.wait_for_selector("body[data-chart-ready='true']", state="attached")
    alerts = page.locator("#run-alerts")
    assert alerts.is_visible() and "d'habitude ce jour de la semaine" in alerts.inner_text()
    top = page.evaluate("document.getElementById('run-alerts').getBoundingClientRect().top")
    assert top < page.evaluate("document.getElementById('runs-events').getBoundingClientRect().top")
    bars = page.locator("#runs-events svg .mark-rect.role-mark path")
    assert bars.count() == 1 and bars.first.get_attribute("fill") == RUN_ALERT_COLOUR
    assert page.locator("#runs-events svg .mark-rule.role-mark line").count() == 1  # the usual level
    stages = page.locator("#runs-seconds svg .mark-rect.role-mark path")
    assert stages.count() == 2  # `site` had run aggregate and indicators when it wrote the page
    assert page.locator("#runs-table tbody tr").count() == 1
    assert page.locator("#runs-table tbody tr").first.get_attribute("class") == "run-flagged"
    assert not watched.errors and all(url.startswith(watched.base_url) for url in watched.requests)


def test_a_page_opened_from_disk_works(watched: Watched, site: Path) -> None:
    page = watched.page
    page.goto((site / STRUCTURE / "weekly_peak.html").as_uri())
    page.wait_for_selector(READY, state="attached")
    assert page.locator("#chart svg .mark-rect path").count() > 0
    assert watched.errors == []
    assert all(url.startswith("file://") for url in watched.requests)
    export = page.locator("#export").get_attribute("href")  # from disk, the stored file itself
    assert export == "csv/weekly_peak-12months.csv.gz" and (site / STRUCTURE / export).is_file()


def test_hostile_names_show_as_text(watched: Watched) -> None:
    page = watched.open("structures/s-hostile/connections.html", chart=True)
    assert HOSTILE in page.locator("h1").inner_text()
    assert HOSTILE in page.locator(".entity-name").inner_text()
    page.locator("#switcher-toggle").click()
    page.locator("#switcher-panel a", has_text=HOSTILE).wait_for()
    page.goto(watched.base_url + "index.html")
    assert page.get_by_role("link", name=HOSTILE).count() == 1
    page = watched.open("structures/s-hostile/top_apps.html", chart=True)
    assert "</script><img" in page.locator("#table-region").inner_text()
    assert watched.dialogs == [] and watched.errors == []


def test_the_switcher_offers_the_structures_and_the_classes(watched: Watched) -> None:
    page = watched.open(f"{STRUCTURE}/classes/c-2nde-a/activations.html", chart=True)
    toggle = page.locator("#switcher-toggle")
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    panel = page.locator("#switcher-panel")
    panel.get_by_role("link", name="1ère B </script>").wait_for()
    assert panel.get_by_role("link", name="1ère B </script>").get_attribute("href") == (
        "../../../../structures/s-lycee/classes/c-1ere-b/activations.html"
    )
    page.keyboard.type("hostile")
    assert panel.locator(".structures li").count() == 1
    page.keyboard.press("Escape")
    assert panel.is_hidden() and toggle.get_attribute("aria-expanded") == "false"


def test_the_switcher_keeps_a_visible_focus_and_closes_when_focus_leaves(watched: Watched) -> None:
    page = watched.open(f"{STRUCTURE}/connections.html", chart=True)
    toggle = page.locator("#switcher-toggle")
    toggle.focus()
    page.keyboard.press("Enter")
    panel = page.locator("#switcher-panel")
    panel.locator("a").first.wait_for()
    page.keyboard.press("Tab")  # from the filter to the first link of the panel
    ring, background = page.evaluate(
        "() => [getComputedStyle(document.activeElement).outlineColor,"
        " getComputedStyle(document.getElementById('switcher-panel')).backgroundColor]"
    )
    assert page.evaluate("document.getElementById('switcher-panel').contains(document.activeElement)")
    assert contrast(ring, background) >= 3, (ring, background)
    bar_ring = page.evaluate(
        "() => { document.getElementById('switcher-toggle').focus();"
        " return getComputedStyle(document.activeElement).outlineColor; }"
    )
    bar = page.evaluate("getComputedStyle(document.querySelector('.top')).backgroundColor")
    assert contrast(bar_ring, bar) >= 3, (bar_ring, bar)
    assert not panel.is_hidden()  # focus went back to the button: the panel stays open
    in_switcher = "document.querySelector('.switcher').contains(document.activeElement)"
    for _ in range(100):  # Tab through the panel's filter and links, and out of it
        page.keyboard.press("Tab")
        if not page.evaluate(in_switcher):
            break
    assert not page.evaluate(in_switcher)
    assert panel.is_hidden() and toggle.get_attribute("aria-expanded") == "false"


PAGE_KINDS = [
    "index.html",
    "platform/index.html",
    "platform/connections.html#grouping=day",
    f"{STRUCTURE}/index.html",
    f"{STRUCTURE}/hourly_peak.html",
    f"{STRUCTURE}/top_apps.html",
    f"{STRUCTURE}/classes/c-2nde-a/weekly_peak.html",
]


WIDTHS = [320, 390, 768, 1280]


@pytest.mark.parametrize("path", PAGE_KINDS)
def test_no_page_kind_scrolls_sideways(watched: Watched, path: str) -> None:
    """Opened on the narrowest screen, then widened through the others (the layout follows the window, as
    when a tablet turns): no width scrolls sideways, the switcher's panel open included. Each width is also
    opened directly on a detail page (test_a_detail_page_works_at_every_width)."""
    page = watched.page
    page.set_viewport_size({"width": WIDTHS[0], "height": 800})
    watched.open(path, chart="index" not in path)
    toggle = page.locator("#switcher-toggle")
    if toggle.count():
        toggle.click()  # the open switcher too
        page.locator("#switcher-panel a").first.wait_for()
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        overflow = page.evaluate(
            "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() =>"
            " r(document.documentElement.scrollWidth - innerWidth))))"
        )
        assert overflow <= 0, (width, path, overflow)
        if toggle.count():
            name = page.locator("#switcher-toggle .entity-name")
            assert toggle.get_attribute("title") == name.inner_text()  # the whole name, however cut


def test_on_a_phone_the_table_keeps_its_first_column_and_the_current_indicator_shows(
    watched: Watched,
) -> None:
    page = watched.page
    page.set_viewport_size({"width": 390, "height": 844})
    watched.open("platform/activations.html", chart=True)  # the last indicator of the list
    listing = page.locator(".indicators ul").bounding_box()
    current = page.locator(".indicators a[aria-current='page']").bounding_box()
    assert listing["x"] <= current["x"] and current["x"] + current["width"] <= listing["x"] + listing["width"]
    region = page.locator("#table-region")
    first = page.locator("#table-region tbody tr th").first
    before = first.bounding_box()["x"]
    assert region.evaluate("r => r.scrollWidth > r.clientWidth")  # seven columns do not fit
    region.evaluate("r => { r.scrollLeft = 200; }")
    assert region.evaluate("r => r.scrollLeft") > 0
    assert abs(first.bounding_box()["x"] - before) < 1  # it stays in place, the others move
    assert page.locator("#table-region thead th").nth(1).bounding_box()["x"] < before + 100


X_LABELS = "#chart svg .role-axis[aria-label^='X-axis'] .role-axis-label text"


@pytest.mark.parametrize("kind, short", [("hourly_peak", "09h"), ("weekly_peak", "Mer")])
def test_on_a_phone_slot_labels_are_abbreviated_and_never_pile_up(
    watched: Watched, kind: str, short: str
) -> None:
    page = watched.page
    page.set_viewport_size({"width": 390, "height": 844})
    watched.open(f"platform/{kind}.html", chart=True)
    texts = [t for t in page.locator(X_LABELS).all_text_contents() if t]
    assert short in texts and all(len(t) <= 3 for t in texts), texts
    boxes = page.locator(X_LABELS).evaluate_all(
        "ts => ts.filter(t => t.textContent).map(t => t.getBoundingClientRect().toJSON())"
    )
    for a, b in zip(boxes, boxes[1:]):  # hour labels are turned 45°: their boxes may touch, not their text
        across = min(a["right"], b["right"]) - max(a["left"], b["left"])
        down = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
        assert across <= 0.5 or down <= 0.5 or across * down < 0.5 * a["width"] * a["height"], (a, b)
    page.set_viewport_size({"width": 1280, "height": 900})  # wide: the whole names again
    page.reload()
    page.wait_for_selector(READY, state="attached")
    assert short not in page.locator(X_LABELS).all_text_contents()


def test_a_tap_shows_what_a_hover_shows(browser, base_url: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(base_url + "platform/hourly_peak.html")
        page.wait_for_selector(READY, state="attached")
        tip = page.locator("#tap-tip")
        assert tip.is_hidden()
        bar = page.locator("#chart svg .mark-rect path").nth(8 * 5)  # 08h-09h, a profile
        bar.scroll_into_view_if_needed()
        box = bar.bounding_box()
        page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        tip.wait_for(state="visible")
        assert tip.inner_text().startswith("08h-09h — ") and "dont" in tip.inner_text(), tip.inner_text()
    finally:
        context.close()


def test_the_root_filter_narrows_the_structures(watched: Watched) -> None:
    page = watched.open("index.html")
    items = page.locator("#structures li:visible")
    assert items.count() == 2
    page.get_by_label("Filtrer par nom, UAI ou identifiant").fill("lycee")
    page.wait_for_function("document.querySelectorAll('#structures li:not([hidden])').length === 1")
    assert "Victor Hugo" in items.first.inner_text()


def test_axe_finds_no_serious_violation(browser, base_url: str, axe_script: str) -> None:
    pages = ["index.html", f"{STRUCTURE}/index.html", *(f"{STRUCTURE}/{i.id}.html" for i in INDICATORS)]
    pages += ["platform/connections.html#grouping=day"]  # the day window's controls
    pages += ["platform/structures.html", f"{STRUCTURE}/classes.html"]  # side by side
    context = with_axe(browser.new_context(viewport=VIEWPORT, locale="fr-FR"), axe_script)
    page = context.new_page()
    try:
        for path in pages:
            page.goto(base_url + path)
            if path.split("/")[-1].split(".")[0] in {i.id for i in INDICATORS}:
                page.wait_for_selector(READY, state="attached")
            assert serious_violations(page, None) == [], path
    finally:
        context.close()


def test_a_line_breaks_where_a_ratio_has_no_value(watched: Watched) -> None:
    """By day, most days of the tiny site have no visitor of a given profile: no ratio, so no line across."""
    page = watched.open("platform/visits_per_visitor.html#grouping=day", chart=True)
    paths = page.locator("#chart svg .mark-line path").evaluate_all("ps => ps.map(p => p.getAttribute('d'))")
    table = page.locator("#table-region tbody tr td:nth-child(3)").all_inner_texts()  # Enseignants by day
    assert "—" in table  # days without a teacher visitor
    assert all(d.count("M") > 1 for d in paths), [d.count("M") for d in paths]


@pytest.mark.parametrize(
    "path", [f"{STRUCTURE}/classes/c-2nde-a/activations.html", f"{STRUCTURE}/classes/c-1ere-b/top_apps.html"]
)
def test_counts_get_whole_number_ticks_only(watched: Watched, path: str) -> None:
    page = watched.open(path + "#grouping=day", chart=True)  # a few events a day: values of 0, 1, 2
    labels = page.locator("#chart svg .role-axis-label text").all_text_contents()
    numbers = [t for t in labels if re.fullmatch(r"[\d\u202f ,.]+", t)]
    assert numbers and all(re.fullmatch(r"\d[\d\u202f ]*", t) for t in numbers), numbers


@pytest.mark.parametrize("width", WIDTHS)
def test_a_detail_page_works_at_every_width(browser, base_url: str, width: int) -> None:
    """The points of issue 12 that depend on the screen, at each width: the chart and its legend, the
    tooltip (by hover, or by tap on a touch screen), the table's first column, no sideways scroll."""
    touch = width < 768
    context = browser.new_context(viewport={"width": width, "height": 900}, has_touch=touch, locale="fr-FR")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(base_url + "platform/connections.html")
        page.wait_for_selector(READY, state="attached")
        assert page.evaluate("document.documentElement.scrollWidth - innerWidth") <= 0
        before = page.locator("#chart").get_attribute("data-rendered")
        page.locator(".legend-item[data-profile='Guest']").click()
        rerendered(page, before)
        assert page.locator("#chart svg .mark-line path").count() == len(PROFILES) - 1
        symbol = page.locator("#chart svg .mark-symbol path").nth(2)
        symbol.scroll_into_view_if_needed()
        box = symbol.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        if touch:
            page.touchscreen.tap(x, y)
            shown = page.locator("#tap-tip")
        else:
            page.mouse.move(x, y)
            shown = page.locator("#vg-tooltip-element")
        shown.wait_for(state="visible")
        assert " connexions, dont " in shown.inner_text()
        region = page.locator("#table-region")
        first = page.locator("#table-region tbody tr th").first
        left = first.bounding_box()["x"]
        region.evaluate("r => { r.scrollLeft = 120; }")
        assert abs(first.bounding_box()["x"] - left) < 1  # scrolled or not, it stays
        assert not errors
    finally:
        context.close()
