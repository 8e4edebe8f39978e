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
    assert first["aggregation"]["days_recomputed"] == 395

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
    assert report["aggregation"]["days_recomputed"] == 396
    assert csv_bytes(tmp_path / "site/platform/csv/connections-by-day.csv").decode("utf-8-sig").count(
        '"2026-03-09";"Tous";"1"'
    ) == 1


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
