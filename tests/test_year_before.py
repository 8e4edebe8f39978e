"""SPEC 2.5, the year before: the 364-day shift, coverage by the lake's history, the change and its words.

Every expectation is counted by hand from the events listed beside it (local times are Paris's)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
from conftest import event, ms
from golden import site_files

from pipeline.indicator_math import change_percent
from pipeline.periods import history_days, period_spans, year_before
from pipeline.render import change_text, span_words
from pipeline.site import SiteOptions, build

UTC = ZoneInfo("UTC")


def at_utc(when: str, **fields) -> dict:
    """An event whose time is given in UTC (`when` in Paris would be ambiguous on the fall-back night)."""
    document = event(**fields)
    document["date"] = {"$numberLong": str(ms(when, UTC))}
    return document


# ------------------------------------------------------------------------------------------ the spans
def test_the_spec_example_and_the_shift_across_a_leap_day():
    spans = {p: year_before(s) for p, s in period_spans(date(2026, 3, 31)).items()}
    assert (spans["month"].first, spans["month"].last) == (date(2025, 3, 2), date(2025, 4, 1))
    assert (spans["12months"].first, spans["12months"].last) == (date(2024, 3, 2), date(2025, 4, 1))
    # 2024-02-29 lies between: 2024-03-01 (a Friday) comes back to 2023-03-03 (a Friday), not the 2nd
    leap = {p: year_before(s) for p, s in period_spans(date(2024, 3, 31)).items()}
    assert (leap["month"].first, leap["month"].last) == (date(2023, 3, 3), date(2023, 4, 2))
    assert leap["month"].first.weekday() == date(2024, 3, 1).weekday()
    # the aggregate layer is kept from the 1st of the earlier year's first month (whole months roll up)
    days = history_days(date(2026, 3, 31))
    assert days[0] == date(2024, 3, 1) and days[-1] == date(2026, 3, 31) and len(days) == 761


def test_change_is_rounded_half_away_from_zero_exactly():
    assert change_percent((9, 1), (8, 1)) == 13  # +12.5
    assert change_percent((7, 1), (8, 1)) == -13  # -12.5
    assert change_percent((8, 1), (8, 1)) == 0
    assert change_percent((0, 1), (5, 1)) == -100
    assert change_percent((1, 1), (0, 1)) == "new"
    assert change_percent((0, 1), (0, 1)) is None
    # ratios compare unrounded: 21/16 = 1.3125 against 3/2 is -12.5 % (the rounded 1.31 would give -12.67)
    assert change_percent((21, 16), (3, 2)) == -13
    assert change_percent((10, 3), (10, 3)) == 0
    assert change_percent((3, 0), (1, 1)) is None and change_percent((1, 1), (0, 0)) is None


def test_change_and_span_words():
    assert [change_text(c) for c in (12, -5, 0, "new")] == [
        "+12\u202f%",
        "\u22125\u202f%",
        "0\u202f%",
        "nouveau",
    ]
    assert span_words(date(2025, 3, 2), date(2025, 4, 1)) == "du 2 mars au 1er avril 2025"
    assert span_words(date(2024, 3, 2), date(2025, 4, 1)) == "du 2 mars 2024 au 1er avril 2025"


# ------------------------------------------------------------------------------------ end to end
def tile(site, name: str, entity: str = "platform") -> dict:
    return site.summary(entity)["tiles"][name]


def test_spring_forward_edges_leap_year_and_changes(make_site):
    # D = 2026-03-29: month 2026-03-01..29 against 2025-03-02..2025-03-30 (the 2025 spring-forward day);
    # 12 months 2025-03-01..2026-03-29 against 2024-03-02..2025-03-30
    documents = [
        event(when="2024-03-01 23:50", user="old"),  # before both spans: the lake's first day
        event(when="2024-03-02 00:10", user="y1"),  # first day of the 12 months before
        event("ACTIVATION", when="2024-06-10 10:00", user="y2"),
        event(when="2025-03-01 23:55", user="y1"),  # 12 months before, and now; not the month before
        event(when="2025-03-02 00:05", user="u1"),  # first day of the month before
        event(when="2025-03-15 10:00", user="u3"),
        event(when="2025-03-30 00:30", user="u1"),  # CET
        event(when="2025-03-30 23:30", user="u2"),  # CEST, still the 30th
        event(when="2025-03-31 00:15", user="u4"),  # the 31st: after both earlier spans, inside now's year
        *[event(when=f"2026-03-{d:02d} 09:00", user=u) for d, u in ((2, "a"), (3, "a"), (4, "b"), (9, "b"))],
        event(when="2026-03-29 23:30", user="a"),  # CEST, the reference day's last hour
    ]
    site = make_site(documents, as_of="2026-03-29")
    connections = tile(site, "connections")
    # now: the 6 of 2025-03 (from the 1st) and the 5 of 2026-03; before: 2024-03-02 … 2025-03-30, 6
    assert connections["value"] == 11
    assert connections["before"] == {"value": 6, "from": "2024-03-02", "to": "2025-03-30"}
    assert connections["change"] == 83  # 5 / 6 = 83.3 %
    visitors = tile(site, "unique_visitors")
    assert visitors["before"] == {"value": 3, "from": "2025-03-02", "to": "2025-03-30"}  # u1, u2, u3
    assert (visitors["value"], visitors["change"]) == (2, -33)  # 2 against 3
    ratio = tile(site, "visits_per_visitor")
    assert ratio["before"]["value"] == 1.33  # 4 ÷ 3, shown rounded
    assert (ratio["value"], ratio["change"]) == (2.5, 88)  # 2.5 against 4/3 unrounded: +87.5 %
    activations = tile(site, "activations")
    assert (activations["value"], activations["before"]["value"], activations["change"]) == (0, 1, -100)
    # structures have their own year before (every event above is in s1)
    assert tile(site, "connections", "structures/s1")["before"]["value"] == 6

    page = (site.root / "platform" / "index.html").read_text(encoding="utf-8")
    assert "+83\u202f%" in page and "\u221233\u202f%" in page and "+88\u202f%" in page
    assert 'title="contre 6 du 2 mars 2024 au 30 mars 2025"' in page
    assert "Sur un an : en hausse de 83\u202f%, contre 6 du 2 mars 2024 au 30 mars 2025" in page
    assert "contre 1,33 du 2 mars au 30 mars 2025" in page


def test_fall_back_edges_and_history_that_does_not_reach_the_year(make_site):
    # D = 2026-10-25: month 2026-10-01..25 against 2025-10-02..2025-10-26 (the 2025 fall-back day, 25 h);
    # 12 months against 2024-10-02..2025-10-26, which the lake does not reach (its first event: 2025-01-15)
    documents = [
        event("GET_RESOURCE", when="2025-01-15 10:00", user="x"),  # a valid event: it opens the history
        event(when="2025-10-01 23:59", user="out1"),  # the day before the month before
        event(when="2025-10-02 00:00:30", user="u1"),
        at_utc("2025-10-26 00:30", user="u2"),  # 02:30 CEST
        at_utc("2025-10-26 01:30", user="u3"),  # 02:30 CET, the hour that happens twice
        at_utc("2025-10-26 22:30", user="u2"),  # 23:30 CET, still the 26th
        at_utc("2025-10-26 23:30", user="out2"),  # 00:30 on the 27th
        event(when="2026-10-05 10:00", user="a"),
    ]
    site = make_site(documents, as_of="2026-10-25")
    visitors = tile(site, "unique_visitors")
    assert visitors["before"] == {"value": 3, "from": "2025-10-02", "to": "2025-10-26"}  # u1, u2, u3
    assert (visitors["value"], visitors["change"]) == (1, -67)
    assert tile(site, "visits_per_visitor")["before"]["value"] == 1.33  # 4 logins ÷ 3
    for name in ("connections", "activations"):  # history not covered: no figure, no change
        assert tile(site, name)["before"] == {"value": None, "from": "2024-10-02", "to": "2025-10-26"}
        assert tile(site, name)["change"] is None
    page = (site.root / "platform" / "index.html").read_text(encoding="utf-8")
    assert page.count('class="tile-change"') == 2  # visitors and their ratio; nothing where not covered


@pytest.mark.parametrize(
    ("first_utc", "covered"),
    [
        ("2024-10-01 22:30", True),  # 00:30 on the 2nd in Paris (CEST): the span's first day
        ("2024-10-02 22:30", False),  # the 2nd in UTC, but the 3rd in Paris: one day short
    ],
)
def test_coverage_is_decided_by_the_first_local_day(make_site, first_utc, covered):
    site = make_site([at_utc(first_utc, user="x"), event(when="2026-10-05 10:00")], as_of="2026-10-25")
    connections = tile(site, "connections")
    assert connections["before"]["from"] == "2024-10-02"
    assert connections["before"]["value"] == (1 if covered else None)
    assert connections["change"] == (0 if covered else None)


def test_new_nothing_to_compare_and_distinct_visitors_across_months(make_site):
    # D = 2026-03-31: month before 2025-03-02..2025-04-01 (two calendar months)
    documents = [
        event("GET_RESOURCE", when="2024-01-10 10:00", user="x"),  # history reaches back far enough
        event(when="2025-03-20 10:00", user="u9", structures=["s2"]),
        event(when="2025-04-01 10:00", user="u9", structures=["s2"]),  # once, across both months
        event(when="2025-04-02 10:00", user="u8", structures=["s2"]),  # the day after the span
        event(when="2026-03-10 10:00", user="u1", structures=["s1"]),
        event(when="2026-03-12 10:00", user="u1", structures=["s2"]),
    ]
    site = make_site(documents, as_of="2026-03-31")
    s1 = "structures/s1"
    assert tile(site, "connections", s1)["before"]["value"] == 0
    assert tile(site, "connections", s1)["change"] == "new"  # 0 → 1
    assert tile(site, "unique_visitors", s1)["change"] == "new"
    assert tile(site, "visits_per_visitor", s1)["before"]["value"] is None  # no visitor: an empty ratio
    assert tile(site, "visits_per_visitor", s1)["change"] is None
    activations = tile(site, "activations", s1)
    assert (activations["value"], activations["before"]["value"], activations["change"]) == (0, 0, None)
    page = (site.root / s1 / "index.html").read_text(encoding="utf-8")
    assert page.count(">nouveau<") == 2 and "contre 0 du 2 mars 2024 au 1er avril 2025" in page

    s2 = "structures/s2"
    assert tile(site, "unique_visitors", s2)["before"]["value"] == 1  # u9 once; u8 after the span
    assert tile(site, "visits_per_visitor", s2)["before"]["value"] == 2.0
    assert tile(site, "visits_per_visitor", s2)["change"] == -50  # 1 ÷ 1 against 2 ÷ 1


def test_a_site_from_days_alone_equals_the_one_from_rolled_up_months(make_site, tmp_path):
    """The indicators read a complete month's rolled-up counts when it has them (the window's months and the
    year before's), else its days one by one. A lake whose months lost their rolled-up counts (their records
    kept, so that the aggregation does not write them again) gives the same site, file for file."""
    documents = [
        event(when="2024-03-01 23:50", user="old"),
        event(when="2024-03-02 00:10", user="y1"),
        event("ACTIVATION", when="2024-06-10 10:00", user="y2", classes=["c1"]),
        event(when="2024-11-30 23:30", user="y3", classes=["c1"]),  # CET: still November
        event(when="2025-03-01 23:55", user="y1"),
        event(when="2025-03-30 23:30", user="u2"),
        event("ACCESS", when="2025-07-14 10:00", user="u2", module="Blog"),
        event(when="2025-12-31 23:59", user="u5", classes=["c1"]),
        *[event(when=f"2026-03-{d:02d} 09:00", user=u) for d, u in ((2, "a"), (4, "b"), (9, "b"))],
    ]
    site = make_site(documents, as_of="2026-03-29", classes=[("c1", "s1", "6e A")])
    lake = tmp_path / "lake0"
    rolled_up = sorted(lake.glob("monthly/**/counts.parquet"))
    # the complete months of the aggregate layer (2024-03 … 2026-02) with a day that reads a partition
    # holding events; a UTC day also covers the first hour of the next local day: November 30's reaches
    # December 1, December 31's reaches January 1
    assert [p.parent.name[len("month=") :] for p in rolled_up] == [
        "2024-03", "2024-06", "2024-11", "2024-12", "2025-03", "2025-07", "2025-12", "2026-01"
    ]  # fmt: skip
    for path in rolled_up:
        path.unlink()
    again = build(SiteOptions(lake, tmp_path / "dir0", tmp_path / "again", date(2026, 3, 29)))
    assert again["aggregation"]["months_recomputed"] == 0 and not list(lake.glob("monthly/**/counts.parquet"))

    first, second = site_files(site.root), site_files(tmp_path / "again")
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []
    assert tile(site, "connections")["before"]["value"] == 4  # 2024-03-02 … 2025-03-30: y1, y3, y1, u2
