"""The `site` job: lake → daily aggregates → indicator tables → the site's files → published.

`build()` reads as the list of stages; each is one call, timed by `Stages`. The site is written into a new
build folder beside `out`, published at `out` in one atomic step, and the build it replaced is removed after
(pipeline.publish), so that a failed build leaves the previous site as it was.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from . import aggregate, holidays, indicators, memory, publish, runs, writer
from . import aggregate_store as store
from . import lake as lake_io
from .cluster import Cluster, session
from .constants import DEFAULT_TIMEZONE, PERIOD_12MONTHS
from .directory import EntitySet, read_snapshot
from .exceptions import LakeError
from .lock import holding_lock
from .model import CLASS, STRUCTURE
from .periods import check_timezone, default_as_of, history_days, period_spans, window_days

log = logging.getLogger(__name__)


@dataclass
class SiteOptions:
    lake: Path
    directory: Path
    out: Path
    as_of: date | None = None
    timezone: str = DEFAULT_TIMEZONE
    holiday_zone: str | None = None  # --holiday-zone: else the zone of most structures (SPEC 2.6)
    max_reject_rate: float | None = None  # nightly's --max-reject-rate, recorded in the runs' history
    scheduler: str | None = None  # --scheduler: a dask.distributed cluster runs the aggregation and writing

    def shared_folders(self, exports: Iterable[Path] = ()) -> list[Path]:
        """What a cluster's workers must see: the folders of the `exports` ingested first, the lake, and the
        folder the site's builds are made in."""
        return [*{Path(f).parent for f in exports}, self.lake, Path(os.path.abspath(self.out)).parent]


class Stages:
    """Seconds per stage, and this process's peak memory (MiB) at the end of each, for build.json
    (`with stages("write"): …`). The stage after which the peak is higher than after the one before set
    it. The peak is never reset (`clear_refs`) to measure a stage alone: ru_maxrss, which a scheduler or
    `time -v` reads once the process has ended, would then lose the earlier stages' peak."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peaks: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        clock = time.perf_counter()
        try:
            yield
        finally:
            self.peaks[name] = memory.peak_mib()
            memory.release_unused()  # what the stage freed, before the next one allocates
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - clock

    def report(self) -> dict:
        """build.json's `seconds`, `peak_memory_mib` and `peak_memory_mib_after_stage`."""
        return {
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "peak_memory_mib": memory.peak_mib(),
            "peak_memory_mib_after_stage": dict(self.peaks),
        }


@holding_lock(lambda options, *_args, **_kwargs: options.lake, create=False)  # adds `wait=`: pipeline.lock
def build(
    options: SiteOptions,
    ingest_report: dict | None = None,
    retention: dict | None = None,
    cluster: Cluster | None = None,
    stages: Stages | None = None,
) -> dict:
    """Build the whole site; returns the build report (also written as SITE/build.json). The aggregation
    and the writing of entities run on `cluster`, or on the one at `options.scheduler`, when given.
    `stages`: those the caller ran before (nightly's ingest), reported with the build's."""
    check_timezone(options.timezone)
    if not lake_io.events_dir(options.lake).is_dir():
        raise LakeError(f"{options.lake}: no lake here (no events/ folder); run `ingest` first")
    with (
        memory.collections_skip_what_is_held(),
        session(options.scheduler, options.shared_folders(), cluster) as cluster,
    ):
        return _build(options, ingest_report, retention, cluster, stages or Stages())


def _build(
    options: SiteOptions,
    ingest_report: dict | None,
    retention: dict | None,
    cluster: Cluster | None,
    stages: Stages,
) -> dict:
    as_of = options.as_of or default_as_of(options.timezone)

    with stages("aggregate"):
        snapshot = read_snapshot(options.directory)
        aggregation = aggregate.run(options.lake, options.timezone, history_days(as_of), cluster=cluster)
    with stages("indicators"):
        tables, entities = indicators.run(options.lake, options.timezone, as_of, snapshot)
        zones = holidays.zones_for(entities.entities, options.holiday_zone, *_twelve_months(as_of))
        day = runs.day_check(options.lake, options.timezone, as_of, zones.default)
    run = RunRecord(options, as_of, day, ingest_report)
    with stages("write"):
        served = publish.served_build(options.out)
        staging, recycled = publish.staging_folder(options.out)
        try:
            history = run.history(stages)  # the runs recorded before, and this one as far as it goes
            written, render = write_site(staging, tables, entities, zones, history, served, recycled, cluster)
        except BaseException:
            publish.discard(staging)  # the previous site stays as it was
            raise
    report = build_report(options, as_of, entities, aggregation, written, render, stages, ingest_report)
    report["holidays"] = zones.report(entities.entities)
    report["day_events"] = day.as_json()
    report["retention"] = retention  # what nightly's --retain-months deleted; None after `site`
    report["cluster"] = cluster.report() if cluster is not None else None
    lake_io.write_json(report, staging / "build.json")
    with stages("publish"):
        publish.publish(staging, options.out)

    with stages("remove_replaced"):  # after the new site is served: it never waits for this
        removed = publish.remove_replaced(options.out, served)
    report["replaced_builds_removed"] = removed
    report |= stages.report()
    lake_io.write_json(report, staging / "build.json")  # the same file, with the removal's seconds
    run.record(report)
    return report


