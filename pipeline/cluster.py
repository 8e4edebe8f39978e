"""The pipeline's parallel work on an existing dask.distributed cluster (`--scheduler ADDRESS`).

Three kinds of work go out as tasks, each a pure function of its arguments and of files every worker sees at
the same path: the parsing of one export file, or of a block of its lines (ingest), the aggregation of a run
of days or of a month (aggregate), and the writing of a block of entities (writer). The driver, the process
that runs the command, keeps what must happen once: it holds the lake's lock, deduplicates and commits the
ingested events, computes the indicator tables, and publishes the site. A task only writes files that a
retry rewrites whole (a day's aggregates under a temporary name, an entity's files in the unpublished build),
so a worker lost in the middle of a run costs its tasks again on another worker, never a half-done site.

Without `--scheduler` none of this is imported: `dask[distributed]` is the `cluster` extra.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import mmap
import os
import pickle
import socket
import struct
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from . import memory
from .exceptions import ClusterError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10  # a scheduler that takes the connection but does not answer
WORKER_WAIT_S = 10  # a scheduler with no worker yet
POLL_S = 2.0  # while waiting for a task's result: how often the driver checks that workers are left
GATHER_BATCH = 64  # results fetched in one exchange with the workers, when that many are ready in order
INSTALL_HINT = "pip install 'statistiques[cluster]' (dask.distributed) on this machine and on every worker"

Result = TypeVar("Result")


class Cluster:
    """A connection to a dask.distributed scheduler, checked: it answers, it has workers, they run this
    version of the pipeline and see the given folders."""

    def __init__(self, address: str, shared: Iterable[Path] = ()) -> None:
        try:
            from distributed import Client
        except ImportError as error:
            raise ClusterError(
                f"--scheduler {address}: dask.distributed is not installed; {INSTALL_HINT}"
            ) from error
        _check_reachable(address)
        try:
            self.client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError) as error:
            raise ClusterError(_unreachable(address, error)) from error
        self.address = address
        try:
            self._check_workers(list(shared))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def workers(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1)["workers"])

    def map(
        self, function: Callable[..., Result], tasks: Iterable[tuple], name: str, in_flight: int | None = None
    ) -> Iterator[Result]:
        """function(*task) for each task, run on the workers; the results in the tasks' order. With
        `in_flight`, `tasks` is read lazily, at most that many submitted and not yet given back (their
        arguments are data: memory stays bounded). A task's error is raised here as it was raised there (a
        StatistiquesError keeps its message)."""
        run = uuid.uuid4().hex[:12]  # a key names one task for the scheduler: never reuse one across maps
        numbered = enumerate(tasks)
        pending: deque = deque()

        def submit(count: int | None) -> None:
            for k, task in itertools.islice(numbered, count):
                pending.append(self.client.submit(function, *task, key=f"{name}-{run}-{k}", pure=False))

        try:
            submit(in_flight)
            while pending:
                self._wait(pending[0], name)
                ready = 1  # with it, the results that are ready next, fetched in one exchange
                while ready < min(len(pending), GATHER_BATCH) and pending[ready].done():
                    ready += 1
                batch = [pending.popleft() for _ in range(ready)]  # their results then leave the workers
                results = self._gather(batch, name)
                if in_flight is not None:
                    submit(ready)  # before the results are used: the workers go on meanwhile
                yield from results
        finally:
            self.client.cancel(list(pending))

    def each_worker(self, function: Callable[..., Result], *args: Any) -> dict[str, Result]:
        """function(*args) once on every worker, by worker address."""
        return self.client.run(function, *args)

    def peak_memory_mib(self) -> dict[str, float]:
        """Each worker's peak resident memory so far (MiB)."""
        return self.each_worker(memory.peak_mib)

    def report(self) -> dict:
        """For build.json: the scheduler, its workers, and each one's peak memory so far."""
        peaks = self.peak_memory_mib()
        return {"scheduler": self.address, "workers": len(peaks), "peak_memory_mib": peaks}

    def _wait(self, future: Any, name: str) -> None:
        """Until the task is over (done, failed or its workers lost too often); an error when no worker is
        left to run it."""
        over = threading.Event()
        future.add_done_callback(lambda _future: over.set())
        while not over.wait(POLL_S):
            if self.workers == 0:
                raise ClusterError(
                    f"{name}: no worker is left on the scheduler {self.address}; the run stops here, and "
                    "nothing was published nor committed to the lake by this stage. Start workers "
                    "(`dask worker ADDRESS`) and run again."
                )

    def _gather(self, futures: list, name: str) -> list:
        from distributed.scheduler import KilledWorker

        try:
            return self.client.gather(futures)
        except KilledWorker as error:
            raise ClusterError(
                f"{name}: a task ended the workers that ran it, each time ({error}); nothing was "
                "published. Look at the workers' logs (memory?), then run again."
            ) from error

    def _check_workers(self, shared: list[Path]) -> None:
        try:
            self.client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except (TimeoutError, OSError) as error:
            raise ClusterError(
                f"--scheduler {self.address}: the scheduler has no worker after {WORKER_WAIT_S} s; start "
                f"some with `dask worker {self.address}`"
            ) from error
        here = code_fingerprint()
        folders = [str(p.resolve()) for p in shared if p.is_dir()]  # as this process sees them
        for worker, (fingerprint, missing) in sorted(self.each_worker(_worker_check, folders).items()):
            if fingerprint != here:
                raise ClusterError(
                    f"worker {worker} runs another version of the pipeline (code {fingerprint}, here "
                    f"{here}); install this one on every worker"
                )
            if missing:
                raise ClusterError(
                    f"worker {worker} does not see {', '.join(missing)}: the lake, the exports and the "
                    "site must be on storage every worker mounts at the same path (README, Beyond one "
                    "machine)"
                )
        log.info("cluster %s: %d workers", self.address, self.workers)


