"""One run at a time on a lake: an exclusive `flock` on LAKE/.lock, held by `ingest`, `site` and `nightly`.

The kernel drops the lock when its holder ends, however it ends (SIGKILL included), so a lock is never stale.
The file holds the holder's pid, start time and command, for the message of a run that finds it taken.
Within one process the lock is re-entrant (`nightly` takes it once, then calls `ingest` and `site`), and a
forked worker closes its inherited copy, so that a worker outliving a killed parent cannot keep the lake
locked (flock belongs to the open file, which a fork shares).

`claim_folder` marks a site build folder as being written the same way, so that another build publishing
into the same `--out` deletes the folders of killed builds and never one still being written.
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from . import lake as lake_io
from .exceptions import LakeBusyError

log = logging.getLogger(__name__)

LOCK_NAME = ".lock"
_COMMAND_CHARS = 200

_held: dict[Path, tuple[int, int]] = {}  # resolved lake → (file descriptor, depth)
_claimed: dict[Path, int] = {}  # folders this process is writing → file descriptor holding their flock


def lock_path(lake: Path) -> Path:
    return lake / LOCK_NAME


@contextmanager
def lake_lock(lake: Path, wait: bool = False, create: bool = True) -> Iterator[None]:
    """Hold `lake`'s lock for the block. Taken: raise LakeBusyError, or block until free when `wait`.

    `create=False` (a reader such as `site`) locks nothing when the lake folder does not exist, so that the
    caller's own "no lake here" message is the one shown and no empty folder is left behind.
    """
    lake = Path(lake)
    if not lake.is_dir():
        if not create:
            yield
            return
        lake.mkdir(parents=True, exist_ok=True)
    key = lake.resolve()
    if key in _held:  # this process holds it already
        fd, depth = _held[key]
        _held[key] = (fd, depth + 1)
        try:
            yield
        finally:
            fd, depth = _held[key]
            _held[key] = (fd, depth - 1)
        return

    fd = os.open(lock_path(lake), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        _acquire(fd, lake, wait)
        _write_holder(fd)
        _held[key] = (fd, 1)
        try:
            removed = lake_io.remove_temporaries(lake)  # a killed run's leftovers: nobody else writes now
            if removed:
                log.info("%s: removed %d temporary file(s) left by an interrupted run", lake, len(removed))
            yield
        finally:
            del _held[key]
            os.ftruncate(fd, 0)  # the holder's record goes with the lock
    finally:
        os.close(fd)  # releases the lock


def holding_lock(
    lake_of: Callable[..., Path], create: bool = True, before: Callable[..., object] | None = None
) -> Callable:
    """Decorator: call the function holding the lock of the lake `lake_of(*args, **kwargs)` names, after
    `before(*args, **kwargs)` (checks that need no lock, so that a failed one leaves no lake folder); the
    function gains a keyword argument `wait` (see `lake_lock`)."""

    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)
        def locked(*args, wait: bool = False, **kwargs):
            if before is not None:
                before(*args, **kwargs)
            with lake_lock(Path(lake_of(*args, **kwargs)), wait=wait, create=create):
                return function(*args, **kwargs)

        return locked

    return decorate


def _acquire(fd: int, lake: Path, wait: bool) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        holder = _describe_holder(fd)
    if not wait:
        raise LakeBusyError(
            f"{lake} is in use by another run ({holder}); it stops here. Wait for it, or pass --wait"
        )
    log.warning("%s is in use by another run (%s); waiting for it to finish", lake, holder)
    fcntl.flock(fd, fcntl.LOCK_EX)


def _write_holder(fd: int) -> None:
    record = {
        "pid": os.getpid(),
        "since": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(sys.argv)[:_COMMAND_CHARS],
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(record).encode(), 0)


def _describe_holder(fd: int) -> str:
    try:
        record = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        record = {}
    if not record.get("pid"):  # the holder has not written its record yet
        return "pid unknown"
    return f"pid {record['pid']}, since {record.get('since', '?')}: {record.get('command', '?')}"


def claim_folder(folder: Path) -> None:
    """Mark `folder` (a site build being written) as in use by this process until `release_folder`: an
    flock on the folder itself, which the kernel drops if the process is killed."""
    for stale in [f for f in _claimed if not f.is_dir()]:  # claims of builds that failed and were removed
        release_folder(stale)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held by another live process
        os.close(fd)
        raise
    _claimed[folder] = fd


def claim_and_rename(folder: Path, new: Path) -> bool:
    """Claim `folder` as claim_folder does, then rename it `new` (the flock follows the folder, not its name,
    so no other process finds it unclaimed in between); False, with nothing done, when it is gone or a live
    process holds it."""
    try:
        claim_folder(folder)
    except OSError:  # gone, or held by another process (BlockingIOError)
        return False
    try:
        os.rename(folder, new)
    except OSError:  # taken meanwhile
        release_folder(folder)
        return False
    _claimed[new] = _claimed.pop(folder)
    return True


def release_folder(folder: Path) -> None:
    fd = _claimed.pop(folder, None)
    if fd is not None:
        os.close(fd)


def folder_in_use(folder: Path) -> bool:
    """Whether a live process (this one included) has claimed `folder`; a killed one's claim is gone."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another open file: conflicts with our own claims too
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def _close_in_forked_child() -> None:
    for fd in [fd for fd, _depth in _held.values()] + list(_claimed.values()):
        try:
            os.close(fd)  # close only: an unlock here would release the parent's lock
        except OSError:
            pass
    _held.clear()
    _claimed.clear()


os.register_at_fork(after_in_child=_close_in_forked_child)
