"""A real dask.distributed cluster on this machine: a `dask scheduler` and single-threaded `dask worker`
processes of this venv on 127.0.0.1, for the backfill benchmark and the cluster tests (tests/test_cluster.py).
Workers run without a nanny, so that a killed worker stays dead (the tests' fault cases)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 60
WORKER_MEMORY_LIMIT = "4GiB"  # the budget per worker: dask pauses a worker past 80 % of it


@dataclass
class LocalCluster:
    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)

    def kill_worker(self, k: int) -> None:
        self.workers[k].send_signal(signal.SIGKILL)
        self.workers[k].wait()


def _dask(*args: str, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "distributed.cli.dask_" + args[0], *args[1:]]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


@contextmanager
def local_cluster(folder: Path, workers: int = 2) -> Iterator[LocalCluster]:
    """`workers` workers under a scheduler, started for real (logs in `folder`); all ended after."""
    from distributed import Client

    folder.mkdir(parents=True, exist_ok=True)
    scheduler_file = folder / "scheduler.json"
    scheduler_file.unlink(missing_ok=True)
    scheduler = _dask(
        "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
        "--scheduler-file", str(scheduler_file), log=folder / "scheduler.log",
    )  # fmt: skip
    cluster = LocalCluster("", scheduler)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not scheduler_file.exists():
            if scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("dask scheduler did not start: " + (folder / "scheduler.log").read_text())
            time.sleep(0.1)
        cluster.address = json.loads(scheduler_file.read_text())["address"]
        for k in range(workers):
            cluster.workers.append(
                _dask(
                    "worker",
                    cluster.address,
                    "--no-nanny",
                    "--nthreads",
                    "1",
                    "--memory-limit",
                    WORKER_MEMORY_LIMIT,
                    "--no-dashboard",
                    "--name",
                    f"w{k}",
                    log=folder / f"worker{k}.log",
                )  # fmt: skip
            )
        with Client(cluster.address, timeout=START_TIMEOUT_S) as client:
            client.wait_for_workers(workers, timeout=START_TIMEOUT_S)
        yield cluster
    finally:
        for process in [*cluster.workers, scheduler]:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
