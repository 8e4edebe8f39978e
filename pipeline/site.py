"""The `site` job: lake → daily aggregates → indicator tables → CSVs, summaries, pages and build.json.

Reads top to bottom as the pipeline; each step is one call. The site is written into a fresh folder beside
`out` and swapped into place at the end, so a failed build leaves the previous site as it was.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from . import aggregate, indicators, render
from . import aggregate_store as store
from . import lake as lake_io
from .access import ACCESS_FILE, access_json
from .constants import DEFAULT_TIMEZONE
from .csv_export import entity_csvs
from .directory import read_snapshot
from .exceptions import LakeError, SiteFolderError
from .indicators import IndicatorTables
from .lock import claim_folder, folder_in_use, holding_lock, release_folder
from .model import CLASS, STRUCTURE
from .periods import check_timezone, default_as_of, period_spans, window_days

log = logging.getLogger(__name__)


@dataclass
class SiteOptions:
    lake: Path
    directory: Path
    out: Path
    as_of: date | None = None
    timezone: str = DEFAULT_TIMEZONE


@dataclass
class Written:
    files: int = 0
    bytes: int = 0
    by_kind: Counter = field(default_factory=Counter)
    render: dict = field(default_factory=dict)  # the page renderer's figures (pages per second, …)

    def write(self, path: Path, text: str, kind: str) -> None:
        data = text.encode("utf-8")
        path.write_bytes(data)
        self.files += 1
        self.bytes += len(data)
        self.by_kind[kind] += len(data)

    def merge(self, other: Written) -> None:
        self.files += other.files
        self.bytes += other.bytes
        self.by_kind.update(other.by_kind)


@holding_lock(lambda options, *_args, **_kwargs: options.lake, create=False)  # adds `wait=`: pipeline.lock
def build(
    options: SiteOptions,
    ingest_report: dict | None = None,
    earlier_seconds: dict[str, float] | None = None,
    retention: dict | None = None,
) -> dict:
    """Build the whole site; returns the build report (also written as SITE/build.json)."""
    check_timezone(options.timezone)
    if not lake_io.events_dir(options.lake).is_dir():
        raise LakeError(f"{options.lake}: no lake here (no events/ folder); run `ingest` first")
    as_of = options.as_of or default_as_of(options.timezone)
    seconds: dict[str, float] = dict(earlier_seconds or {})

    clock = time.perf_counter()
    snapshot = read_snapshot(options.directory)
    days = window_days(as_of)
    aggregation = aggregate.run(options.lake, options.timezone, days)
    seconds["aggregate"] = time.perf_counter() - clock

    clock = time.perf_counter()
    tables, entities = indicators.run(options.lake, options.timezone, as_of, snapshot)
    seconds["indicators"] = time.perf_counter() - clock

    clock = time.perf_counter()
    staging = _staging_folder(options.out)
    try:
        written = write_site(staging, tables, entities)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # the previous site stays as it was
        raise
    seconds["write"] = time.perf_counter() - clock

    report = {
        "as_of": as_of.isoformat(),
        "timezone": options.timezone,
        "generated_at": datetime.now(ZoneInfo("UTC")).isoformat(timespec="seconds"),
        "periods": {
            p: {"first": s.first.isoformat(), "last": s.last.isoformat()}
            for p, s in period_spans(as_of).items()
        },
        "events_by_type": store.window_events(options.lake, options.timezone, days),
        "rejects_by_reason": rejects_by_reason(options.lake),
        "entities": {
            "platform": 1,
            "structures": sum(1 for e in entities.entities if e.kind == STRUCTURE),
            "classes": sum(1 for e in entities.entities if e.kind == CLASS),
            "structures_not_in_snapshot": entities.structures_not_in_snapshot,
            "classes_not_in_snapshot": entities.classes_not_in_snapshot,
        },
        "aggregation": aggregation,
        "files_written": written.files + 1,
        "bytes_written": dict(written.by_kind),
        "render": written.render,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "peak_memory_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "ingest": ingest_report,
        "retention": retention,  # what nightly's --retain-months deleted (pipeline.retention); None: `site`
    }
    lake_io.write_json(report, staging / "build.json")
    _publish(staging, options.out)
    return report


def rejects_by_reason(lake: Path) -> dict[str, int]:
    reasons = lake_io.read_rejects(lake, columns=["reason"]).column("reason").to_pylist()
    return dict(sorted(Counter(reasons).items()))


def write_site(site: Path, tables: IndicatorTables, entities, workers: int | None = None) -> Written:
    """Every entity's CSVs, summary.json and pages, over `workers` forked processes (default: the cores)."""
    written = Written()
    written.write(site / ACCESS_FILE, access_json(entities.entities), "json")  # who may read each folder
    pages = render.SiteRenderer(site, entities.entities, written)
    clock = time.perf_counter()
    workers = workers or min(os.cpu_count() or 1, MAX_WRITERS)
    if workers > 1 and len(tables) >= MIN_ENTITIES_PER_WRITER * workers:
        global _SHARED
        _SHARED = (site, tables, pages)  # inherited by the forked writers, never pickled
        try:
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                parts = pool.map(_write_share, [(k, workers) for k in range(workers)])
        finally:
            _SHARED = None
        for part, stats in parts:
            written.merge(part)
            pages.stats.merge(stats)
    else:
        _write_entities(site, tables, range(len(tables)), pages)
    pages.stats.seconds = time.perf_counter() - clock  # wall time of all entity files, CSVs included
    written.render = pages.stats.report()
    return written


