"""The runs' own history (super administrators, `platform/runs.html`).

Each `site` and `nightly` appends one row to `LAKE/runs/` (a Parquet file per run, beside the events, which
`--retain-months` never deletes): its as-of day D, the events it ingested per type and the lines it rejected
per reason (their share of the lines read, against `--max-reject-rate`), the events of D in the lake against
that weekday's usual level, the seconds per stage, its peak memory, the site's files and bytes.

The page (pipeline.runs_page) is written during the run: it shows the runs recorded before and this one as
far as it is known then (its writing, publishing and removal seconds, files and bytes are recorded once the
site is served).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from . import aggregate_store as store
from . import lake as lake_io
from .constants import RUN_STAGES
from .holidays import day_off

RUNS_FOLDER = "runs"
USUAL_WEEKS = 8  # D's weekday over the eight weeks before D …
MIN_COMPARABLE = 3  # … of which at least three share D's school status (day off or not): else no usual level
LOW_SHARE = 0.5  # "far below": under half the usual level
STAGES = tuple(RUN_STAGES)

_COUNTS = pa.map_(pa.string(), pa.int64())
SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("command", pa.string()),  # "site" | "nightly"
        ("finished_at", pa.timestamp("s", tz="UTC")),
        ("as_of", pa.date32()),
        ("timezone", pa.string()),
        ("lines_read", pa.int64()),  # null after `site`: it ingests nothing
        ("events_new", _COUNTS),  # per event type
        ("duplicates", pa.int64()),
        ("rejects_new", _COUNTS),  # per reason
        ("reject_rate_percent", pa.float64()),  # of the lines read
        ("max_reject_rate_percent", pa.float64()),
        ("day_events", pa.int64()),  # valid events of D (local day) in the lake, every type
        ("usual_day_events", pa.float64()),  # the median of D's comparable weekdays; null: too few
        ("seconds", pa.map_(pa.string(), pa.float64())),  # per stage
        ("peak_memory_mib", pa.float64()),
        ("files_written", pa.int64()),
        ("bytes_written", pa.int64()),
    ]
)


@dataclass(frozen=True)
class DayCheck:
    """Day D's events against the usual level of its weekday: the median over the USUAL_WEEKS same weekdays
    before D that share its school status (a school day, or a day off: a school holiday in the platform's
    zone or a public holiday), and that the history covers."""

    day: date
    events: int
    usual: float | None
    compared: int

    @property
    def low(self) -> bool:
        return far_below(self.events, self.usual)

    def as_json(self) -> dict:
        """build.json's `day_events`."""
        return {"day": self.day.isoformat(), "events": self.events, "usual": self.usual, "low": self.low}


def far_below(events: int, usual: float | None) -> bool:
    """Under LOW_SHARE of the usual level, when there is one."""
    return usual is not None and events < LOW_SHARE * usual


def day_check(lake: Path, timezone: str, as_of: date, zone: str) -> DayCheck:
    def events_of(day: date) -> int:
        return sum(store.window_events(lake, timezone, [day]).values())

    first = store.read_first_day(lake, timezone)
    same_weeks = [as_of - timedelta(weeks=k) for k in range(1, USUAL_WEEKS + 1)]
    d_off = day_off(as_of, zone)
    comparable = [
        day for day in same_weeks if first is not None and day >= first and day_off(day, zone) == d_off
    ]
    usual = (
        statistics.median(events_of(day) for day in comparable) if len(comparable) >= MIN_COMPARABLE else None
    )
    return DayCheck(as_of, events_of(as_of), usual, len(comparable))


def row(run_id: str, report: dict, check: DayCheck, max_reject_rate: float | None) -> dict:
    """A run's row, from its build report (complete, or as far as it goes) and the check of its day D."""
    ingested = report.get("ingest")
    lines = ingested["lines"] if ingested else None
    rejected = sum(ingested["rejects_new"].values()) if ingested else 0
    return {
        "run_id": run_id,
        "command": "nightly" if ingested else "site",
        "finished_at": datetime.now(UTC).replace(microsecond=0),
        "as_of": date.fromisoformat(report["as_of"]),
        "timezone": report["timezone"],
        "lines_read": lines,
        "events_new": dict(ingested["events_new"]) if ingested else {},
        "duplicates": ingested["duplicates"] if ingested else None,
        "rejects_new": dict(ingested["rejects_new"]) if ingested else {},
        "reject_rate_percent": round(100 * rejected / lines, 4) if lines else (0.0 if ingested else None),
        "max_reject_rate_percent": max_reject_rate if ingested else None,
        "day_events": check.events,
        "usual_day_events": check.usual,
        "seconds": {stage: round(s, 3) for stage, s in report.get("seconds", {}).items()},
        "peak_memory_mib": report.get("peak_memory_mib"),
        "files_written": report.get("files_written"),
        "bytes_written": sum(report["bytes_written"].values()) if report.get("bytes_written") else None,
    }


def over_max_reject_rate(run: dict) -> bool:
    rate, most = run["reject_rate_percent"], run["max_reject_rate_percent"]
    return rate is not None and most is not None and rate > most


def day_events_low(run: dict) -> bool:
    return far_below(run["day_events"], run["usual_day_events"])


# ------------------------------------------------------------------------------------------- the table
def runs_dir(lake: Path) -> Path:
    return lake / RUNS_FOLDER


def read(lake: Path) -> list[dict]:
    """Every recorded run, in the order they finished."""
    folder = runs_dir(lake)
    parts = sorted(folder.glob(lake_io.PART_GLOB)) if folder.is_dir() else []
    runs = pq.read_table(parts, schema=SCHEMA).to_pylist() if parts else []  # a year of nights: 0.26 s
    for run in runs:  # maps come back as lists of pairs
        for key in ("events_new", "rejects_new", "seconds"):
            run[key] = dict(run[key] or [])
    return sorted(runs, key=lambda r: r["finished_at"])


def append(lake: Path, run: dict) -> Path:
    """One more file in LAKE/runs/, written under a temporary name then renamed: a row is whole or absent."""
    path = runs_dir(lake) / f"part-{run['run_id']}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {**run, **{k: list(run[k].items()) for k in ("events_new", "rejects_new", "seconds")}}
    lake_io.write_parquet(pa.Table.from_pylist([record], schema=SCHEMA), path)
    return path
