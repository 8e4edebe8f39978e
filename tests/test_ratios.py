"""Visits per visitor ending in …5, through the whole pipeline (ingest → aggregates → CSV, summary.json,
page): rounded half up exactly, where binary floats round down (SPEC 2.4: "rounded half up to 2 decimals")."""

from __future__ import annotations

import html
import itertools
import re
from datetime import date

import pytest
from conftest import Site, event, write_directory, write_lines

from pipeline import ingest
from pipeline.site import SiteOptions, build


def _visits(prefix: str, visitors: int, logins: int, days: list[str], profile: str, structure: str) -> list:
    """`visitors` users who log in `logins` times in all, the first ones twice, on the given days."""
    documents = []
    for n in range(logins):
        user = f"{prefix}{n % visitors:03d}"
        day = days[n % len(days)]
        documents.append(
            event(
                when=f"{day} {8 + n % 10:02d}:{n % 60:02d}",
                user=user,
                profile=profile,
                structures=[structure],
            )
        )
    return documents


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Site:
    documents = []
    # March 2026, structure s1: 200 teachers, 201 logins → 1.005 (the float 1.00499…: round() gives 1.0)
    documents += _visits("t", 200, 201, ["2026-03-09", "2026-03-10", "2026-03-11"], "Teacher", "s1")
    # February 2026, structure s2: 8 pupils, 9 logins → 1.125 (exact in binary: round() gives 1.12)
    documents += _visits("p", 8, 9, ["2026-02-16", "2026-02-17"], "Student", "s2")
    # January 2026, structure s2: 40 parents, 107 logins → 2.675 (the float 2.67499…: round() gives 2.67)
    documents += _visits("r", 40, 107, ["2026-01-12", "2026-01-13", "2026-01-14"], "Relative", "s2")
    # March 2026, structure s2: 8 staff, 9 logins on one day → 1.125 for the day, week, month and tile
    documents += _visits("q", 8, 9, ["2026-03-17"], "Personnel", "s2")
    ids = itertools.count()
    for document in documents:
        document["_id"] = f"ratio-{next(ids)}"
    folder = tmp_path_factory.mktemp("ratios")
    ingest.run([write_lines(folder / "events.json", documents)], folder / "lake")
    directory = write_directory(folder / "directory")
    out = folder / "site"
    report = build(SiteOptions(folder / "lake", directory, out, date(2026, 3, 31), "Europe/Paris"))
    return Site(out, report)


@pytest.mark.parametrize(
    "entity, grouping, bucket, profile, shown",
    [
        ("structures/s1", "month", "2026-03-01", "Tous", "1,01"),
        ("structures/s1", "month", "2026-03-01", "Enseignants", "1,01"),
        ("structures/s1", "week", "2026-03-09", "Tous", "1,01"),  # the 201 logins fall in one week
        ("structures/s1", "day", "2026-03-09", "Tous", "1,00"),  # 67 logins by 67 users
        ("structures/s2", "month", "2026-02-01", "Tous", "1,13"),
        ("structures/s2", "month", "2026-02-01", "Élèves", "1,13"),
        ("structures/s2", "week", "2026-02-16", "Élèves", "1,13"),
        ("structures/s2", "month", "2026-01-01", "Parents", "2,68"),
        ("structures/s2", "week", "2026-01-12", "Tous", "2,68"),
        ("structures/s2", "day", "2026-03-17", "Personnels", "1,13"),
        ("structures/s2", "month", "2026-03-01", "Tous", "1,13"),
        ("structures/s2", "month", "2026-03-01", "Élèves", ""),  # no visitor: empty, not 0
        # the platform sums both structures: 210 logins by 208 users in March (1.0096… → 1,01)
        ("platform", "month", "2026-03-01", "Tous", "1,01"),
        ("platform", "month", "2026-02-01", "Tous", "1,13"),
        ("platform", "month", "2026-01-01", "Tous", "2,68"),
    ],
)
def test_csv_cell_is_rounded_half_up(site, entity, grouping, bucket, profile, shown):
    name = f"visits_per_visitor-by-{grouping}.csv"
    assert site.value(name, entity, Date=bucket, Profil=profile) == shown


def test_counts_behind_the_ratios(site):
    assert site.value("connections-by-month.csv", "structures/s1", Date="2026-03-01", Profil="Tous") == "201"
    visitors = "unique_visitors-by-month.csv"
    assert site.value(visitors, "structures/s1", Date="2026-03-01", Profil="Tous") == "200"
    assert site.value("connections-by-month.csv", "structures/s2", Date="2026-01-01", Profil="Tous") == "107"
    assert site.value(visitors, "structures/s2", Date="2026-01-01", Profil="Tous") == "40"
    assert site.summary("platform")["visitors"]["month"]["all"] == 208


@pytest.mark.parametrize(
    "entity, value, text",
    [("structures/s1", 1.01, "1,01"), ("structures/s2", 1.13, "1,13"), ("platform", 1.01, "1,01")],
)
def test_tile_is_rounded_half_up(site, entity, value, text):
    assert site.tile("visits_per_visitor", entity) == value
    page = html.unescape((site.root / entity / "index.html").read_text(encoding="utf-8"))
    tile = re.search(r'data-indicator="visits_per_visitor">(.*?)</li>', page, re.S).group(1)
    assert re.search(r'class="tile-value" data-value="([^"]*)">([^<]*)<', tile).groups() == (str(value), text)
