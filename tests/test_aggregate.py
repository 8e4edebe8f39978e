"""The aggregation stage over forked workers: the same aggregates as in one process, errors surfacing."""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import event, import_attempts, write_lines

from pipeline import aggregate, ingest, lake
from pipeline.exceptions import LakeError
from pipeline.periods import window_days

AS_OF = date(2026, 3, 10)


def _lake(folder):
    """Events on 40 days across three months (late evenings: two UTC days per local day)."""
    events = []
    for k in range(40):
        day = date(2026, 1, 20) + timedelta(days=k)
        events += [
            event(when=f"{day} 08:{k % 60:02d}", user=f"u{k % 7}", classes=["c1"]),
            event("ACCESS", when=f"{day} 23:30", user=f"u{k % 5}", profile="Student", module=f"M{k % 3}"),
        ]
    ingest.run([write_lines(folder / "e.json", events)], folder / "lake")
    return folder / "lake"


def _aggregates(root) -> dict[str, object]:
    """Every aggregate file: Parquet tables and JSON records, by path."""
    files = {}
    for path in sorted((root / "daily").rglob("*")) + sorted((root / "monthly").rglob("*")):
        if path.suffix == ".parquet":
            files[str(path.relative_to(root))] = pq.read_table(path)
        elif path.suffix == ".json":
            files[str(path.relative_to(root))] = path.read_text(encoding="utf-8")
    return files


def test_days_are_aggregated_with_no_python_value_given_to_arrow_to_type(tmp_path):
    lake_path = _lake(tmp_path)
    days = window_days(AS_OF)
    aggregate.run(lake_path, "Europe/Paris", days[-3:], workers=1)  # what is imported once, imported
    with import_attempts("dateutil") as attempts:
        report = aggregate.run(lake_path, "Europe/Paris", days, workers=1)
    assert report["days_recomputed"] > 30  # the 41 local days of the 40 days' events, less the last three
    assert attempts.count("dateutil") <= 2  # a Parquet read's own, once a run (pyarrow.parquet)


def test_two_workers_write_the_aggregates_of_one(tmp_path):
    one = _lake(tmp_path / "one")
    two = shutil.copytree(one, tmp_path / "two" / "lake")  # the same partitions: the same day sources
    report_one = aggregate.run(one, "Europe/Paris", window_days(AS_OF), workers=1)
    report_two = aggregate.run(two, "Europe/Paris", window_days(AS_OF), workers=2)
    # January to March: the late evenings of February 28 (UTC) reach March 1 (local)
    assert report_one == report_two and report_two["months_recomputed"] == 3
    first, second = _aggregates(one), _aggregates(two)
    assert first.keys() == second.keys() and any(k.endswith("counts.parquet") for k in first)
    for path, value in first.items():
        assert value.equals(second[path]) if isinstance(value, pa.Table) else value == second[path], path


def test_runs_hold_consecutive_days_and_about_the_same_work(tmp_path):
    root = _lake(tmp_path)
    days = window_days(AS_OF)
    sizes = {d: aggregate._day_size(root, "Europe/Paris", d) for d in days}
    runs = aggregate._runs(days, sizes, 4)
    assert [d for run in runs for d in run] == days and len(runs) == 4
    busy = [sum(sizes[d][0] for d in run) for run in runs]
    assert max(busy) <= 2 * min(busy)  # the days with events are shared out, not left to one run


def test_an_error_in_a_worker_reaches_the_caller_with_its_message(tmp_path):
    root = _lake(tmp_path)
    foreign = lake.EVENT_SCHEMA.empty_table().to_pylist() + [
        {
            "event_id": "x",
            "event_type": "LOGIN",
            "module": "Auth",
            "ts_ms": 1770000000000,
            "user_id": "u1",
            "profile": None,
            "structures": ["s1"],
            "classes": [],
        }
    ]
    day = date.fromtimestamp(1770000000)
    pq.write_table(
        pa.Table.from_pylist(foreign, lake.EVENT_SCHEMA), lake.day_partition(root, day) / "part-x.parquet"
    )
    with pytest.raises(LakeError, match="not written by `ingest`"):
        aggregate.run(root, "Europe/Paris", window_days(AS_OF), workers=2)


def test_months_roll_up_days_whose_counts_files_hold_several_row_groups(tmp_path, monkeypatch):
    """A regional day's counts file holds several row groups, read as chunks with their own dictionaries:
    the month's roll-up must be what it is from single-group files."""
    one = _lake(tmp_path / "one")
    two = shutil.copytree(one, tmp_path / "two" / "lake")
    aggregate.run(one, "Europe/Paris", window_days(AS_OF), workers=1)
    write_table = pq.write_table
    monkeypatch.setattr(
        pq, "write_table", lambda table, where, **kw: write_table(table, where, row_group_size=3, **kw)
    )
    aggregate.run(two, "Europe/Paris", window_days(AS_OF), workers=1)
    month = "monthly/Europe__Paris/month=2026-01/counts.parquet"
    assert pq.ParquetFile(two / month).metadata.num_row_groups > 1
    order = [(column, "ascending") for column in ("entity", "profile", "measure", "key")]
    assert pq.read_table(one / month).sort_by(order).equals(pq.read_table(two / month).sort_by(order))


def test_forked_only_for_many_days_of_real_work_that_fit_in_memory(monkeypatch):
    monkeypatch.setattr(aggregate.os, "cpu_count", lambda: 2)
    days = [AS_OF - timedelta(days=k) for k in range(40)]
    assert aggregate._workers({d: (100, 1) for d in days}) == 2  # 40 files: 404,000 of work
    assert aggregate._workers({d: (0, 0) for d in days}) == 1  # a first build's days without events
    assert aggregate._workers({d: (100, 1) for d in days[:15]}) == 1  # a nightly's few days
    assert aggregate._workers({d: (3_000_000, 2) for d in days}) == 1  # two of them exceed the budget


def test_between_two_days_a_partition_keeps_only_the_next_days_rows(tmp_path):
    when = ["2026-01-21 08:00", "2026-01-21 23:30", "2026-01-22 00:30", "2026-01-22 10:00"]  # Paris time
    ingest.run(
        [write_lines(tmp_path / "e.json", [event(when=w, user=f"u{k}") for k, w in enumerate(when)])],
        tmp_path / "lake",
    )
    first, second = date(2026, 1, 21), date(2026, 1, 22)
    read = lambda partitions, *days: partitions.events_of(*days).column("ts_ms").to_pylist()
    alone = [read(aggregate.LocalPartitions(tmp_path / "lake", "Europe/Paris"), d) for d in (first, second)]
    assert [len(a) for a in alone] == [2, 2]
    partitions = aggregate.LocalPartitions(tmp_path / "lake", "Europe/Paris")
    assert read(partitions, first, second) == alone[0]  # from UTC Jan 20 (none) and Jan 21
    assert list(partitions.loaded) == [date(2026, 1, 21)]  # Jan 22 reads it too; Jan 20 is dropped
    kept = partitions.loaded[date(2026, 1, 21)]
    assert kept.column("local_day").to_pylist() == [second]  # 00:30 Paris on Jan 22, 23:30 UTC on Jan 21
    assert read(partitions, second) == alone[1]
    assert partitions.loaded == {}  # the last day: nothing is held through its aggregation
    # a day asked for out of turn is read whole again, not from what was kept for the announced one
    read(partitions, first, second)
    assert read(partitions, first) == alone[0]