# ------------------------------------------------------------------------------ data the workers share
_ALIGN = 64


def save_shared(value: object, path: Path) -> None:
    """Pickle `value` for the workers as one file: the pickle, then its large buffers (NumPy and Arrow
    arrays) apart and aligned, for `load_shared` to map rather than read."""
    buffers: list[pickle.PickleBuffer] = []
    header = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    views = [b.raw() for b in buffers]
    offsets, position = [], _aligned(16 + 16 * len(views) + len(header))
    for view in views:
        offsets.append(position)
        position = _aligned(position + view.nbytes)
    with open(path, "wb") as out:
        out.write(struct.pack("<QQ", len(header), len(views)))
        for offset, view in zip(offsets, views):
            out.write(struct.pack("<QQ", offset, view.nbytes))
        out.write(header)
        for offset, view in zip(offsets, views):
            out.seek(offset)
            out.write(view)


def load_shared(path: str) -> Any:
    """What `save_shared` wrote, its arrays mapped from the file (copy on write): a worker's memory holds only
    the pages its tasks read (an entity's rows of the tables), and workers of one machine share them."""
    with open(path, "rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY)
    memory = memoryview(mapped)
    header_length, count = struct.unpack_from("<QQ", memory)
    spans = [struct.unpack_from("<QQ", memory, 16 + 16 * k) for k in range(count)]
    start = 16 + 16 * count
    buffers = [memory[offset : offset + length] for offset, length in spans]
    return pickle.loads(memory[start : start + header_length], buffers=buffers)


def _aligned(position: int) -> int:
    return -(-position // _ALIGN) * _ALIGN


def code_fingerprint() -> str:
    """The pipeline package's source, hashed: the driver and its workers must run the same code."""
    package = Path(__file__).parent
    digest = hashlib.sha1()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _worker_check(folders: list[str]) -> tuple[str, list[str]]:
    """On a worker: its code's fingerprint, and which of the folders it cannot see."""
    return code_fingerprint(), [f for f in folders if not os.path.isdir(f)]


def _check_reachable(address: str) -> None:
    """A refused TCP connection fails at once (dask's own client would retry until its timeout)."""
    protocol, _, rest = address.rpartition("://")
    if protocol not in ("", "tcp"):
        return  # tls://, ucx://…: left to dask
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"--scheduler {address}: not an address; write it tcp://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise ClusterError(_unreachable(address, error)) from error


def _unreachable(address: str, error: BaseException) -> str:
    return (
        f"--scheduler {address}: no dask scheduler answers there ({error}). Start one (`dask scheduler`) and "
        "its workers (`dask worker ADDRESS`), or leave --scheduler out to run on this machine."
    )


@contextmanager
def session(
    address: str | None, shared: Iterable[Path], opened: Cluster | None = None
) -> Iterator[Cluster | None]:
    """The cluster already `opened` by the caller, else the one at `address` (checked, closed at the end),
    else None: the local engine."""
    if opened is not None or not address:
        yield opened
        return
    with Cluster(address, shared) as cluster:
        yield cluster
