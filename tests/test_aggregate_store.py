"""The aggregate layer's owner: entity keys, the layout's version, and what a change of either does."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import event, ms, write_lines

from pipeline import aggregate, ingest, periods
from pipeline import aggregate_store as store
from pipeline.model import CLASS, PLATFORM, STRUCTURE, Entity


def test_entity_keys_round_trip_by_kind():
    entities = [
        Entity(PLATFORM, "", "Plateforme", "platform"),
        Entity(STRUCTURE, "s-1", "Un", "structures/s-1"),
        Entity(CLASS, "s-1", "Même id qu'une structure", "structures/s-1/classes/s-1", "s-1"),
        Entity(CLASS, "c_2", "Deux", "structures/s-1/classes/c_2", "s-1"),
    ]
    keys = store.entity_keys(entities).to_pylist()
    assert len(set(keys)) == 4  # a class and a structure of the same id stay apart
    assert store.ids_by_kind(keys) == {STRUCTURE: {"s-1"}, CLASS: {"s-1", "c_2"}}
    ids = pa.array(["a", "b-2"])
    expected = [store.entity_key(CLASS, "a"), store.entity_key(CLASS, "b-2")]
    assert store.keys_of_ids(CLASS, ids).to_pylist() == expected
    assert store.platform_keys(2).to_pylist() == [store.entity_key(PLATFORM)] * 2


@pytest.mark.parametrize(
    "change",
    [
        lambda layout: layout["schemas"].update(counts="entity: string, n: int32"),
        lambda layout: layout.update(measures=[*layout["measures"], "share"]),
        lambda layout: layout.update(entity_keys=["platform", {"structure": "s/", "class": "c/"}]),
        lambda layout: layout["folders"].update(daily="date="),
    ],
)
def test_the_version_follows_the_layout(change):
    layout = store._layout()
    assert store.layout_version(layout) == store.LAYOUT_VERSION
    change(layout)
    assert store.layout_version(layout) != store.LAYOUT_VERSION


MARCH = periods.days_between(date(2026, 3, 1), date(2026, 3, 31))


def _lake_of_one_event(tmp_path) -> Path:
    """A lake of one event, 2026-03-10 10:00 in Paris: one UTC partition, read by local days 10 and 11."""
    lake = tmp_path / "lake"
    ingest.run([write_lines(tmp_path / "e.json", [event(when="2026-03-10 10:00")])], lake)
    return lake


def test_a_new_layout_version_recomputes_every_day(tmp_path, monkeypatch):
    lake = _lake_of_one_event(tmp_path)
    # the local days that read UTC March 10, its only partition: the 10th and the 11th (from 00:00, 23:00 UTC)
    assert aggregate.run(lake, "Europe/Paris", MARCH)["days_recomputed"] == 2
    assert aggregate.run(lake, "Europe/Paris", MARCH)["days_recomputed"] == 0  # up to date
    monkeypatch.setattr(store, "LAYOUT_VERSION", "another layout")
    again = aggregate.run(lake, "Europe/Paris", MARCH)
    assert again["days_recomputed"] == 2 and again["months_recomputed"] == 1


def test_a_day_no_partition_holds_a_file_of_has_no_aggregates(tmp_path):
    lake = _lake_of_one_event(tmp_path)
    days = periods.days_between(date(2026, 1, 1), date(2026, 3, 31))
    report = aggregate.run(lake, "Europe/Paris", days)
    daily = sorted(p.name for p in (lake / "daily" / "Europe__Paris").iterdir())
    assert daily == ["day=2026-03-10", "day=2026-03-11", "history.json"]
    assert [p.name for p in (lake / "monthly" / "Europe__Paris").iterdir()] == ["month=2026-03"]
    assert report["days_recomputed"] == 2 and report["months_recomputed"] == 1

    # the partition goes (as retention deletes it): the two days lose their aggregates, the month its figures
    shutil.rmtree(lake / "events" / "day=2026-03-10")
    report = aggregate.run(lake, "Europe/Paris", days)
    assert report["days_recomputed"] == 2 and report["months_recomputed"] == 1
    assert sorted(p.name for p in (lake / "daily" / "Europe__Paris").iterdir()) == ["history.json"]
    assert store.read_counts(lake, "Europe/Paris", date(2026, 3, 10)).num_rows == 0
    month = store.read_presence(store.month_presence_path(lake, "Europe/Paris", date(2026, 3, 1)))
    assert month.num_rows == 0
    assert aggregate.run(lake, "Europe/Paris", days)["days_recomputed"] == 0


def test_a_day_left_without_its_record_loses_its_tables_when_its_partition_is_gone(tmp_path):
    lake = _lake_of_one_event(tmp_path)
    aggregate.run(lake, "Europe/Paris", MARCH)
    tenth = store.daily_dir(lake, "Europe/Paris", date(2026, 3, 10))
    (tenth / store.RECORD_FILE).unlink()  # a run killed between the day's tables and its record
    shutil.rmtree(lake / "events" / "day=2026-03-10")
    assert aggregate.run(lake, "Europe/Paris", MARCH)["days_recomputed"] == 2
    assert not tenth.exists() and store.read_counts(lake, "Europe/Paris", date(2026, 3, 10)).num_rows == 0


def test_a_month_left_without_its_record_is_rewritten_even_when_its_days_lost_their_events(tmp_path):
    lake = _lake_of_one_event(tmp_path)
    aggregate.run(lake, "Europe/Paris", MARCH)
    march = store.month_presence_path(lake, "Europe/Paris", date(2026, 3, 1))
    assert store.read_presence(march).num_rows > 0
    (march.parent / store.RECORD_FILE).unlink()  # a run killed between the month's tables and its record
    shutil.rmtree(lake / "events" / "day=2026-03-10")
    assert aggregate.run(lake, "Europe/Paris", MARCH)["months_recomputed"] == 1
    assert store.read_presence(march).num_rows == 0


def test_statistics_are_written_only_where_they_are_read(tmp_path):
    import pyarrow.parquet as pq

    from pipeline import lake

    events = [event(when="2026-03-10 10:00", user="u2"), event(when="2026-03-10 09:00", user="u1")]
    root = tmp_path / "lake"
    ingest.run([write_lines(tmp_path / "e.json", events)], root)
    aggregate.run(root, "Europe/Paris", [date(2026, 3, 10)], workers=1)
    files = [*root.glob("events/*/*.parquet"), *root.glob("daily/*/*/*.parquet")]
    assert len(files) == 3  # the events, the day's counts and presence
    for path in files:
        group = pq.ParquetFile(path).metadata.row_group(0)
        with_statistics = {
            group.column(k).path_in_schema
            for k in range(group.num_columns)
            if group.column(k).statistics is not None and group.column(k).statistics.has_min_max
        }
        assert with_statistics == ({"ts_ms"} if "events" in path.parts else set()), path
    assert lake.first_event_ms(root) == ms("2026-03-10 09:00")  # read from the footer's statistics
