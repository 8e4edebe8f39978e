"""The nightly job: ingest the night's exports, apply the retention, then build the site, with one report of
all three, holding the lake's lock throughout (pipeline.lock)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from . import ingest, retention
from .cluster import session
from .lock import lake_lock
from .periods import check_timezone, default_as_of
from .site import SiteOptions, Stages, build


@dataclass
class NightlyReport:
    ingest: ingest.IngestReport
    site: dict
    seconds: float


def run(
    files: list[Path],
    options: SiteOptions,
    wait: bool = False,
    retain_months: int = retention.DEFAULT_RETAIN_MONTHS,
) -> NightlyReport:
    started = time.perf_counter()
    retention.check_months(retain_months)
    check_timezone(options.timezone)
    options = replace(options, as_of=options.as_of or default_as_of(options.timezone))  # one D for all
    stages = Stages()
    with (
        lake_lock(options.lake, wait=wait, create=bool(files)),
        session(options.scheduler, options.shared_folders(files)) as cluster,
    ):
        with stages("ingest"):  # its end returns the 1.5 GB a regional day's ingest leaves freed but held
            if files:
                ingested = ingest.run(files, options.lake, cluster=cluster)
            else:
                ingested = ingest.IngestReport(run_id="none")
        rate = round(ingested.lines / ingested.seconds) if ingested.seconds else None
        with stages("retention"):
            deleted = retention.apply(options.lake, retain_months, options.as_of, options.timezone)
        report = build(
            options,
            ingest_report={**ingested.as_dict(), "lines_per_second": rate},
            retention=deleted,
            cluster=cluster,
            stages=stages,
        )
    return NightlyReport(ingested, report, time.perf_counter() - started)