MAX_WRITERS = 2
MIN_ENTITIES_PER_WRITER = 50  # below this, forking costs more than it saves
_SHARED: tuple | None = None


def _write_share(share: tuple[int, int]) -> tuple[Written, render.RenderStats]:
    """In a forked writer: every `count`-th entity from `index`, into fresh counters."""
    index, count = share
    site, tables, pages = _SHARED
    pages.written = Written()
    pages.stats = render.RenderStats()
    _write_entities(site, tables, range(index, len(tables), count), pages)
    return pages.written, pages.stats


def _write_entities(site: Path, tables: IndicatorTables, indexes: range, pages: render.SiteRenderer) -> None:
    written = pages.written
    for i in indexes:
        entity_figures = tables.figures(i)
        folder = site / entity_figures.entity.path
        (folder / "csv").mkdir(parents=True, exist_ok=True)
        for name, text in entity_csvs(entity_figures).items():
            written.write(folder / "csv" / name, text, "csv")
        written.write(folder / "summary.json", render.summary_json(entity_figures), "json")
        pages.write_entity(folder, entity_figures)


def _staging_folder(out: Path) -> Path:
    """A new, empty build folder in `.<out>.builds/` beside `out`, once `out` is known to be replaceable.

    `out` itself is a symbolic link to the build it serves (see `_publish`).
    """
    out = Path(os.path.abspath(out))  # not resolve(): `out` is the link, not the build it points to
    _check_replaceable(out)
    builds = _builds_folder(out)
    builds.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%S%fZ")
    staging = builds / f"{stamp}-{os.getpid()}"
    staging.mkdir()
    claim_folder(staging)  # until published: another build into `out` leaves it alone
    return staging


def _publish(staging: Path, out: Path) -> None:
    """Serve `staging` at `out` in one atomic step: a new symbolic link renamed over the old one, so that a
    reader finds the previous site or the new one, whole, never a mix; then delete the builds no longer
    served (the one just replaced, those of killed builds).

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
    _remove_unserved_builds(out, builds)


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


def _remove_unserved_builds(out: Path, builds: Path) -> None:
    served = Path(os.readlink(out)).name
    leftovers = [p for p in builds.iterdir() if p.name != served]
    # folders of the versions that built beside `out` before the links (a killed one left them)
    leftovers += [*out.parent.glob(f".{out.name}.building-*"), *out.parent.glob(f".{out.name}.previous-*")]
    for path in leftovers:
        if path.is_dir() and not path.is_symlink():
            if folder_in_use(path):
                continue  # a build in progress into the same --out (from another lake)
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

