"""The writer: CSV files stored precompressed only, unchanged pages linked from the published build, the
replaced build kept as the spare after the new one is published, and the next build written over it."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from datetime import date

from conftest import event, write_directory, write_lines
from golden import site_files

from pipeline import ingest
from pipeline.constants import INDICATORS
from pipeline.site import SiteOptions, build


def _lake(tmp_path):
    lake = tmp_path / "lake"
    events = [event(when="2026-03-10 10:00", classes=["c1"]), event("ACCESS", when="2026-03-11 09:00")]
    ingest.run([write_lines(tmp_path / "e.json", events)], lake)
    return lake, write_directory(tmp_path / "dir")


def test_csv_files_are_stored_as_gzip_of_the_spec_bytes_only(tmp_path):
    lake, directory = _lake(tmp_path)
    build(SiteOptions(lake, directory, tmp_path / "site", date(2026, 3, 31)))
    csv_folder = tmp_path / "site/platform/csv"
    stored = sorted(p.name for p in csv_folder.iterdir())
    assert len(stored) == 18 + 2 and all(name.endswith(".csv.gz") for name in stored)  # + structures, runs
    data = (csv_folder / "connections-by-month.csv.gz").read_bytes()
    assert data[:2] == b"\x1f\x8b" and data[4:8] == b"\0\0\0\0"  # gzip, mtime 0: same text, same bytes
    text = gzip.decompress(data)
    assert text.startswith('\ufeff"Établissement";"UAI";"Classe";"Date";"Profil";"Connexions"\r\n'.encode())
    assert b'"Plateforme";"";"";"2026-03-01";"Tous";"1"\r\n' in text


def test_a_nightly_links_the_unchanged_pages_and_keeps_the_replaced_build_as_the_spare(tmp_path):
    lake, directory = _lake(tmp_path)
    out = tmp_path / "site"
    first = build(SiteOptions(lake, directory, out, date(2026, 3, 30)))
    first_build = out.resolve()
    assert first["render"]["pages_linked"] == 0 and first["replaced_builds_removed"] == 0
    assert first["render"]["recycled"] is False
    detail = (out / "structures/s1/connections.html").read_bytes()
    assert b"Donn\xc3\xa9es au" not in detail  # the as-of day comes from data.js

    second = build(SiteOptions(lake, directory, out, date(2026, 3, 31)))
    entities = 1 + 2 + 1  # the platform, two structures, one class
    assert second["render"]["pages_linked"] == entities * (len(INDICATORS))  # the detail pages
    side_by_side = 1 + 2  # the platform's structures.html, each structure's classes.html
    # and the root index, and the runs' history (platform/runs.html)
    assert second["render"]["pages_written"] == entities * (1 + len(INDICATORS)) + side_by_side + 1 + 1
    assert (out / "structures/s1/connections.html").read_bytes() == detail
    assert "31 mars 2026" in (out / "structures/s1/index.html").read_text(encoding="utf-8")  # rewritten
    spare = first_build.with_name("spare")
    assert not first_build.exists() and spare.is_dir() and second["replaced_builds_removed"] == 0
    assert sorted(p.name for p in first_build.parent.iterdir()) == sorted(["spare", out.resolve().name])
    assert os.path.samefile(out / "structures/s1/connections.html", spare / "structures/s1/connections.html")
    published = json.loads((out / "build.json").read_text(encoding="utf-8"))
    assert published["replaced_builds_removed"] == 0 and published["render"]["recycled"] is False
    assert {"write", "publish", "remove_replaced"} <= set(published["seconds"])


def test_a_build_written_over_the_spare_equals_a_new_one_and_never_touches_the_served_build(tmp_path):
    """The third build is written over the first (the spare): its files rewritten in place, a page that
    changed but was the served build's too (a hard link) replaced rather than written through, what the
    site no longer has removed (a structure and a class gone from the snapshot, stray files)."""
    lake, directory = _lake(tmp_path)
    out = tmp_path / "site"
    build(SiteOptions(lake, directory, out, date(2026, 3, 30)))
    build(SiteOptions(lake, directory, out, date(2026, 3, 31)))
    served = out.resolve()
    spare = served.with_name("spare")
    served_files = site_files(served)
    shared = spare / "structures/s1/connections.html"
    assert os.path.samefile(shared, served / "structures/s1/connections.html")
    for stray in (
        "stray.txt",
        "assets/app-000000000000.js",
        "structures/s1/csv/old.csv.gz",
        "structures/s1/x/y",
    ):
        (spare / stray).parent.mkdir(parents=True, exist_ok=True)
        (spare / stray).write_text("left by an older version")
    (spare / "platform/index.html").write_bytes(b"x" * 100_000)  # longer than its new text

    # s1 renamed (its pages change), s2 and the class c1 gone from the snapshot
    renamed = write_directory(tmp_path / "dir2", [("s1", "0750001A", "Lycée Premier")], [])
    shutil.copytree(lake, tmp_path / "lake2")
    third = build(SiteOptions(lake, renamed, out, date(2026, 4, 1)))
    assert third["render"]["recycled"] is True and out.resolve().name not in (served.name, "spare")
    assert site_files(served.with_name("spare")) == served_files  # the build served before, byte for byte
    fresh = build(SiteOptions(tmp_path / "lake2", renamed, tmp_path / "fresh", date(2026, 4, 1)))
    assert fresh["render"]["recycled"] is False
    assert site_files(out) == site_files(tmp_path / "fresh")
    assert not (out / "structures/s2").exists() and not (out / "structures/s1/classes").exists()
    assert "Lycée Premier" in (out / "structures/s1/connections.html").read_text(encoding="utf-8")

    # two more nights alike: the fifth is written over the third, whose detail pages are the served ones
    build(SiteOptions(lake, renamed, out, date(2026, 4, 2)))
    fifth = build(SiteOptions(lake, renamed, out, date(2026, 4, 3)))
    assert fifth["render"]["recycled"] is True
    assert fifth["render"]["pages_linked"] == 2 * len(INDICATORS)  # the platform's and s1's detail pages
    page = "structures/s1/connections.html"
    assert os.path.samefile(out / page, spare / page) and os.stat(out / page).st_nlink == 2
    assert "3 avril 2026" in (out / "structures/s1/index.html").read_text(encoding="utf-8")


def test_a_spare_another_user_wrote_is_not_written_over(tmp_path, monkeypatch):
    from pipeline import publish

    lake, directory = _lake(tmp_path)
    out = tmp_path / "site"
    build(SiteOptions(lake, directory, out, date(2026, 3, 30)))
    build(SiteOptions(lake, directory, out, date(2026, 3, 31)))
    spare = out.resolve().with_name("spare")
    monkeypatch.setattr(publish.os, "getuid", lambda: spare.stat().st_uid + 1)  # as if root wrote it
    third = build(SiteOptions(lake, directory, out, date(2026, 4, 1)))
    assert third["render"]["recycled"] is False and third["replaced_builds_removed"] == 1
    assert sorted(p.name for p in spare.parent.iterdir()) == sorted([out.resolve().name, "spare"])
    assert json.loads((spare / "build.json").read_text(encoding="utf-8"))["as_of"] == "2026-03-31"


def test_a_spare_another_build_holds_is_left_to_it(tmp_path):
    import fcntl

    from pipeline import lock, publish

    spare = tmp_path / ".site.builds" / "spare"
    spare.mkdir(parents=True)
    holder = os.open(spare, os.O_RDONLY)  # another build's claim (another open file conflicts too)
    fcntl.flock(holder, fcntl.LOCK_EX)
    staging = publish.staging_folder(tmp_path / "site")
    assert staging.recycled is False and spare.is_dir() and staging.folder != spare
    os.close(holder)
    taken = publish.staging_folder(tmp_path / "site")
    assert taken.recycled is True and not spare.exists() and taken.folder.is_dir()
    assert lock.folder_in_use(taken.folder)  # claimed under its new name
    for folder in (staging.folder, taken.folder):
        lock.release_folder(folder)


def test_what_a_cluster_shares_is_mapped_back_whole_and_stays_private(tmp_path):
    """cluster.save_shared / load_shared: the pickle of the writer's data with its arrays apart, mapped back
    copy-on-write: equal values, contiguous or not, NumPy and Arrow; writing to a loaded array leaves the
    file (and the next worker's copy) as it was."""
    import numpy as np
    import pyarrow as pa

    from pipeline.cluster import load_shared, save_shared

    days = np.arange(3 * 400 * 6, dtype=np.int32).reshape(3, 400, 6)
    value = {
        "days": days,
        "every_other": days[:, ::2],  # not contiguous: pickled with the rest
        "small": np.uint16([1, 2, 3]),
        "table": pa.table({"name": ["Lycée « Hugo »", None], "n": [1, 2]}),
        "text": "École",
    }
    path = tmp_path / "shared.pickle"
    save_shared(value, path)
    first = load_shared(str(path))
    assert not first["days"].flags.owndata  # mapped from the file, not unpickled into memory
    assert np.array_equal(first["days"], days) and np.array_equal(first["every_other"], days[:, ::2])
    assert first["small"].tolist() == [1, 2, 3] and first["table"].equals(value["table"])
    assert first["text"] == "École"
    first["days"][0, 0, 0] = -1  # a worker's own pages
    assert load_shared(str(path))["days"][0, 0, 0] == 0
