"""Retention (`nightly --retain-months N`): events, aggregates and rejects older than N months are deleted,
the build report says what, and nothing the indicators need goes."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import event, ms, write_directory, write_lines
from golden import golden_files

import build as cli
from pipeline import aggregate, ingest, lake, nightly, periods, retention
from pipeline.exceptions import RetentionError
from pipeline.site import SiteOptions, build


@pytest.mark.parametrize(
    ("as_of", "months", "first_kept"),
    [
        (date(2026, 3, 31), 25, date(2024, 3, 1)),  # D's month and the 24 before
        (date(2026, 3, 1), 25, date(2024, 3, 1)),
        (date(2026, 1, 15), 13, date(2025, 1, 1)),  # across a year: exactly the 12months period
        (date(2026, 12, 31), 13, date(2025, 12, 1)),
        (date(2026, 2, 28), 37, date(2023, 2, 1)),
    ],
)
def test_the_first_day_kept_is_the_1st_of_the_month_n_minus_1_months_before_d(as_of, months, first_kept):
    assert retention.cutoff(as_of, months) == first_kept


def _lake_with_history(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """Events from December 2023 to March 2026, aggregates of the year to March 2024, an old run's rejects."""
    root = tmp_path / "lake"
    directory = write_directory(tmp_path / "dir")
    old = [
        event(when="2023-12-31 10:00"),
        event(when="2024-02-28 12:00"),
        event(when="2024-02-29 12:00"),  # UTC day 02-29, which holds the cutoff's midnight: kept
        event(when="2024-03-01 00:30"),  # 2024-02-29 23:30 UTC: a kept day's event, in that partition
        event(when="2024-03-01 10:00"),
        "{not json, from an old run",
    ]
    monkeypatch.setattr(lake, "new_run_id", lambda: "20240115T020000-0ldrun00")
    ingest.run([write_lines(tmp_path / "old.json", old)], root)
    monkeypatch.undo()
    aggregate.run(root, "Europe/Paris", periods.window_days(date(2024, 3, 31)))  # as a site of then
    recent = [event(when="2026-03-10 10:00"), event(when="2026-03-11 10:00", user="u2"), "{recent bad line"]
    ingest.run([write_lines(tmp_path / "recent.json", recent)], root)
    return root, directory


def test_nightly_deletes_what_is_older_than_the_retention_and_reports_it(tmp_path, monkeypatch):
    root, directory = _lake_with_history(tmp_path, monkeypatch)
    old_daily = sorted((root / "daily" / "Europe__Paris").glob("day=*"))
    # the days that read a partition holding events (a UTC day also covers the next local day's first hour)
    assert [p.name[len("day=") :] for p in old_daily] == [
        "2023-12-31", "2024-01-01", "2024-02-28", "2024-02-29", "2024-03-01", "2024-03-02"
    ]  # fmt: skip

    report = nightly.run([], SiteOptions(root, directory, tmp_path / "site", date(2026, 3, 31))).site
    deleted = report["retention"]
    assert deleted["retain_months"] == 25 and deleted["first_day_kept"] == "2024-03-01"
    assert deleted["first_utc_partition_kept"] == "2024-02-29"  # Paris midnight of March 1st: 23:00 UTC
    assert deleted["event_days_deleted"] == ["2023-12-31", "2024-02-28"]
    assert lake.event_days(root) == [
        date(2024, 2, 29),
        date(2024, 3, 1),
        date(2026, 3, 10),
        date(2026, 3, 11),
    ]
    assert lake.read_days(root, [date(2024, 2, 29)]).num_rows == 2  # its 12:00 and the 1st's 00:30
    # daily aggregates before March 2024 (December 31 and January 1, February 28 and 29) and their months
    assert deleted["daily_aggregates_deleted"] == 4 and deleted["monthly_aggregates_deleted"] == 3
    daily = sorted(p.name for p in (root / "daily" / "Europe__Paris").glob("day=*"))
    assert daily[0] == "day=2024-03-01"
    monthly = sorted(p.name for p in (root / "monthly" / "Europe__Paris").glob("month=*"))
    assert monthly[0] == "month=2024-03"
    # the old run's rejects (raw lines, user ids) go; the recent run's stay
    assert deleted["reject_files_deleted"] == 1
    assert lake.read_rejects(root).column("raw").to_pylist() == ["{recent bad line"]
    # 2 event files; per daily folder source.json, and counts + presence for the 3 days with events (January
    # 1 has a record only: it reads UTC December 31); presence, rolled-up counts (complete months) and
    # source.json per month; the rejects file
    assert deleted["files_deleted"] == 2 + (4 + 3 * 2) + 3 * 3 + 1
    assert deleted["bytes_deleted"] > 0
    assert json.loads((tmp_path / "site" / "build.json").read_text())["retention"] == deleted
    assert not list(root.rglob(f"{lake.TEMPORARY_PREFIX}*"))

    assert report["events_by_type"] == {"LOGIN": 2}
    again = retention.apply(root, 25, date(2026, 3, 31), "Europe/Paris")
    assert again["event_days_deleted"] == [] and again["files_deleted"] == 0


