"""Runs killed with SIGKILL at chosen moments: the lake stays readable and whole, the served site stays whole.

`ingest` and `site` run in their own process (`build.py` through a small driver that can slow a step, so that
a kill lands exactly between two renames), are killed, then run again; the result must equal a clean run.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from conftest import event, write_directory, write_lines
from golden import golden_files

from pipeline import ingest, lake
from pipeline.exceptions import SiteFolderError
from pipeline.lock import lake_lock, lock_path
from pipeline.site import SiteOptions, build

ROOT = Path(__file__).resolve().parent.parent
DAYS = 8  # UTC days of the big export
LINES = 30_000

# build.py's command line, with three optional faults: SLOW_EVENT_RENAMES=s sleeps s seconds after each event
# partition file is renamed into place (and says so on stderr); SLOW_DAY_RECORDS=s sleeps s seconds after each
# day's aggregates and record are written; FORK_PARSERS=1 parses in forked workers whatever the input's size.
DRIVER = f"""
import os, sys, time, types
sys.path.insert(0, {str(ROOT)!r})
from pipeline import indicators, ingest, lake
from pipeline.exceptions import SiteFolderError
pause = os.environ.get("SLOW_EVENT_RENAMES")
if pause:
    real_replace = os.replace
    def replace(src, dst):
        real_replace(src, dst)
        if os.sep + "events" + os.sep in str(dst):
            print("renamed", dst, file=sys.stderr, flush=True)
            time.sleep(float(pause))
    lake.os = types.SimpleNamespace(**{{n: getattr(os, n) for n in dir(os) if not n.startswith("__")}})
    lake.os.replace = replace
day_pause = os.environ.get("SLOW_DAY_RECORDS")
if day_pause:
    from pipeline import aggregate_store
    real_write_day = aggregate_store.write_day
    def write_day(*args):
        real_write_day(*args)
        time.sleep(float(day_pause))
    aggregate_store.write_day = write_day
if os.environ.get("FORK_PARSERS"):
    ingest.PARALLEL_MIN_BYTES = 0
import build
build.cli()
"""


class Run:
    """One `build.py` process in its own process group (killed whole at teardown if anything is left)."""

    def __init__(self, tmp: Path, *args: str, **env: str):
        self.stderr_path = tmp / f"stderr-{time.monotonic_ns()}.txt"
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", DRIVER, *args],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env={**os.environ, **env},
                start_new_session=True,
            )

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def kill_when(self, condition, whole_group: bool = True, timeout: float = 30) -> None:
        """SIGKILL once `condition()` holds; fails if the run ended first (the kill point was missed)."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, f"the run ended before the kill point: {self.stderr()[-2000:]}"
            assert time.monotonic() < deadline, (
                f"kill point not reached in {timeout} s: {self.stderr()[-2000:]}"
            )
            time.sleep(0.002)
        if whole_group:
            os.killpg(self.proc.pid, signal.SIGKILL)
        else:
            os.kill(self.proc.pid, signal.SIGKILL)  # the main process only, as `kill -9 PID` does
        assert self.proc.wait(timeout=10) == -signal.SIGKILL

    def end_group(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def runs(tmp_path):
    started: list[Run] = []

    def start(*args: str, **env: str) -> Run:
        started.append(Run(tmp_path, *args, **env))
        return started[-1]

    yield start
    for run in started:
        run.end_group()


# ------------------------------------------------------------------------------------------------- ingest
@pytest.fixture(scope="module")
def big_export(tmp_path_factory):
    """LINES events over DAYS UTC days, with bad lines and repeated `_id`s, gzipped; and the figures of a
    clean run of it: events per UTC day and rejects."""
    folder = tmp_path_factory.mktemp("big")
    bases = [
        event("LOGIN" if h % 3 else "ACCESS", when=f"2026-03-{d + 2:02d} {h:02d}:30", classes=["c1"])
        for d in range(DAYS)
        for h in range(1, 24)  # 01:30-23:30 Paris: UTC days March 2 to 9
    ]
    lines = []
    for i in range(LINES):
        document = dict(bases[i % len(bases)], _id=f"big-{i:07d}", userId=f"u{i % 3000}")
        lines.append(json.dumps(document))
        if i % 997 == 0:
            lines.append("{not json")
        if i % 701 == 0:
            lines.append(lines[-2] if i else lines[-1])  # a copy of an earlier line: same `_id`
    export = folder / "events.json.gz"
    export.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=1))
    clean = folder / "clean-lake"
    ingest.run([export], clean)
    return export, _per_day(clean), _rejects(clean)


