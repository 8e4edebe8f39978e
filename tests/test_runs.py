"""The runs' own history: a row per `site` and `nightly` in LAKE/runs/, kept by the retention, and
platform/runs.html with its alerts, its table, its charts' data and its CSV."""

from __future__ import annotations

import json
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import event, read_csv, write_directory, write_lines

from build import cli
from pipeline import runs
from pipeline.constants import RUN_STAGES

HISTORY_FIRST = date(2025, 9, 1)  # a Monday
NIGHT_1 = date(2025, 11, 25)  # a Tuesday of a school week (the Toussaint holidays ended on 2 November)
PER_DAY = 40


def _day_events(day: date, count: int, first: int = 0) -> list[dict]:
    return [
        event("LOGIN", f"{day.isoformat()} 10:{k % 60:02d}", f"u{(first + k) % 97}", "Student", ["s1"])
        for k in range(count)
    ]


def _history_until(last: date) -> list[dict]:
    """PER_DAY events on every school day (Monday to Friday) from HISTORY_FIRST to `last`."""
    documents, day = [], HISTORY_FIRST
    while day <= last:
        if day.weekday() < 5:
            documents += _day_events(day, PER_DAY)
        day += timedelta(days=1)
    return documents


class Text(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.feed(html)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def _nightly(tmp_path: Path, name: str, documents: list, as_of: date, *options: str) -> object:
    export = write_lines(tmp_path / "exports" / f"{name}.json", documents)
    args = ["nightly", str(export), "--lake", str(tmp_path / "lake"), "--directory", str(tmp_path / "dir")]
    args += ["--out", str(tmp_path / "site"), "--as-of", as_of.isoformat(), *options]
    return CliRunner().invoke(cli, args)


def _page(tmp_path: Path) -> tuple[str, str]:
    """runs.html's alerts block (or its all-clear), and its whole text."""
    html = (tmp_path / "site" / "platform" / "runs.html").read_text(encoding="utf-8")
    tag = "div" if '<div class="run-alerts"' in html else "p"
    start = html.index('id="run-alerts"')
    return Text(html[html.rindex("<", 0, start) : html.index(f"</{tag}>", start)]).text(), Text(html).text()


def test_each_nightly_appends_its_row_and_the_retention_keeps_them(tmp_path) -> None:
    write_directory(tmp_path / "dir", structures=[("s1", "0750001A", "Lycée Un")], classes=[])

    # night 1: a usual Tuesday
    result = _nightly(tmp_path, "night1", _history_until(NIGHT_1), NIGHT_1)
    assert result.exit_code == 0, result.output
    (first,) = runs.read(tmp_path / "lake")
    assert first["command"] == "nightly" and first["as_of"] == NIGHT_1
    assert first["day_events"] == PER_DAY and first["usual_day_events"] == PER_DAY
    assert first["lines_read"] == first["events_new"]["LOGIN"] == len(_history_until(NIGHT_1))
    assert first["reject_rate_percent"] == 0 and first["max_reject_rate_percent"] == 1.0
    assert set(first["seconds"]) == set(RUN_STAGES)  # recorded once served: every stage
    assert first["files_written"] > 0 and first["bytes_written"] > 0 and first["peak_memory_mib"] > 0
    alerts, text = _page(tmp_path)
    assert alerts.startswith("Dernière exécution : rien d'anormal")

    # night 2: Wednesday's export is broken: 3 events, and 2 lines of 60 rejected (over the 1 % allowed)
    night_2 = NIGHT_1 + timedelta(days=1)
    broken = _day_events(night_2, 3) + ['{"_id": "cut'] * 2
    result = _nightly(tmp_path, "night2", broken, night_2)
    assert result.exit_code == 1 and "--max-reject-rate" in result.output  # the run still went to its end
    second = runs.read(tmp_path / "lake")[-1]
    assert second["as_of"] == night_2 and second["day_events"] == 3 and second["usual_day_events"] == PER_DAY
    assert second["reject_rate_percent"] == pytest.approx(40.0) and sum(second["rejects_new"].values()) == 2
    assert runs.over_max_reject_rate(second) and runs.day_events_low(second)
    alerts, text = _page(tmp_path)
    assert alerts.startswith("À vérifier avant de se fier au site")
    assert "a rejeté 40 % des lignes lues, au-delà de --max-reject-rate 1 %" in alerts
    assert "3 événements, contre 40 d'habitude ce jour de la semaine" in alerts
    assert text.index("À vérifier") < text.index("Événements du jour D")  # at the top

    # night 3, more than a year later, keeping 13 months: the old events go, the history stays
    night_3 = date(2026, 11, 24)  # keeps from 1 November 2025: September and October 2025 go
    result = _nightly(tmp_path, "night3", _day_events(night_3, 5), night_3, "--retain-months", "13")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "site" / "build.json").read_text(encoding="utf-8"))
    assert report["retention"]["event_days_deleted"]  # the retention did delete
    history = runs.read(tmp_path / "lake")
    assert [r["as_of"] for r in history] == [NIGHT_1, night_2, night_3]
    assert history[-1]["usual_day_events"] == 0 and not runs.day_events_low(history[-1])  # no event since
    rows = read_csv(tmp_path / "site" / "platform" / "csv" / "runs.csv")
    assert [r["Jour"] for r in rows] == [d.isoformat() for d in (NIGHT_1, night_2, night_3)]
    assert (
        rows[1]["Taux de rejet (%)"] == "40,00"
        and rows[1]["Rejets"] == "2"
        and rows[1]["Seuil de rejet (%)"] == "1,00"
    )
    assert rows[0]["Secondes : Écriture"] and not rows[2]["Secondes : Écriture"]  # this run: not yet written
    _alerts, text = _page(tmp_path)
    assert text.count("nightly") == 3