def test_the_shortest_retention_keeps_every_event_the_site_shows(tmp_path):
    """N = 13 keeps exactly the 12months period: the site equals one built without any retention, even for
    the first local hour of the period, which lies in the UTC day before it."""
    documents = [
        event(when="2025-02-27 12:00"),  # before the period: deleted
        event(when="2025-02-28 23:30"),  # before the period, in the UTC day that holds its first hour: kept
        event(when="2025-03-01 00:30", user="edge"),  # UTC 2025-02-28 23:30
        event(when="2025-06-15 10:00"),
        event(when="2026-03-31 23:59", user="last"),
    ]
    export = write_lines(tmp_path / "e.json", documents)
    directory = write_directory(tmp_path / "dir")
    options = SiteOptions(tmp_path / "lake", directory, tmp_path / "site", date(2026, 3, 31))
    report = nightly.run([export], options, retain_months=13).site
    assert report["retention"]["event_days_deleted"] == ["2025-02-27"]
    assert lake.read_days(tmp_path / "lake", [date(2025, 2, 28)]).num_rows == 2
    ingest.run([export], tmp_path / "plain-lake")
    build(SiteOptions(tmp_path / "plain-lake", directory, tmp_path / "plain-site", date(2026, 3, 31)))
    assert golden_files(tmp_path / "site") == golden_files(tmp_path / "plain-site")
    assert report["events_by_type"] == {"LOGIN": 3}


def test_fewer_than_13_months_is_refused_before_any_work(tmp_path):
    export = write_lines(tmp_path / "e.json", [event()])
    directory = write_directory(tmp_path / "dir")
    args = ["nightly", str(export), "--lake", str(tmp_path / "lake"), "--directory", str(directory)]
    result = CliRunner().invoke(cli.cli, [*args, "--out", str(tmp_path / "site"), "--retain-months", "12"])
    assert result.exit_code == 2
    assert "--retain-months 12 would delete events the indicators need" in result.output
    assert "give 13 or more" in result.output
    assert not (tmp_path / "lake").exists()
    with pytest.raises(RetentionError, match="give 13 or more"):
        nightly.run([export], SiteOptions(tmp_path / "lake", directory, tmp_path / "site"), retain_months=12)
    with pytest.raises(RetentionError):
        retention.apply(tmp_path / "lake", 0, date(2026, 3, 31), "Europe/Paris")
    assert not (tmp_path / "lake").exists()


def test_the_command_line_option_reaches_the_report(tmp_path):
    export = write_lines(
        tmp_path / "e.json", [event(when="2024-01-10 10:00"), event(when="2026-03-10 10:00")]
    )
    directory = write_directory(tmp_path / "dir")
    args = ["nightly", str(export), "--lake", str(tmp_path / "lake"), "--directory", str(directory)]
    args += ["--out", str(tmp_path / "site"), "--as-of", "2026-03-31", "--retain-months", "14"]
    result = CliRunner().invoke(cli.cli, args)
    assert result.exit_code == 0, result.output
    deleted = json.loads((tmp_path / "site" / "build.json").read_text())["retention"]
    assert deleted["retain_months"] == 14 and deleted["first_day_kept"] == "2025-02-01"
    assert deleted["event_days_deleted"] == ["2024-01-10"]


