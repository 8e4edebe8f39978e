"""The demo: two years of a synthetic ENT as mongoexport files (the tiles compare with the year before),
ingested and built twice — the history, then a nightly that adds its last day — so that both timings are
shown."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from . import lake as lake_io
from . import nightly
from .site import SiteOptions

DEMO_FIRST_DAY = date(2024, 3, 1)  # two years: the tiles compare with the year before (SPEC 2.5)
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
    _record_timings(options.out / "build.json", first, second)
    return DemoResult(
        site=options.out,
        first_events=sum(first.ingest.events_new.values()),
        first_seconds=first.seconds,
        nightly_seconds=second.seconds,
        last_day=DEMO_AS_OF,
    )


def _record_timings(build_json: Path, first: nightly.NightlyReport, second: nightly.NightlyReport) -> None:
    """Add to the demo's build.json how the nightly of one more day compares with the first full build."""
    report = lake_io.read_json(build_json) or {}
    report["demo"] = {
        "first_build": {
            "seconds": round(first.seconds, 3),
            "stages": first.site["seconds"],
            "lines_per_second": first.site["ingest"]["lines_per_second"],
            "peak_memory_mib": first.site["peak_memory_mib"],
        },
        "nightly_one_more_day": {"seconds": round(second.seconds, 3), "stages": second.site["seconds"]},
        "nightly_share_of_first_build": round(second.seconds / first.seconds, 3),
    }
    lake_io.write_json(report, build_json)
