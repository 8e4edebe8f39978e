"""The demo: a synthetic ENT's year as mongoexport files, ingested and built twice — the year, then a
nightly that adds its last day — so that both timings are shown."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from . import nightly
from .site import SiteOptions

DEMO_FIRST_DAY = date(2025, 3, 1)
DEMO_AS_OF = date(2026, 3, 31)  # a school-year month with the change to summer time in it


@dataclass
class DemoResult:
    site: Path
    first_events: int
    first_seconds: float
    nightly_seconds: float
    last_day: date


def run(out: Path, seed: int = 7) -> DemoResult:
    from . import demo_data

    shutil.rmtree(out / "lake", ignore_errors=True)
    inputs = demo_data.write_demo_inputs(out, DEMO_FIRST_DAY, DEMO_AS_OF - timedelta(days=1), seed=seed)
    last_day_files = demo_data.write_events(out / "exports", DEMO_AS_OF, DEMO_AS_OF, seed=seed)
    options = SiteOptions(lake=out / "lake", directory=inputs.directory, out=out / "site")

    options.as_of = DEMO_AS_OF - timedelta(days=1)
    first = nightly.run(inputs.event_files, options)
    options.as_of = DEMO_AS_OF
    second = nightly.run(last_day_files, options)
    return DemoResult(
        site=options.out,
        first_events=sum(first.ingest.events_new.values()),
        first_seconds=first.seconds,
        nightly_seconds=second.seconds,
        last_day=DEMO_AS_OF,
    )