def _per_day(root: Path) -> dict[str, int]:
    return {
        d.isoformat(): lake.read_days(root, [d], columns=["event_id"]).num_rows for d in lake.event_days(root)
    }


def _rejects(root: Path) -> Counter:
    table = lake.read_rejects(root, columns=["file_name", "line"])
    return Counter(zip(table.column("file_name").to_pylist(), table.column("line").to_pylist()))


def _temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob(f"{lake.TEMPORARY_PREFIX}*")]


def assert_lake_whole(root: Path, clean_per_day: dict[str, int]) -> dict[str, int]:
    """What any reader sees is whole: every part file reads, a generic Parquet reader (which skips hidden
    names) sees what the pipeline's readers see, and every visible day holds all of its events or none."""
    for day in lake.event_days(root):
        for part in lake.day_files(root, day):
            assert not part.name.startswith(lake.TEMPORARY_PREFIX), part
            pq.read_table(part, schema=lake.EVENT_SCHEMA)
    lake.read_rejects(root)
    visible = _per_day(root)
    if (root / "events").is_dir():
        dataset = ds.dataset(root / "events", format="parquet", partitioning="hive", schema=lake.EVENT_SCHEMA)
        assert dataset.count_rows() == sum(visible.values())
    for day, count in visible.items():
        assert count == clean_per_day[day], f"day {day} is partial: {count} of {clean_per_day[day]} events"
    return visible


def _ingest_again(export: Path, root: Path) -> dict:
    return ingest.run([export], root).as_dict()  # in this process: the rerun only has to complete


def _assert_as_clean(root: Path, big_export, report: dict, visible_before: dict[str, int]) -> None:
    export, clean_per_day, clean_rejects = big_export
    assert _per_day(root) == clean_per_day  # nothing lost, nothing counted twice
    ids = lake.read_days(root, lake.event_days(root), columns=["event_id"]).column("event_id")
    assert len(ids) == len(set(ids.to_pylist()))
    assert _rejects(root) == clean_rejects  # every reject once
    assert sum(report["events_new"].values()) == sum(clean_per_day.values()) - sum(visible_before.values())
    assert not _temporaries(root), "the rerun's lock removes what the killed run left"


def test_ingest_killed_while_writing_its_temporary_files_leaves_the_lake_readable(tmp_path, runs, big_export):
    export, clean_per_day, _ = big_export
    root = tmp_path / "lake"
    run = runs("ingest", str(export), "--lake", str(root))
    run.kill_when(lambda: any((root / "events").glob(f"*/{lake.TEMPORARY_PREFIX}*")))
    visible = assert_lake_whole(root, clean_per_day)
    assert _temporaries(root), "the kill landed before any partition was renamed: temporaries are left"
    _assert_as_clean(root, big_export, _ingest_again(export, root), visible)


def test_ingest_killed_between_two_renames_adds_whole_days_and_a_rerun_completes(tmp_path, runs, big_export):
    days_renamed = 3  # of DAYS
    export, clean_per_day, _ = big_export
    root = tmp_path / "lake"
    run = runs("ingest", str(export), "--lake", str(root), SLOW_EVENT_RENAMES="0.2")
    run.kill_when(lambda: run.stderr().count("renamed ") >= days_renamed)
    visible = assert_lake_whole(root, clean_per_day)
    assert len(visible) == days_renamed  # whole days added, the others absent
    assert not lake.read_rejects(root).num_rows  # the rejects file is renamed last: not yet
    report = _ingest_again(export, root)
    assert report["duplicates"] >= sum(visible.values())  # the days already there are recognised
    _assert_as_clean(root, big_export, report, visible)