def _twelve_months(as_of: date) -> tuple[date, date]:
    year = period_spans(as_of)[PERIOD_12MONTHS]
    return year.first, year.last


@dataclass
class RunRecord:
    """This run's row of the runs' history (pipeline.runs): in the site it writes, recorded once served."""

    options: SiteOptions
    as_of: date
    day: runs.DayCheck
    ingest_report: dict | None

    def __post_init__(self) -> None:
        ingested = (self.ingest_report or {}).get("run_id", "none")
        self.run_id = ingested if ingested != "none" else lake_io.new_run_id()

    def row(self, report: dict) -> dict:
        return runs.row(self.run_id, report, self.day, self.options.max_reject_rate)

    def history(self, stages: Stages) -> list[dict]:
        so_far = {"as_of": self.as_of.isoformat(), "timezone": self.options.timezone}
        so_far |= {"ingest": self.ingest_report, "seconds": stages.report()["seconds"]}
        return [*runs.read(self.options.lake), self.row(so_far)]

    def record(self, report: dict) -> None:
        runs.append(self.options.lake, self.row(report))


def write_site(
    site: Path,
    tables: indicators.IndicatorTables,
    entities: EntitySet,
    zones: holidays.HolidayZones,
    history: list[dict],
    previous: Path | None = None,
    recycled: bool = False,
    cluster: Cluster | None = None,
) -> tuple[writer.Written, dict]:
    """The shared files, then every entity's, then the runs' page (after the platform's writer has pruned
    its folder); (what was written, build.json's `render`). `recycled`: `site` holds a former site, pruned
    of what this one no longer has."""
    written = writer.Written()
    clock = time.perf_counter()
    pages = writer.write_shared(site, entities.entities, zones, written)
    setup = time.perf_counter() - clock
    clock = time.perf_counter()
    written.merge(writer.write_entities(site, tables, pages, previous, cluster=cluster, recycled=recycled))
    entities_seconds = time.perf_counter() - clock
    clock = time.perf_counter()
    writer.write_runs(site, pages, entities.entities[0], history, tables.as_of, written)
    if recycled:
        writer.prune_folders(site, entities.entities, pages)
    setup += time.perf_counter() - clock
    return written, written.render_report(entities_seconds, setup, recycled)


def build_report(
    options: SiteOptions,
    as_of: date,
    entities: EntitySet,
    aggregation: dict,
    written: writer.Written,
    render: dict,
    stages: Stages,
    ingest_report: dict | None,
) -> dict:
    return {
        "as_of": as_of.isoformat(),
        "timezone": options.timezone,
        "generated_at": datetime.now(ZoneInfo("UTC")).isoformat(timespec="seconds"),
        "periods": {
            p: {"first": s.first.isoformat(), "last": s.last.isoformat()}
            for p, s in period_spans(as_of).items()
        },
        "events_by_type": store.window_events(options.lake, options.timezone, window_days(as_of)),
        "rejects_by_reason": rejects_by_reason(options.lake),
        "entities": {
            "platform": 1,
            "structures": sum(1 for e in entities.entities if e.kind == STRUCTURE),
            "classes": sum(1 for e in entities.entities if e.kind == CLASS),
            "structures_not_in_snapshot": entities.structures_not_in_snapshot,
            "classes_not_in_snapshot": entities.classes_not_in_snapshot,
        },
        "aggregation": aggregation,
        "files_written": written.files + 1,  # and build.json
        "bytes_written": dict(written.by_kind),
        "render": render,
        **stages.report(),
        "ingest": ingest_report,
    }


def rejects_by_reason(lake: Path) -> dict[str, int]:
    reasons = lake_io.read_rejects(lake, columns=["reason"]).column("reason").to_pylist()
    return dict(sorted(Counter(reasons).items()))
