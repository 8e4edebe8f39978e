"""The directory snapshot (SPEC 1.2): a repeated id stops with its file and lines; every structure with pages
that structures.csv lacks is reported."""

from __future__ import annotations

import pytest
from conftest import event, write_directory

from pipeline.directory import entity_set, read_snapshot
from pipeline.exceptions import DirectoryError


@pytest.mark.parametrize(
    ("structures", "classes", "message"),
    [
        ([("s1", "", "Un"), ("s1", "", "Bis")], [], r"structures\.csv, line 3: id 's1' is already on line 2"),
        ([("s1", "", "Un")], [("c1", "s1", "A"), ("c1", "s1", "B")], r"classes\.csv, line 3: .*line 2"),
    ],
)
def test_an_id_twice_stops_with_both_lines(tmp_path, structures, classes, message):
    folder = write_directory(tmp_path / "dir", structures=structures, classes=classes)
    with pytest.raises(DirectoryError, match=message):
        read_snapshot(folder)


def test_structures_with_pages_but_not_in_structures_csv_are_reported(tmp_path):
    folder = write_directory(tmp_path / "d", structures=[("s1", "", "Un")], classes=[("c1", "s-orphan", "A")])
    snapshot = read_snapshot(folder)
    entities = entity_set(snapshot, structures_seen={"s1", "s-events"}, classes_seen={"c1", "c9"})
    assert entities.structures_not_in_snapshot == ["s-events", "s-orphan"]
    assert entities.classes_not_in_snapshot == ["c9"]
    paths = {e.path for e in entities.entities}
    assert {"structures/s-orphan", "structures/s-orphan/classes/c1", "structures/s-events"} <= paths


def test_the_build_report_lists_them(make_site):
    site = make_site(
        [event(structures=["s1", "s-events"])], as_of="2026-03-31", classes=[("c1", "s-orphan", "A")]
    )
    assert site.report["entities"]["structures_not_in_snapshot"] == ["s-events", "s-orphan"]
