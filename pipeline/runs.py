"""The runs' own history (super administrators, `platform/runs.html`).

Each `site` and `nightly` appends one row to `LAKE/runs/` (a Parquet file per run, beside the events, which
`--retain-months` never deletes): its as-of day D, the events it ingested per type and the lines it rejected
per reason (their share of the lines read, against `--max-reject-rate`), the events of D in the lake against
that weekday's usual level, the seconds per stage, its peak memory, the site's files and bytes.

The page is written during the run: it shows the runs recorded before and this one as far as it is known
then (its writing, publishing and removal seconds, files and bytes are recorded once the site is served).
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
from .constants import RUN_STAGES, RUNS_CSV, RUNS_DATA
from .csv_export import BOM, LINE_END, cell
from .holidays import calendar, public_holidays
from .render import date_words

RUNS_FOLDER = "runs"
USUAL_WEEKS = 8  # D's weekday over the eight weeks before D …
MIN_COMPARABLE = 3  # … of which at least three share D's school status (day off or not): else no usual level
LOW_SHARE = 0.5  # "far below": under half the usual level
CHART_DAYS = 60  # the charts show the runs of the last 60 as-of days (the table and the CSV: every run)
BAR_MS = 69_120_000  # a day's bar: 80 % of its day, a gap between two nights
STAGES = tuple(RUN_STAGES)
STAGE_LABELS = {stage: label for stage, (label, _colour) in RUN_STAGES.items()}

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

    school_holidays = {
        h.first + timedelta(days=n) for h in calendar(zone) for n in range((h.last - h.first).days + 1)
    }

    def off(day: date) -> bool:  # no school: a school holiday, or a public one (1 May, Ascension…)
        return day in school_holidays or day in public_holidays(day.year)

    first = store.read_first_day(lake, timezone)
    same_weeks = [as_of - timedelta(weeks=k) for k in range(1, USUAL_WEEKS + 1)]
    comparable = [day for day in same_weeks if first is not None and day >= first and off(day) == off(as_of)]
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


# ------------------------------------------------------------------------------------------ the alerts
def alerts(runs: list[dict]) -> list[str]:
    """What the page says at its top: the last run that ingested went over its --max-reject-rate; the last
    run's day D holds far fewer events than its weekday's usual level (a sign of a broken export)."""
    said = []
    ingesting = [r for r in runs if r["command"] == "nightly"]
    if ingesting and over_max_reject_rate(last := ingesting[-1]):
        reasons = ", ".join(
            f"{reason} {n}" for reason, n in sorted(last["rejects_new"].items(), key=lambda p: -p[1])
        )
        rate, most = _percent(last["reject_rate_percent"]), _percent(last["max_reject_rate_percent"])
        said.append(
            f"La dernière ingestion (nuit du {date_words(last['as_of'])}) a rejeté {rate} des lignes lues, "
            f"au-delà de --max-reject-rate {most} ({reasons}) : l'export est peut-être abîmé ; les lignes "
            "rejetées sont gardées dans le lac (LAKE/rejects/)."
        )
    if runs and day_events_low(last := runs[-1]):
        said.append(
            f"Le {date_words(last['as_of'])}, {_count(last['day_events'])} événements, contre "
            f"{_count(last['usual_day_events'])} d'habitude ce jour de la semaine (médiane des mêmes jours "
            f"des {USUAL_WEEKS} semaines précédentes, en période scolaire comparable) : l'export de ce jour "
            "est peut-être incomplet."
        )
    return said


def _percent(value: float) -> str:
    return f"{value:.2f}".replace(".", ",").removesuffix(",00") + " %"


def _count(value: float) -> str:
    return f"{round(value):,}".replace(",", "\u202f")


# --------------------------------------------------------------------------------------------- the CSV
CSV_HEADER = (
    "Fin (UTC)",
    "Commande",
    "Jour",
    "Lignes lues",
    "Événements ajoutés",
    "Doublons",
    "Rejets",
    "Taux de rejet (%)",
    "Seuil de rejet (%)",
    "Événements du jour",
    "Niveau habituel",
    *(f"Secondes : {STAGE_LABELS[stage]}" for stage in STAGES),
    "Mémoire (Mio)",
    "Fichiers",
    "Octets",
    "Événements ajoutés par type",
    "Rejets par motif",
)


def csv_bytes(runs: list[dict]) -> bytes:
    """Every run, oldest first, in the format of SPEC 3.2 (the counts per type and per reason in a cell each,
    `LOGIN=12 ACCESS=30`)."""
    lines = [";".join(cell(name) for name in CSV_HEADER)]
    for run in runs:
        values = [
            run["finished_at"].strftime("%Y-%m-%d %H:%M:%S"),
            run["command"],
            run["as_of"].isoformat(),
            run["lines_read"],
            sum(run["events_new"].values()) if run["command"] == "nightly" else None,
            run["duplicates"],
            sum(run["rejects_new"].values()) if run["command"] == "nightly" else None,
            run["reject_rate_percent"],
            run["max_reject_rate_percent"],
            run["day_events"],
            run["usual_day_events"],
            *(run["seconds"].get(stage) for stage in STAGES),
            run["peak_memory_mib"],
            run["files_written"],
            run["bytes_written"],
            " ".join(f"{k}={v}" for k, v in sorted(run["events_new"].items())),
            " ".join(f"{k}={v}" for k, v in sorted(run["rejects_new"].items())),
        ]
        lines.append(";".join(cell(v) for v in values))
    return BOM + "".join(line + LINE_END for line in lines).encode()


# ----------------------------------------------------------------------------------------- the page
TABLE_HEADER = (
    "Fin (UTC)",
    "Commande",
    "Jour",
    "Lignes lues",
    "Événements ajoutés",
    "Rejets",
    "Événements du jour (habituel)",
    "Durée (s)",
    "Mémoire (Mio)",
    "Fichiers",
    "Octets",
)


def page_context(runs: list[dict], as_of: str) -> dict:
    """What templates/runs.html shows, besides what every page has."""
    return {
        "as_of": as_of,
        "alerts": alerts(runs),
        "header": TABLE_HEADER,
        "rows": table_rows(runs),
        "csv_name": RUNS_CSV,
        "data_script": RUNS_DATA,
        "chart_days": CHART_DAYS,
        "usual_weeks": USUAL_WEEKS,
    }


def table_rows(runs: list[dict]) -> list[dict]:
    """The page's table, the last run first: each row's cells as shown, and what to flag."""
    out = []
    for run in reversed(runs):
        nightly = run["command"] == "nightly"
        rejected = sum(run["rejects_new"].values())
        rejects = _count(rejected) if nightly else "—"
        if nightly and run["max_reject_rate_percent"] is not None:
            rate, most = _percent(run["reject_rate_percent"]), _percent(run["max_reject_rate_percent"])
            rejects += f" ({rate}, seuil {most})"
        usual = run["usual_day_events"]
        cells = [
            run["finished_at"].strftime("%Y-%m-%d %H:%M"),
            run["command"],
            date_words(run["as_of"]),
            _count(run["lines_read"]) if run["lines_read"] is not None else "—",
            _count(sum(run["events_new"].values())) if nightly else "—",
            rejects,
            _count(run["day_events"]) + (f" ({_count(usual)})" if usual is not None else ""),
            _decimal(sum(run["seconds"].values())),
            _decimal(run["peak_memory_mib"]) if run["peak_memory_mib"] is not None else "—",
            _count(run["files_written"]) if run["files_written"] is not None else "—",
            _count(run["bytes_written"]) if run["bytes_written"] is not None else "—",
        ]
        flags = [
            words
            for test, words in ((over_max_reject_rate, "rejets"), (day_events_low, "jour bas"))
            if test(run)
        ]
        out.append({"cells": cells, "flags": flags})
    return out


def _decimal(value: float) -> str:
    return f"{value:.1f}".replace(".", ",")


# ---------------------------------------------------------------------------------------- the charts
def chart_rows(runs: list[dict]) -> dict[str, list[dict]]:
    """The charts' datasets (pipeline.charts.run_events, run_seconds): the last run of each as-of day over
    the last CHART_DAYS days; each stage's seconds stacked here (`y0` to `y1`), in the order they ran."""
    if not runs:
        return {"events": [], "seconds": []}
    last_day = runs[-1]["as_of"]
    latest = {r["as_of"]: r for r in runs if (last_day - r["as_of"]).days < CHART_DAYS}
    events, seconds = [], []
    for day, run in sorted(latest.items()):
        t, t2 = _utc_ms(day), _utc_ms(day) + BAR_MS
        usual = run["usual_day_events"]
        words = f"{date_words(day)} — {_count(run['day_events'])} événements" + (
            f", habituellement {_count(usual)}" if usual is not None else ", pas encore de niveau habituel"
        )
        events.append(
            {
                "t": t,
                "t2": t2,
                "v": run["day_events"],
                "u": usual,
                "low": day_events_low(run),
                "d": words,
            }
        )
        total, below = sum(run["seconds"].values()), 0.0
        for stage in STAGES:
            if stage in run["seconds"]:
                s = run["seconds"][stage]
                label = STAGE_LABELS[stage]
                words = f"{date_words(day)} ({run['command']}) — {label} : {s:.1f} s sur {total:.1f} s"
                seconds.append(
                    {
                        "t": t,
                        "t2": t2,
                        "stage": label,
                        "y0": below,
                        "y1": below + s,
                        "d": words,
                    }
                )
                below += s
    return {"events": events, "seconds": seconds}


def _utc_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
