"""`--scheduler`: the same pipeline on a real dask.distributed cluster (a `dask scheduler` and two
`dask worker` processes on loopback, started here) gives the local engine's lake and site, byte for byte; a
worker killed mid-run costs only time; losing every worker, or a scheduler that does not answer, fails
cleanly and publishes nothing."""

from __future__ import annotations

import gzip
import os
import socket
import time
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from cluster_helpers import local_cluster, require_distributed
from conftest import event, write_lines
from golden import AS_OF, INPUT, NOW_MS, site_files

from build import cli
from pipeline import aggregate, cluster, ingest, lake, publish, writer
from pipeline.exceptions import ClusterError
from pipeline.site import SiteOptions, build

require_distributed()

TIMEZONE = "Europe/Paris"
PROFILES = ["Teacher", "Student", "Relative", "Personnel", "Guest"]


def split_export(folder: Path, parts: int) -> list[Path]:
    """The golden input's lines in `parts` files, the last one gzipped: a parse task per file."""
    lines = (INPUT / "events.jsonl").read_bytes().splitlines(keepends=True)
    size = -(-len(lines) // parts)
    files = []
    for k in range(parts):
        data = b"".join(lines[k * size : (k + 1) * size])
        path = folder / f"events-{k}.jsonl"
        if k == parts - 1:
            path = path.with_suffix(".jsonl.gz")
            data = gzip.compress(data, mtime=0)
        path.write_bytes(data)
        files.append(path)
    return files


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    with local_cluster(tmp_path_factory.mktemp("dask")) as running:
        yield running


@pytest.fixture(scope="module")
def local_build(tmp_path_factory):
    """The local engine's lake and site from the split export (and the ingest report)."""
    folder = tmp_path_factory.mktemp("local")
    files = split_export(folder, 3)
    report = ingest.run(files, folder / "lake", now_ms=NOW_MS)
    build(SiteOptions(folder / "lake", INPUT / "directory", folder / "site", AS_OF, TIMEZONE))
    return folder, files, report


def small_tasks(monkeypatch) -> None:
    """Many tasks from little data (the sizes are the driver's): a day run and an entity block each small."""
    monkeypatch.setattr(writer, "ENTITIES_PER_TASK", 3)
    monkeypatch.setattr(aggregate, "TASKS_PER_WORKER", 8)


def test_lake_and_site_equal_the_local_engines(dask_cluster, local_build, tmp_path, monkeypatch):
    folder, files, local_report = local_build
    small_tasks(monkeypatch)
    with cluster.Cluster(dask_cluster.address, [folder]) as running:
        assert running.workers == 2
        report = ingest.run(files, tmp_path / "lake", now_ms=NOW_MS, cluster=running)
    # the same events and rejects, counted alike, named by the paths as given
    assert {k: v for k, v in report.as_dict().items() if k not in ("run_id", "seconds")} == {
        k: v for k, v in local_report.as_dict().items() if k not in ("run_id", "seconds")
    }
    days = lake.event_days(folder / "lake")
    assert lake.read_days(tmp_path / "lake", days).equals(lake.read_days(folder / "lake", days))
    columns = ["file", "file_name", "line", "reason", "raw", "raw_sha1"]
    assert lake.read_rejects(tmp_path / "lake", columns).equals(lake.read_rejects(folder / "lake", columns))
    assert report.rejects_new  # the input has rejects: they went through the tasks too

    options = SiteOptions(tmp_path / "lake", INPUT / "directory", tmp_path / "site", AS_OF, TIMEZONE)
    site_report = build(replace(options, scheduler=dask_cluster.address))
    assert site_report["cluster"]["workers"] == 2
    assert all(0 < mib < 4096 for mib in site_report["cluster"]["peak_memory_mib"].values())
    days_with_events = len(list((tmp_path / "lake" / "daily").glob("*/day=*/source.json")))
    assert site_report["aggregation"]["days_recomputed"] == days_with_events > 0  # every one, on the cluster
    ours, theirs = site_files(tmp_path / "site"), site_files(folder / "site")
    assert ours.keys() == theirs.keys() and len(ours) > 100
    assert [name for name in ours if ours[name] != theirs[name]] == []
    # two nights more: the workers write the third build over the first (the spare), pruning it alike
    build(replace(options, scheduler=dask_cluster.address))
    for stray in ("structures/stray.html", "platform/csv/stray.csv.gz"):  # pruned here, on a worker
        (tmp_path / ".site.builds/spare" / stray).write_text("from an older version")
    again = build(replace(options, scheduler=dask_cluster.address))
    assert again["render"]["recycled"] is True and site_files(tmp_path / "site") == theirs


def test_the_commands_take_scheduler(dask_cluster, local_build, tmp_path):
    """`ingest`, then `nightly` with no file (aggregation and writing on the cluster), through the CLI."""
    folder, files, _report = local_build
    runner = CliRunner()
    lake_path, site = tmp_path / "lake", tmp_path / "site"
    done = runner.invoke(
        cli, ["ingest", *map(str, files), "--lake", str(lake_path), "--scheduler", dask_cluster.address]
    )
    assert done.exit_code in (0, 1), done.output  # 1: the input's rejects pass --max-reject-rate
    assert lake.read_days(lake_path, lake.event_days(lake_path)).num_rows == (
        lake.read_days(folder / "lake", lake.event_days(folder / "lake")).num_rows
    )
    arguments = ["--lake", str(lake_path), "--directory", str(INPUT / "directory"), "--out", str(site)]
    done = runner.invoke(
        cli, ["nightly", *arguments, "--as-of", AS_OF.isoformat(), "--scheduler", dask_cluster.address]
    )
    assert done.exit_code == 0, done.output
    ours, theirs = site_files(site), site_files(folder / "site")
    assert [name for name in theirs if ours.get(name) != theirs[name]] == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_scheduler_that_does_not_answer_is_a_clear_error_at_once(local_build, tmp_path):
    folder, files, _report = local_build
    address = f"tcp://127.0.0.1:{free_port()}"
    arguments = ["--lake", str(folder / "lake"), "--directory", str(INPUT / "directory")]
    for command in (
        ["site", *arguments, "--out", str(tmp_path / "site"), "--scheduler", address],
        ["ingest", str(files[0]), "--lake", str(tmp_path / "lake"), "--scheduler", address],
    ):
        started = time.monotonic()
        done = CliRunner().invoke(cli, command)
        assert done.exit_code == 1
        assert f"--scheduler {address}: no dask scheduler answers there" in done.output
        assert "Traceback" not in done.output
        assert time.monotonic() - started < cluster.CONNECT_TIMEOUT_S  # refused: no waiting for a timeout
    assert not (tmp_path / "site").exists() and not (tmp_path / "lake").exists()
    done = CliRunner().invoke(cli, ["site", *arguments, "--out", str(tmp_path / "s"), "--scheduler", "here"])
    assert done.exit_code == 1 and "not an address; write it tcp://HOST:PORT" in done.output


def test_workers_must_see_the_folders_and_run_this_code(dask_cluster, tmp_path, monkeypatch):
    """Checked on every worker at connection: the folders the driver names, and the pipeline's code."""
    with cluster.Cluster(dask_cluster.address, [tmp_path, tmp_path / "not-made-yet"]) as running:
        assert running.workers == 2  # what exists here is seen there (one machine); the rest is not asked
    missing = tmp_path / "gone"
    assert cluster._worker_check([str(tmp_path), str(missing)]) == (
        cluster.code_fingerprint(),
        [str(missing)],
    )
    # a worker on another machine, as the driver would hear it: the folders unseen, or other code
    monkeypatch.setattr(cluster, "_worker_check", lambda folders: (cluster.code_fingerprint(), folders))
    with pytest.raises(ClusterError, match=r"does not see .*storage every worker mounts at the same path"):
        cluster.Cluster(dask_cluster.address, [tmp_path])
    monkeypatch.setattr(cluster, "_worker_check", lambda folders: ("0123456789ab", []))
    with pytest.raises(ClusterError, match=r"runs another version of the pipeline .*install this one"):
        cluster.Cluster(dask_cluster.address, [tmp_path])


def kill_when_waited(running_cluster, victims: list[int], task_name: str, monkeypatch) -> dict[str, int]:
    """Kill the workers `victims` once the tasks of `task_name` are all submitted, when the driver starts
    waiting for the first; how many tasks each worker held then (by worker name) goes in the returned dict."""
    plain_wait = cluster.Cluster._wait
    held_then: dict[str, int] = {}

    def kill_then_wait(self, future, name):
        if name == task_name and not held_then:
            deadline = time.monotonic() + 5  # until the victims hold a task (the scheduler hands them out)
            while not all(held_then.get(f"w{v}") for v in victims) and time.monotonic() < deadline:
                workers = self.client.scheduler_info(n_workers=-1)["workers"]
                running, done = self.client.processing(), self.client.has_what()
                held_then.update({workers[a]["name"]: len(running[a]) + len(done[a]) for a in workers})
            for victim in victims:
                running_cluster.kill_worker(victim)
        return plain_wait(self, future, name)

    monkeypatch.setattr(cluster.Cluster, "_wait", kill_then_wait)
    return held_then


@pytest.mark.parametrize("task_name", ["aggregate-days", "write-entities"])
def test_a_worker_killed_mid_run_costs_only_time(local_build, tmp_path, monkeypatch, task_name):
    folder, _files, _report = local_build
    small_tasks(monkeypatch)
    monkeypatch.setattr(aggregate, "TASKS_PER_WORKER", 40)  # a day a task: the killed worker had some
    with local_cluster(tmp_path / "dask") as running:
        held_then = kill_when_waited(running, [0], task_name, monkeypatch)
        options = SiteOptions(folder / "lake", INPUT / "directory", tmp_path / "site", AS_OF, TIMEZONE)
        options.lake = tmp_path / "lake"
        _copy_lake(folder / "lake", options.lake)
        options.scheduler = running.address
        report = build(options)
        assert running.workers[0].poll() is not None  # it was killed, and the run went on
    assert held_then["w0"] > 0  # it was killed with tasks to do
    assert report["cluster"]["workers"] == 1
    ours, theirs = site_files(tmp_path / "site"), site_files(folder / "site")
    assert [name for name in theirs if ours.get(name) != theirs[name]] == [] and ours.keys() == theirs.keys()


def test_one_export_goes_out_in_blocks_and_a_lost_worker_costs_only_time(tmp_path, monkeypatch):
    """Fewer files than workers (a nightly's one export): the driver reads it and sends blocks of lines as
    tasks, a few at a time; a worker killed while it holds some changes nothing in the lake."""
    monkeypatch.setattr(ingest, "CHUNK_LINES", 40)  # the driver cuts the blocks: many from a small file
    documents = [
        event(
            user=f"u{k % 37}", when=f"2026-03-{1 + k % 28:02d} {8 + k % 10:02d}:00", profile=PROFILES[k % 5]
        )
        for k in range(600)
    ]
    documents[100:100] = ["nope", event(profil="Director")]  # two rejects, inside a block
    documents.append(dict(documents[5]))  # a duplicate, many blocks after its first
    export = write_lines(tmp_path / "exports" / "night.json", documents)
    local = ingest.run([export], tmp_path / "local", now_ms=NOW_MS, workers=1)
    submitted = []
    plain_submit_map = cluster.Cluster.map

    def counting_map(self, function, tasks, name, in_flight=None):
        submitted.append((name, in_flight))
        return plain_submit_map(self, function, tasks, name, in_flight)

    monkeypatch.setattr(cluster.Cluster, "map", counting_map)
    with local_cluster(tmp_path / "dask") as running:
        held_then = kill_when_waited(running, [0], "parse-blocks", monkeypatch)
        with cluster.Cluster(running.address, [export.parent]) as connected:
            report = ingest.run([export], tmp_path / "lake", now_ms=NOW_MS, cluster=connected)
    assert submitted == [("parse-blocks", ingest.BLOCKS_IN_FLIGHT * 2)] and held_then["w0"] > 0
    assert (
        report.lines == local.lines == 603
        and report.duplicates == 1
        and sum(report.rejects_new.values()) == 2
    )
    same = ("lines", "events_new", "duplicates", "rejects_new", "days_touched")
    assert [getattr(report, k) for k in same] == [getattr(local, k) for k in same]
    days = lake.event_days(tmp_path / "local")
    assert lake.read_days(tmp_path / "lake", days).equals(lake.read_days(tmp_path / "local", days))
    columns = ["file", "line", "reason", "raw"]
    assert lake.read_rejects(tmp_path / "lake", columns).equals(
        lake.read_rejects(tmp_path / "local", columns)
    )


def test_losing_every_worker_fails_cleanly_and_publishes_nothing(local_build, tmp_path, monkeypatch):
    folder, _files, _report = local_build
    small_tasks(monkeypatch)
    monkeypatch.setattr(cluster, "POLL_S", 0.2)
    site = tmp_path / "site"
    _copy_lake(folder / "lake", tmp_path / "lake")
    options = SiteOptions(tmp_path / "lake", INPUT / "directory", site, AS_OF, TIMEZONE)
    build(options)  # the site being served
    served = publish.served_build(site)
    before = site_files(site)
    with local_cluster(tmp_path / "dask") as running:
        kill_when_waited(running, [0, 1], "write-entities", monkeypatch)
        options.scheduler = running.address
        with pytest.raises(ClusterError, match="no worker is left on the scheduler .*nothing was published"):
            build(options)
    assert publish.served_build(site) == served and site_files(site) == before
    builds = [p for p in served.parent.iterdir() if p.is_dir()]
    assert builds == [served]  # the unfinished build was discarded


def _copy_lake(source: Path, target: Path) -> None:
    """The events only: the aggregates are computed again, on the cluster."""
    for path in (source / "events").rglob("*.parquet"):
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, destination)
