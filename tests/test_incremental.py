"""Aggregates are computed once per day and again only when that day's events change."""

from __future__ import annotations

from datetime import date

from conftest import csv_bytes, event, write_directory, write_lines
from golden import golden_files

from pipeline import ingest
from pipeline.site import SiteOptions, build


def test_a_new_day_recomputes_only_the_days_it_touches_and_equals_a_fresh_build(tmp_path):
    directory = write_directory(tmp_path / "dir")
    lake = tmp_path / "lake"
    ingest.run(
        [write_lines(tmp_path / "a.json", [event(when="2026-03-10 10:00"), event(when="2026-03-30 23:30")])],
        lake,
    )
    first = build(SiteOptions(lake, directory, tmp_path / "site", date(2026, 3, 30)))
    # of the window and the year before it (SPEC 2.5, 760 days from 2024-03-01), the days that read a UTC
    # partition holding events: March 10 and 11 (UTC March 10), and March 30 (UTC March 30)
    assert first["aggregation"]["days_considered"] == 760 and first["aggregation"]["days_recomputed"] == 3

    same = build(SiteOptions(lake, directory, tmp_path / "site", date(2026, 3, 30)))
    assert same["aggregation"]["days_recomputed"] == 0 and same["aggregation"]["months_recomputed"] == 0

    late = [event(when="2026-03-31 09:00"), event(when="2026-03-10 11:00", user="u2")]  # one late event
    ingest.run([write_lines(tmp_path / "b.json", late)], lake)
    nightly = build(SiteOptions(lake, directory, tmp_path / "site", date(2026, 3, 31)))
    # Local days reading a changed UTC partition: March 10 and 11 (the late event's UTC day) and March 31.
    assert nightly["aggregation"]["days_recomputed"] == 3
    assert nightly["aggregation"]["months_recomputed"] == 1

    fresh_lake = tmp_path / "fresh"
    ingest.run([tmp_path / "a.json", tmp_path / "b.json"], fresh_lake)
    build(SiteOptions(fresh_lake, directory, tmp_path / "fresh-site", date(2026, 3, 31)))
    assert golden_files(tmp_path / "site") == golden_files(tmp_path / "fresh-site")


def test_changing_the_timezone_recomputes_everything(tmp_path):
    directory = write_directory(tmp_path / "dir")
    lake = tmp_path / "lake"
    ingest.run([write_lines(tmp_path / "a.json", [event(when="2026-03-10 00:30")])], lake)
    build(SiteOptions(lake, directory, tmp_path / "site", date(2026, 3, 31)))
    report = build(SiteOptions(lake, directory, tmp_path / "site", date(2026, 3, 31), "UTC"))
    assert report["aggregation"]["days_recomputed"] == 1  # UTC March 9, the day of the lake's one event
    assert (
        csv_bytes(tmp_path / "site/platform/csv/connections-by-day.csv")
        .decode("utf-8-sig")
        .count('"2026-03-09";"Tous";"1"')
        == 1
    )


def test_two_forked_writers_write_the_same_site_as_one(tmp_path, monkeypatch):
    from pipeline import writer

    directory = write_directory(tmp_path / "dir")
    lake = tmp_path / "lake"
    ingest.run([write_lines(tmp_path / "a.json", [event(structures=["s1", "s2"], classes=["c1"])])], lake)
    monkeypatch.setattr(writer, "MIN_ENTITIES_PER_WRITER", 1)
    outputs = {}
    for writers in (1, 2):
        monkeypatch.setattr(writer, "MAX_WRITERS", writers)
        report = build(SiteOptions(lake, directory, tmp_path / f"site{writers}", date(2026, 3, 31)))
        outputs[writers] = golden_files(tmp_path / f"site{writers}")
        pages = sorted(
            p.relative_to(tmp_path / f"site{writers}") for p in (tmp_path / f"site{writers}").rglob("*.html")
        )
        outputs[writers]["pages"] = pages
        assert report["render"]["pages_written"] == len(pages)
        assert report["files_written"] == sum(
            1 for p in (tmp_path / f"site{writers}").rglob("*") if p.is_file()
        )
    assert outputs[1] == outputs[2]


def test_a_failed_write_leaves_the_previous_site_and_no_staging_folder(tmp_path, monkeypatch):
    import pytest

    from pipeline import writer

    directory = write_directory(tmp_path / "dir")
    lake = tmp_path / "lake"
    ingest.run([write_lines(tmp_path / "a.json", [event()])], lake)
    build(SiteOptions(lake, directory, tmp_path / "site", date(2026, 3, 31)))
    before = golden_files(tmp_path / "site")

    def broken(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(writer, "entity_csvs", broken)
    with pytest.raises(OSError, match="disk full"):
        build(SiteOptions(lake, directory, tmp_path / "site", date(2026, 3, 31)))
    assert golden_files(tmp_path / "site") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".site.builds", "a.json", "dir", "lake", "site"]
    # no staging folder: the builds folder holds the published build alone, the one `site` links to
    assert list((tmp_path / ".site.builds").iterdir()) == [(tmp_path / "site").resolve()]


