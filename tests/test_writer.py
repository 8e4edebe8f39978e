"""The writer: CSV files stored precompressed only, unchanged pages linked from the published build, the
replaced build removed after the new one is published, with its own seconds in build.json."""

from __future__ import annotations

import gzip
import json
import os
from datetime import date

from conftest import event, write_directory, write_lines

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


def test_a_nightly_links_the_unchanged_pages_and_removes_the_replaced_build_after_publishing(tmp_path):
    lake, directory = _lake(tmp_path)
    out = tmp_path / "site"
    first = build(SiteOptions(lake, directory, out, date(2026, 3, 30)))
    first_build = out.resolve()
    assert first["render"]["pages_linked"] == 0 and first["replaced_builds_removed"] == 0
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
    assert not first_build.exists() and second["replaced_builds_removed"] == 1
    assert os.stat(out / "structures/s1/connections.html").st_nlink == 1  # the old build's link is gone
    published = json.loads((out / "build.json").read_text(encoding="utf-8"))
    assert published["replaced_builds_removed"] == 1
    assert {"write", "publish", "remove_replaced"} <= set(published["seconds"])


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
