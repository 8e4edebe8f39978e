"""platform/runs.html, its charts' data and its CSV, from the runs' history (pipeline.runs): what to check
at the top, two charts over the last nights, a table and a CSV of every run."""

from __future__ import annotations

from datetime import UTC, date, datetime

from .constants import RUN_STAGES, RUNS_CSV, RUNS_DATA
from .csv_export import BOM, LINE_END, cell
from .render import date_words, tile_text
from .runs import STAGES, USUAL_WEEKS, day_events_low, over_max_reject_rate

CHART_DAYS = 60  # the charts show the runs of the last 60 as-of days (the table and the CSV: every run)
BAR_MS = 69_120_000  # a day's bar: 80 % of its day, a gap between two nights
STAGE_LABELS = {stage: label for stage, (label, _colour) in RUN_STAGES.items()}


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


def _count(value: float | None) -> str:
    """`1 234` as a tile shows it (render.tile_text), rounded to a whole number; `—` for none."""
    return tile_text(None if value is None else round(value))


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
            _count(run["lines_read"]),
            _count(sum(run["events_new"].values())) if nightly else "—",
            rejects,
            _count(run["day_events"]) + (f" ({_count(usual)})" if usual is not None else ""),
            _decimal(sum(run["seconds"].values())),
            _decimal(run["peak_memory_mib"]) if run["peak_memory_mib"] is not None else "—",
            _count(run["files_written"]),
            _count(run["bytes_written"]),
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