def _tables_by_entity(lake, directory, as_of):
    from pipeline import indicators
    from pipeline.directory import read_snapshot

    tables, entities = indicators.run(lake, "Europe/Paris", as_of, read_snapshot(directory))
    return {e.path: tables.figures(i) for i, e in enumerate(entities.entities)}


def test_complete_months_are_read_rolled_up_with_the_same_figures_as_their_days(tmp_path):
    """A complete month's counts are rolled up by the aggregate stage; the indicators read from them equal
    those read day by day (the month's counts file removed), for every entity, indicator and bucket."""
    import numpy as np

    from pipeline import aggregate
    from pipeline import aggregate_store as store
    from pipeline.periods import window_days

    directory = write_directory(tmp_path / "dir")
    lake = tmp_path / "lake"
    events = [  # logins at several hours, a late-evening one (another UTC day), accesses, an activation
        event(when="2026-01-05 08:10", user="u1", classes=["c1"]),
        event(when="2026-01-05 23:30", user="u2", profile="Student", classes=["c1"]),
        event("ACCESS", when="2026-01-06 10:00", user="u1", module="Blog"),
        event("ACCESS", when="2026-01-31 10:00", user="u2", profile="Student", module="Pronote"),
        event("ACTIVATION", when="2026-02-01 00:30", user="u3", profile="Relative"),
        event(when="2026-02-28 12:00", user="u3", profile="Relative"),
        event(when="2026-03-02 09:00", user="u1"),  # the current month: read day by day
    ]
    ingest.run([write_lines(tmp_path / "e.json", events)], lake)
    as_of = date(2026, 3, 10)
    aggregate.run(lake, "Europe/Paris", window_days(as_of))
    rolled_up = sorted(p.parent.name for p in (lake / "monthly").rglob(store.COUNTS_FILE))
    assert rolled_up == ["month=2026-01", "month=2026-02"]  # the complete months holding events
    january = store.read_month_counts(lake, "Europe/Paris", date(2026, 1, 1)).cast(store.COUNTS_SCHEMA)
    rows = {tuple(r.values()) for r in january.to_pylist() if r["entity"] == "structure:s1"}
    assert ("structure:s1", "Student", "login_by_day", "05", 1) in rows
    assert ("structure:s1", "Student", "login", "23", 1) in rows and (
        "structure:s1",
        "all",
        "visitors_by_day",
        "05",
        2,
    ) in rows

    from_months = _tables_by_entity(lake, directory, as_of)
    for path in (lake / "monthly").rglob(store.COUNTS_FILE):
        path.unlink()
    from_days = _tables_by_entity(lake, directory, as_of)
    assert from_months.keys() == from_days.keys()
    for entity, figures in from_months.items():
        other = from_days[entity]
        assert (
            figures.tiles == other.tiles and figures.apps == other.apps and figures.visitors == other.visitors
        )
        assert figures.hours == other.hours and figures.weekdays == other.weekdays
        for indicator, groupings in figures.series.items():
            for grouping, series in groupings.items():
                np.testing.assert_array_equal(series.values, other.series[indicator][grouping].values)
    assert from_months["structures/s1"].tiles["connections"] == 4


def test_a_late_event_in_a_rolled_up_month_and_a_reference_day_moved_back(tmp_path):
    """A late event in a complete month rolls the month up again; a build whose reference day falls inside
    a month drops that month's roll-up, and a later build rolls it up again: the site always equals a fresh
    build's."""
    from pipeline import aggregate_store as store

    directory = write_directory(tmp_path / "dir")
    lake = tmp_path / "lake"
    ingest.run([write_lines(tmp_path / "a.json", [event(when="2026-01-10 10:00")])], lake)
    build(SiteOptions(lake, directory, tmp_path / "site", date(2026, 3, 10)))
    january = store.month_counts_path(lake, "Europe/Paris", date(2026, 1, 1))
    assert january.exists()

    build(SiteOptions(lake, directory, tmp_path / "site", date(2026, 1, 20)))  # January is incomplete
    assert not january.exists()
    ingest.run([write_lines(tmp_path / "b.json", [event(when="2026-01-25 10:00", user="u2")])], lake)
    build(SiteOptions(lake, directory, tmp_path / "site", date(2026, 3, 10)))
    assert january.exists()
    ingest.run([write_lines(tmp_path / "c.json", [event(when="2026-01-12 10:00", user="u3")])], lake)
    report = build(SiteOptions(lake, directory, tmp_path / "site", date(2026, 3, 10)))
    assert report["aggregation"]["months_recomputed"] == 1

    fresh_lake = tmp_path / "fresh"
    ingest.run([tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"], fresh_lake)
    build(SiteOptions(fresh_lake, directory, tmp_path / "fresh-site", date(2026, 3, 10)))
    assert golden_files(tmp_path / "site") == golden_files(tmp_path / "fresh-site")
    by_month = csv_bytes(tmp_path / "site" / "platform" / "csv" / "connections-by-month.csv").decode(
        "utf-8-sig"
    )
    assert '"2026-01-01";"Tous";"3"' in by_month