def test_site_runs_are_recorded_too_and_the_platform_links_its_history(make_site) -> None:
    site = make_site([event("LOGIN", "2026-03-10 10:00")], "2026-03-10")
    lake = site.root.parent / site.root.name.replace("site", "lake")
    (run,) = runs.read(lake)
    assert run["command"] == "site" and run["lines_read"] is None and run["reject_rate_percent"] is None
    assert run["day_events"] == 1 and run["usual_day_events"] is None  # no earlier weeks
    summary = (site.root / "platform" / "index.html").read_text(encoding="utf-8")
    assert '<a href="runs.html">Exécutions du calcul</a>' in summary
    assert site.report["day_events"] == {"day": "2026-03-10", "events": 1, "usual": None, "low": False}
    data = (site.root / "platform" / "runs-data.js").read_text(encoding="utf-8")
    assert data.startswith("window.STATS_RUNS=") and '"v":1' in data


@pytest.fixture
def fake_days(monkeypatch):
    """day_check over a made-up history: events per day, and the first day of history."""
    counts: dict[date, int] = {}
    state = {"first": date(2025, 1, 1)}
    monkeypatch.setattr(runs.store, "window_events", lambda _l, _t, days: {"LOGIN": counts.get(days[0], 0)})
    monkeypatch.setattr(runs.store, "read_first_day", lambda _l, _t: state["first"])
    return counts, state


def test_the_usual_level_compares_like_with_like(fake_days) -> None:
    counts, state = fake_days
    tuesday = date(2025, 11, 25)  # a school day; 21 and 28 October in the Toussaint holidays
    for k in range(1, 9):
        day = tuesday - timedelta(weeks=k)
        counts[day] = 5 if day in (date(2025, 10, 21), date(2025, 10, 28)) else 100 + k
    counts[tuesday] = 49
    check = runs.day_check(Path("lake"), "Europe/Paris", tuesday, "C")
    # left out: the two Tuesdays of the Toussaint holidays, and 11 November (Armistice, a public holiday)
    assert check.compared == 5 and check.usual == 106
    assert check.low  # 49 < half of 106

    holiday = date(2025, 10, 28)  # a holiday Tuesday compares with holiday Tuesdays only: too few
    check = runs.day_check(Path("lake"), "Europe/Paris", holiday, "C")
    assert check.compared == 1 and check.usual is None and not check.low

    state["first"] = tuesday - timedelta(weeks=2)  # the history starts two weeks before: too few
    assert runs.day_check(Path("lake"), "Europe/Paris", tuesday, "C").usual is None
    state["first"] = tuesday - timedelta(weeks=6)  # 18 and 4 November, 14 October: just enough
    check = runs.day_check(Path("lake"), "Europe/Paris", tuesday, "C")
    assert check.compared == 3 and check.usual == 103 and not runs.DayCheck(tuesday, 52, 103, 3).low


def test_public_holidays_are_days_off_too(fake_days) -> None:
    """In zone A, 1 May, 8 May and Ascension (29 May) 2025 are Thursdays without school, as is 24 April (the
    spring holidays): a school Thursday leaves them out, and Ascension compares with them alone."""
    counts, _state = fake_days
    off = {date(2025, 5, 1): 3, date(2025, 5, 8): 4, date(2025, 4, 24): 30, date(2025, 5, 29): 5}
    thursday = date(2025, 6, 12)
    for k in range(1, 12):
        day = thursday - timedelta(weeks=k)
        counts[day] = off.get(day, 100)
    counts[thursday] = 60
    check = runs.day_check(Path("lake"), "Europe/Paris", thursday, "A")
    assert check.compared == 4 and check.usual == 100 and not check.low  # 5 June, 22 and 15 May, 17 April
    ascension = runs.day_check(Path("lake"), "Europe/Paris", date(2025, 5, 29), "A")
    assert ascension.compared == 3 and ascension.usual == 4 and not ascension.low  # 8 May, 1 May, 24 April


def test_the_public_holidays_are_frances_eleven() -> None:
    from pipeline.holidays import public_holidays

    assert sorted(public_holidays(2025)) == [
        date(2025, 1, 1),
        date(2025, 4, 21),  # Easter Monday (Easter: 20 April)
        date(2025, 5, 1),
        date(2025, 5, 8),
        date(2025, 5, 29),  # Ascension
        date(2025, 6, 9),  # Whit Monday
        date(2025, 7, 14),
        date(2025, 8, 15),
        date(2025, 11, 1),
        date(2025, 11, 11),
        date(2025, 12, 25),
    ]
    easter_mondays = {
        y: min(d for d in public_holidays(y) if d.month in (3, 4)) for y in (2024, 2026, 2027, 2038)
    }
    assert easter_mondays == {
        2024: date(2024, 4, 1),
        2026: date(2026, 4, 6),
        2027: date(2027, 3, 29),
        2038: date(2038, 4, 26),  # the latest Easter of the century: 25 April
    }


def test_the_runs_page_is_not_marked_as_the_summary(make_site) -> None:
    """The views (Synthèse, Détail) name the summary and the detail pages: on runs.html and the side-by-side
    page neither is the current page; on the summary, Synthèse is."""
    site = make_site([event("LOGIN", "2026-03-10 10:00")], "2026-03-10")
    for name, current in (("runs.html", []), ("structures.html", []), ("index.html", ["index.html"])):
        html = (site.root / "platform" / name).read_text(encoding="utf-8")
        views = html[
            html.index('<nav class="views"') : html.index("</nav>", html.index('<nav class="views"'))
        ]
        marked = [part.split('"')[0] for part in views.split('href="')[1:] if 'aria-current="page"' in part]
        assert marked == current, name
