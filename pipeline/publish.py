"""Publishing a build: `--out` is a symbolic link to the build it serves, switched in one atomic rename.

Builds live in `.<out>.builds/<time>-<pid>/` beside `out`. A build is written into a folder there
(`staging_folder`), published by renaming a new link over `out` (`publish`); afterwards (`remove_replaced`)
the build it replaced becomes the spare, `.<out>.builds/spare/`, and any other build no longer served is
removed.

The next build is written over the spare (`Staging.recycled`): its files are rewritten in place and those it
no longer has removed (pipeline.writer), rather than a new folder filled and a whole build deleted every
night. On ext4, the medium nightly's write took 6.5-6.8 s over the spare, against 7.8-16.5 s into a new
folder followed by 4.8-5.3 s to delete the replaced build (files created in the minutes after a mass delete
cost the most).
"""

from __future__ import annotations

import os
import shutil
import stat
from datetime import datetime
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from .exceptions import SiteFolderError
from .lock import claim_and_rename, claim_folder, folder_in_use, release_folder

SPARE = "spare"  # in the builds folder: the build replaced last, for the next one to be written over


class Staging(NamedTuple):
    folder: Path
    recycled: bool  # the spare build renamed: it holds a former site, to be overwritten and pruned


def staging_folder(out: Path) -> Staging:
    """The new build's folder in `.<out>.builds/` beside `out`, once `out` is known to be replaceable: the
    spare build, renamed, when there is one that no other build holds; else a new, empty folder."""
    out = Path(os.path.abspath(out))  # not resolve(): `out` is the link, not the build it points to
    _check_replaceable(out)
    builds = _builds_folder(out)
    builds.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%S%fZ")
    staging = builds / f"{stamp}-{os.getpid()}"
    # claimed until published: another build into `out` leaves it alone
    if _ours(builds / SPARE) and claim_and_rename(builds / SPARE, staging):
        return Staging(staging, recycled=True)
    staging.mkdir()
    claim_folder(staging)
    return Staging(staging, recycled=False)


def served_build(out: Path) -> Path | None:
    """The build folder `out` serves now (a link this program published), or None."""
    out = Path(os.path.abspath(out))
    if not out.is_symlink():
        return None
    target = Path(os.path.normpath(out.parent / os.readlink(out)))
    return target if target.parent == _builds_folder(out) and target.is_dir() else None


def publish(staging: Path, out: Path) -> None:
    """Serve `staging` at `out` in one atomic step: a new symbolic link renamed over the old one, so that a
    reader finds the previous site or the new one, whole, never a mix.

    A real folder at `out` (a site written by a version before the links) is moved into the builds folder
    first: that first switch leaves a moment without a site at `out`; every later one is atomic.
    """
    out = Path(os.path.abspath(out))
    builds = staging.parent
    if out.is_dir() and not out.is_symlink():
        _check_replaceable(out)
        if any(out.iterdir()):
            os.replace(out, builds / f"legacy-{staging.name}")
        else:
            out.rmdir()
    link = builds / f".link-{os.getpid()}"
    link.unlink(missing_ok=True)
    os.symlink(os.path.relpath(staging, out.parent), link)  # relative: the parent folder can move
    os.replace(link, out)
    release_folder(staging)


def remove_replaced(out: Path, replaced: Path | None = None) -> int:
    """Keep `replaced` (the build `out` served before this one was published) as the spare, and delete the
    other builds `out` no longer serves (those of killed builds, a spare another user wrote; `replaced` too
    when a spare is left that no build took); returns how many folders were removed. A folder another build
    is still writing is left alone."""
    out = Path(os.path.abspath(out))
    builds = _builds_folder(out)
    served = Path(os.readlink(out)).name
    spare, removed = builds / SPARE, 0
    if spare.is_dir() and not _ours(spare) and not folder_in_use(spare):
        shutil.rmtree(spare, ignore_errors=True)  # as far as it can: not a spare this user can write over
        removed += 1
    if replaced is not None and replaced.name != served and replaced.is_dir() and not spare.exists():
        if not folder_in_use(replaced):
            os.rename(replaced, spare)
    leftovers = [p for p in builds.iterdir() if p.name not in (served, SPARE)]
    # folders of the versions that built beside `out` before the links (a killed one left them)
    leftovers += [*out.parent.glob(f".{out.name}.building-*"), *out.parent.glob(f".{out.name}.previous-*")]
    for path in leftovers:
        if path.is_dir() and not path.is_symlink():
            if folder_in_use(path):
                continue  # a build in progress into the same --out (from another lake)
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
        else:
            path.unlink(missing_ok=True)
    return removed


def discard(staging: Path) -> None:
    """A failed build's folder: the previous site stays as it was."""
    shutil.rmtree(staging, ignore_errors=True)


def _ours(spare: Path) -> bool:
    """Whether `spare` is a build folder this user wrote, so that it can write over it (a build run once by
    another user, root say, would make every rewrite fail)."""
    try:
        status = spare.lstat()
    except FileNotFoundError:
        return False
    return stat.S_ISDIR(status.st_mode) and status.st_uid == os.getuid()


def _builds_folder(out: Path) -> Path:
    return out.with_name(f".{out.name}.builds")


def _check_replaceable(out: Path) -> None:
    """Refuse an `out` that this program did not publish rather than delete what it holds."""
    if out.is_symlink():
        target = Path(os.path.normpath(out.parent / os.readlink(out)))
        if target.parent != _builds_folder(out):
            raise SiteFolderError(
                f"{out} is a symbolic link to {target}, not a site published by this program; "
                "remove the link, or give another --out"
            )
    elif out.is_dir():
        if any(out.iterdir()) and not (out / "build.json").is_file():
            raise SiteFolderError(
                f"{out} is a folder that holds no site (no build.json), and --out is replaced whole; "
                "empty it or give another --out"
            )
    elif out.exists():
        raise SiteFolderError(f"{out} is a file; --out must name a folder to publish the site at")
