"""The nightly job: ingest the night's exports, then build the site, with one report of both."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from . import ingest
from .site import SiteOptions, build


@dataclass
class NightlyReport:
    ingest: ingest.IngestReport
    site: dict
    seconds: float


def run(files: list[Path], options: SiteOptions) -> NightlyReport:
    started = time.perf_counter()
    ingested = ingest.run(files, options.lake) if files else ingest.IngestReport(run_id="none")
    rate = round(ingested.lines / ingested.seconds) if ingested.seconds else None
    report = build(
        options,
        ingest_report={**ingested.as_dict(), "lines_per_second": rate},
        earlier_seconds={"ingest": ingested.seconds},
    )
    return NightlyReport(ingested, report, time.perf_counter() - started)
