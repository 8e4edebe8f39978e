"""One run at a time on a lake (pipeline.lock): a second run stops at once with a clear message, or waits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import event, write_directory, write_lines

from pipeline import ingest, lake
from pipeline.exceptions import LakeBusyError
from pipeline.lock import lake_lock

ROOT = Path(__file__).resolve().parent.parent
HOLD = f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
from pipeline.lock import lake_lock
with lake_lock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.readline() if sys.argv[2] == "until-told" else time.sleep(float(sys.argv[2]))
"""


def _build(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def _commands(tmp_path: Path) -> dict[str, list[str]]:
    export = write_lines(tmp_path / "e.json", [event(), event(user="u2")])
    directory = write_directory(tmp_path / "dir")
    site = ["--lake", str(tmp_path / "lake"), "--directory", str(directory), "--out", str(tmp_path / "site")]
    return {
        "ingest": ["ingest", str(export), "--lake", str(tmp_path / "lake")],
        "site": ["site", *site, "--as-of", "2026-03-31"],
        "nightly": ["nightly", str(export), *site, "--as-of", "2026-03-31"],
    }


@pytest.mark.parametrize("command", ["ingest", "site", "nightly"])
def test_a_second_run_stops_at_once_naming_the_holder(tmp_path, command):
    args = _commands(tmp_path)[command]
    ingest.run([tmp_path / "e.json"], tmp_path / "lake")  # so that `site` has a lake
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "lake").rglob("*"))
    with lake_lock(tmp_path / "lake"):
        started = time.monotonic()
        second = _build(*args)
        out, err = second.communicate(timeout=60)
        elapsed = time.monotonic() - started
    assert second.returncode == 1, err
    assert f"is in use by another run (pid {os.getpid()}, since " in err
    assert "it stops here. Wait for it, or pass --wait" in err and "Error:" in err and out == ""
    assert elapsed < 15  # at once: the time to start Python, not to wait for the holder
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "lake").rglob("*")) == before
    assert not (tmp_path / "site").exists() and not (tmp_path / ".site.builds").exists()


def test_with_wait_the_second_run_completes_once_the_first_releases(tmp_path):
    args = _commands(tmp_path)["ingest"]
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "lake"), "until-told"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        waiting = _build(*args, "--wait")
        said = waiting.stderr.readline()  # blocks until the waiting run has found the lock taken
        assert f"in use by another run (pid {holder.pid}" in said and "waiting for it to finish" in said
        time.sleep(0.5)
        assert waiting.poll() is None, waiting.communicate()  # still waiting: the lock is held
        assert not (tmp_path / "site").exists()
        holder.stdin.write("release\n")
        holder.stdin.flush()
        assert holder.wait(timeout=30) == 0
        out, err = waiting.communicate(timeout=60)
    finally:
        holder.kill()
    assert waiting.returncode == 0, err
    assert "new events: 2" in out and len(lake.event_days(tmp_path / "lake")) == 1


@pytest.mark.parametrize("command", ["site", "nightly"])
def test_wait_reaches_the_lock_from_site_and_nightly(tmp_path, monkeypatch, command):
    import build
    from pipeline import lock

    asked = []
    real = lock.lake_lock

    def spy(lake, wait=False, create=True):
        asked.append(wait)
        return real(lake, wait=wait, create=create)

    monkeypatch.setattr(lock, "lake_lock", spy)
    monkeypatch.setattr("pipeline.nightly.lake_lock", spy)
    ingest.run([write_lines(tmp_path / "e.json", [event()])], tmp_path / "lake")
    args = _commands(tmp_path)[command]
    for flag in ([], ["--wait"]):
        asked.clear()
        result = CliRunner().invoke(build.cli, [*args, *flag])
        assert result.exit_code == 0, result.output
        assert asked and asked[0] is bool(flag)  # the outermost lock, the one that waits or not


def test_the_lock_goes_with_a_killed_holder(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "lake"), "60"], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline() == "held\n"
    with pytest.raises(LakeBusyError, match=f"pid {holder.pid}"):
        with lake_lock(tmp_path / "lake"):
            pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)
    with lake_lock(tmp_path / "lake"):  # no stale lock: the kernel released it
        assert str(os.getpid()) in (tmp_path / "lake" / ".lock").read_text()
    assert (tmp_path / "lake" / ".lock").read_text() == ""  # the holder's record goes with the lock


def test_the_lock_is_reentrant_in_one_process_and_exclusive_across_processes(tmp_path):
    export = write_lines(tmp_path / "e.json", [event()])
    with lake_lock(tmp_path / "lake"):
        assert sum(ingest.run([export], tmp_path / "lake").events_new.values()) == 1  # takes it again
        assert (tmp_path / "lake" / ".lock").read_text()  # still held by the outer block
        other = _build("ingest", str(export), "--lake", str(tmp_path / "lake"))
        assert other.wait(timeout=60) == 1
    assert _build("ingest", str(export), "--lake", str(tmp_path / "lake")).wait(timeout=60) == 0


def test_taking_the_lock_removes_what_a_killed_run_left(tmp_path):
    root = tmp_path / "lake"
    ingest.run([write_lines(tmp_path / "e.json", [event()])], root)
    partition = lake.event_days(root)[0]
    leftover = lake.temporary_beside(lake.day_partition(root, partition) / "part-x.parquet")
    leftover.write_bytes(b"half a parquet file")
    doomed = lake.temporary_beside(lake.day_partition(root, partition))  # a partition being deleted
    (doomed / "sub").mkdir(parents=True)
    assert lake.day_files(root, partition) == sorted(lake.day_partition(root, partition).glob("part-*"))
    with lake_lock(root):
        assert not leftover.exists() and not doomed.exists()
    assert lake.read_days(root, [partition]).num_rows == 1


def test_site_without_a_lake_creates_no_lake_folder(tmp_path):
    args = _commands(tmp_path)["site"]
    second = _build(*args)
    _out, err = second.communicate(timeout=60)
    assert second.returncode == 1 and "run `ingest` first" in err
    assert not (tmp_path / "lake").exists()