def test_ingest_killed_while_forked_parsers_run_leaves_no_lock_and_nothing_lost(tmp_path, runs, big_export):
    """`kill -9` of the main process only: its forked parsers, still parsing, must not keep the lake locked
    (flock belongs to the open file, which a fork shares)."""
    export, clean_per_day, _ = big_export
    root = tmp_path / "lake"
    run = runs("ingest", str(export), "--lake", str(root), FORK_PARSERS="1")

    def parsers_started() -> bool:  # forked, and past the fork hook that closes their copy of the lock
        children = _children(run.proc.pid)
        return len(children) == 2 and not any(_opened(child, lock_path(root)) for child in children)

    run.kill_when(parsers_started, whole_group=False)
    orphans = _children_of_group(run.proc.pid)
    with lake_lock(root):  # free at once, whatever the orphans do
        pass
    assert orphans, "the parsers outlived their parent: the case this test is about"
    assert assert_lake_whole(root, clean_per_day) == {}
    _assert_as_clean(root, big_export, _ingest_again(export, root), {})


def _children(pid: int) -> list[int]:
    return [p for p, parent, _group in _processes() if parent == pid]


def _opened(pid: int, path: Path) -> bool:
    """Whether process `pid` has `path` open (True while that cannot be read: not yet known)."""
    try:
        links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
    except OSError:  # gone, or an fd closed while listed
        return True
    return str(path.resolve()) in links


def _children_of_group(group: int) -> list[int]:
    return [p for p, _parent, g in _processes() if g == group]


