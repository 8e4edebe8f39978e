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
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import aggregate, indicators, render
from . import lake as lake_io
from .constants import DEFAULT_TIMEZONE
from .csv_export import entity_csvs
from .directory import read_snapshot
from .exceptions import LakeError, StatistiquesError
from .indicators import IndicatorTables
from .model import CLASS, STRUCTURE
from .periods import period_spans

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


def default_as_of(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date() - timedelta(days=1)


def check_timezone(timezone: str) -> None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise StatistiquesError(
            f"unknown timezone {timezone!r}; give an IANA name such as Europe/Paris"
        ) from error


def build(
    options: SiteOptions, ingest_report: dict | None = None, earlier_seconds: dict[str, float] | None = None
) -> dict:
    """Build the whole site; returns the build report (also written as SITE/build.json)."""
    check_timezone(options.timezone)
    if not lake_io.events_dir(options.lake).is_dir():
        raise LakeError(f"{options.lake}: no lake here (no events/ folder); run `ingest` first")
    as_of = options.as_of or default_as_of(options.timezone)
    seconds: dict[str, float] = dict(earlier_seconds or {})

    clock = time.perf_counter()
    snapshot = read_snapshot(options.directory)
    days = indicators.window_days(as_of)
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
        "events_by_type": aggregate.window_events(options.lake, options.timezone, days),
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
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.building-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


def _publish(staging: Path, out: Path) -> None:
    out = out.resolve()
    retired = out.with_name(f".{out.name}.previous-{os.getpid()}")
    if out.exists():
        os.replace(out, retired)
    os.replace(staging, out)
    shutil.rmtree(retired, ignore_errors=True)