def test_a_deletion_cut_short_hides_the_day_at_once_and_the_next_run_finishes_it(tmp_path, monkeypatch):
    root = tmp_path / "lake"
    ingest.run([write_lines(tmp_path / "e.json", [event(when="2023-05-05 10:00"), event()])], root)

    def killed(_path, *_args, **_kwargs):
        raise KeyboardInterrupt  # stands for a kill after the rename, before the files are gone

    monkeypatch.setattr(retention.shutil, "rmtree", killed)
    with pytest.raises(KeyboardInterrupt):
        retention.apply(root, 25, date(2026, 3, 31), "Europe/Paris")
    monkeypatch.undo()
    assert lake.event_days(root) == [date(2026, 3, 10)]  # readers no longer see the day
    leftovers = list((root / "events").glob(f"{lake.TEMPORARY_PREFIX}*"))
    assert len(leftovers) == 1 and next(leftovers[0].glob("part-*.parquet"))
    for part in root.rglob("part-*.parquet"):  # what is left reads
        if lake.TEMPORARY_PREFIX not in str(part):
            pq.read_table(part)
    report = retention.apply(root, 25, date(2026, 3, 31), "Europe/Paris")
    assert report["event_days_deleted"] == []
    from pipeline.lock import lake_lock

    with lake_lock(root):  # the next run's lock removes the rest
        pass
    assert not list((root / "events").glob(f"{lake.TEMPORARY_PREFIX}*"))


def test_west_of_utc_the_utc_day_before_the_cutoff_goes(tmp_path):
    """New York's midnight of March 1st is 05:00 UTC on March 1st: UTC February 29 holds no kept hour."""
    new_york = ZoneInfo("America/New_York")
    documents = [
        event(date={"$numberLong": str(ms("2024-02-29 18:00", new_york))}),  # 23:00 UTC, February 29
        event(date={"$numberLong": str(ms("2024-03-01 00:30", new_york))}),  # 05:30 UTC, March 1st
    ]
    ingest.run([write_lines(tmp_path / "e.json", documents)], tmp_path / "lake")
    report = retention.apply(tmp_path / "lake", 25, date(2026, 3, 31), "America/New_York")
    assert report["first_utc_partition_kept"] == "2024-03-01"
    assert report["event_days_deleted"] == ["2024-02-29"]
    assert periods.utc_days_of(date(2024, 3, 1), "America/New_York")[0] == date(2024, 3, 1)


def test_retention_and_the_year_before(tmp_path):
    """The default keeps what the year before needs; 13 months leave the 12 months' comparison uncovered,
    not the month's (its span 52 weeks back lies inside the 13 months)."""
    documents = [
        event(when="2024-03-02 10:00", user="old"),  # the first day of the 12 months 52 weeks back
        event(when="2025-03-01 10:00", user="x"),  # the first day kept with 13 months
        event(when="2025-03-20 10:00", user="u1"),  # the month 52 weeks back: 2025-03-02 … 2025-04-01
        event(when="2026-03-10 10:00", user="u1"),
    ]
    export = write_lines(tmp_path / "e.json", documents)
    directory = write_directory(tmp_path / "dir")
    tiles = {}
    for months in (25, 13):
        options = SiteOptions(
            tmp_path / f"lake{months}", directory, tmp_path / f"site{months}", date(2026, 3, 31)
        )
        nightly.run([export], options, retain_months=months)
        summary = json.loads((tmp_path / f"site{months}/platform/summary.json").read_text(encoding="utf-8"))
        tiles[months] = summary["tiles"]
    assert tiles[25]["connections"]["before"]["value"] == 3 and tiles[25]["connections"]["change"] == 0
    assert tiles[13]["connections"]["before"]["value"] is None and tiles[13]["connections"]["change"] is None
    for months in (25, 13):
        assert tiles[months]["unique_visitors"]["before"]["value"] == 1
        assert tiles[months]["unique_visitors"]["change"] == 0