def _processes() -> list[tuple[int, int, int]]:
    """(pid, parent pid, process group) of every process, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found.append((int(stat.parent.name), int(fields[1]), int(fields[2])))
    return found


# --------------------------------------------------------------------------------------------------- site
def _lake(tmp_path, months: list[str], days: range) -> tuple[Path, Path]:
    documents = [
        event(when=f"{m}-{d:02d} {h:02d}:15", user=f"u{d * h % 17}", structures=[s], classes=c)
        for m in months
        for d in days
        for h in (8, 13, 23)
        for s, c in (("s1", ["c1"]), ("s2", []))
    ]
    root = tmp_path / "lake"
    ingest.run([write_lines(tmp_path / "e.json", documents)], root)
    return root, write_directory(tmp_path / "dir")


@pytest.fixture
def small_lake(tmp_path):
    return _lake(tmp_path, ["2026-03", "2026-04"], range(1, 29, 3))


# February to April 2026, days 1 to 28: with each day's aggregation slowed (SLOW_DAY_RECORDS), days enough for
# a kill to land while they are aggregated (twelve months without the pause took 3 builds of 350 days)
MONTHS = ["2026-02", "2026-03", "2026-04"]


def _served(out: Path) -> dict:
    pages = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("index.html")}
    return {
        "target": out.resolve(),
        "build.json": (out / "build.json").read_bytes(),
        "pages": pages,
        "figures": golden_files(out),
    }


def _site_args(root: Path, directory: Path, out: Path, as_of: str) -> list[str]:
    return ["site", "--lake", str(root), "--directory", str(directory), "--out", str(out), "--as-of", as_of]


def test_site_killed_while_writing_pages_leaves_the_previous_site_served_whole(tmp_path, runs, small_lake):
    root, directory = small_lake
    out = tmp_path / "site"
    build(SiteOptions(root, directory, out, date.fromisoformat("2026-03-31")))
    before = _served(out)
    assert {"index.html", "platform/index.html", "structures/s1/index.html"} <= set(before["pages"])
    builds = tmp_path / ".site.builds"

    def staging_has_files() -> bool:
        staging = [p for p in builds.iterdir() if p != before["target"]]
        return any(f.is_file() for p in staging for f in p.rglob("*"))

    run = runs(*_site_args(root, directory, out, "2026-04-30"))
    run.kill_when(staging_has_files)
    assert _served(out) == before  # the first site, every page and figure unchanged
    assert len(list(builds.iterdir())) == 2  # the killed build's folder is left…

    build(SiteOptions(root, directory, out, date(2026, 4, 30)))
    assert json.loads((out / "build.json").read_text())["as_of"] == "2026-04-30"
    # …and removed by the next build, which keeps the one it replaced as the spare
    assert sorted(p.name for p in builds.iterdir()) == sorted([out.resolve().name, "spare"])
    spare, kept = _served(builds / "spare"), ("build.json", "pages", "figures")
    assert {k: spare[k] for k in kept} == {k: before[k] for k in kept}  # the first site, whole
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [".site.builds"]


def test_site_killed_while_aggregating_publishes_nothing_and_a_rerun_equals_a_clean_build(tmp_path, runs):
    root, directory = _lake(tmp_path, MONTHS, range(1, 29))
    out = tmp_path / "site"
    daily = root / "daily" / "Europe__Paris"
    run = runs(*_site_args(root, directory, out, "2026-04-30"), SLOW_DAY_RECORDS="0.05")
    run.kill_when(lambda: daily.is_dir() and sum(1 for _ in daily.glob("*/source.json")) >= 20)
    assert not os.path.lexists(out)  # nothing published
    written = sum(1 for _ in daily.glob("*/source.json"))
    # the days that read events, a UTC day covering the next local day's first hour: the 1st to the 29th of
    # each month, February 2026's 28 days (its 28th reaches March 1st)
    with_events = 2 * 29 + 28
    assert 20 <= written < with_events, written

    report = build(SiteOptions(root, directory, out, date(2026, 4, 30)))
    assert sum(1 for _ in daily.glob("*/source.json")) == with_events
    assert report["aggregation"]["days_recomputed"] == with_events - written  # a day without its record

    fresh = tmp_path / "fresh"
    ingest.run([tmp_path / "e.json"], fresh)
    build(SiteOptions(fresh, directory, tmp_path / "fresh-site", date.fromisoformat("2026-04-30")))
    assert golden_files(out) == golden_files(tmp_path / "fresh-site")


# ----------------------------------------------------------------------------------------------- publish
def test_out_is_a_link_switched_at_once_to_the_new_build(tmp_path, small_lake):
    root, directory = small_lake
    out = tmp_path / "site"
    build(SiteOptions(root, directory, out, date(2026, 3, 31)))
    first = out.resolve()
    assert out.is_symlink() and os.readlink(out) == f".site.builds/{first.name}"  # relative
    build(SiteOptions(root, directory, out, date(2026, 4, 30)))
    assert out.resolve() != first and not first.exists()  # kept as the spare, for the next build
    assert json.loads((out / "build.json").read_text())["as_of"] == "2026-04-30"
    assert json.loads((first.with_name("spare") / "build.json").read_text())["as_of"] == "2026-03-31"


def test_a_site_folder_of_an_older_version_is_replaced_once(tmp_path, small_lake):
    root, directory = small_lake
    out = tmp_path / "site"
    (out / "platform").mkdir(parents=True)
    (out / "build.json").write_text("{}")
    (out / "platform" / "index.html").write_text("old")
    (tmp_path / ".site.building-999999999").mkdir()  # what a killed build of that version left
    build(SiteOptions(root, directory, out, date(2026, 3, 31)))
    assert out.is_symlink() and (out / "platform" / "index.html").read_text() != "old"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [".site.builds"]
    assert list((tmp_path / ".site.builds").iterdir()) == [out.resolve()]


@pytest.mark.parametrize("kind", ["folder of user files", "link elsewhere", "file"])
def test_an_out_that_is_not_a_site_is_refused_and_left_as_it_is(tmp_path, small_lake, kind):
    root, directory = small_lake
    out = tmp_path / "site"
    if kind == "folder of user files":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
        message = "holds no site"
    elif kind == "link elsewhere":
        (tmp_path / "elsewhere").mkdir()
        out.symlink_to(tmp_path / "elsewhere")
        message = "not a site published by this program"
    else:
        out.write_text("mine")
        message = "is a file"
    with pytest.raises(SiteFolderError, match=message) as refused:
        build(SiteOptions(root, directory, out, date(2026, 3, 31)))
    assert str(out) in str(refused.value) and "--out" in str(refused.value)
    if kind == "folder of user files":
        assert (out / "notes.txt").read_text() == "mine"
    elif kind == "file":
        assert out.read_text() == "mine"
    else:
        assert out.resolve() == tmp_path / "elsewhere"
    assert not (tmp_path / ".site.builds").exists()
