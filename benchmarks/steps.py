"""The measured steps on the pipeline's side (each runs in its own process, see measure.py).

Every step takes a JSON-able dict of arguments and returns a JSON-able dict of what it did and how long
its parts took (time.perf_counter inside the step, so that interpreter start-up is not counted).
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

from pipeline import aggregate as pipeline_aggregate
from pipeline import aggregate_store, indicators, periods
from pipeline import ingest as pipeline_ingest
from pipeline import nightly as pipeline_nightly
from pipeline import site as pipeline_site
from pipeline.directory import read_snapshot
from pipeline.model import CLASS, STRUCTURE, EntityFigures

from . import synth as synthetic

SAMPLE_STRUCTURES = 3
SAMPLE_CLASSES = 3


def _day(text: str) -> date:
    return date.fromisoformat(text)


# --------------------------------------------------------------------------------------------------- synth
def synth(args: dict) -> dict:
    """Directory, lake days (parquet) and mongoexport days (.json.gz) of one synthetic platform."""
    clock = time.perf_counter()
    pop = synth_population(args)
    seconds = {"population": time.perf_counter() - clock}
    synthetic.write_directory(pop, Path(args["directory"]))
    clock = time.perf_counter()
    per_day = synthetic.write_lake_days(
        pop, Path(args["lake"]), [_day(d) for d in args["lake_days"]], args["seed"]
    )
    seconds["lake"] = time.perf_counter() - clock
    clock = time.perf_counter()
    exports, bad_share = Path(args["exports"]), args.get("bad_share", 0)
    lines = {
        d: synthetic.write_export(pop, _day(d), exports / f"events-{d}.json.gz", args["seed"], bad_share)
        for d in args["export_days"]
    }
    if clean := args.get("clean_exports"):  # the same lines, none spoilt (the same draws of the generator)
        for d in args["export_days"]:
            synthetic.write_export(pop, _day(d), Path(clean) / f"events-{d}.json.gz", args["seed"], 0.0)
    seconds["exports"] = time.perf_counter() - clock
    return {
        "accounts": pop.n_users,
        "roles": len(pop.role_prof),
        "structures": len(pop.structure_names),
        "classes": len(pop.class_names),
        "lake_events_per_day": per_day,
        "export_lines": lines,
        "seconds": seconds,
    }


def synth_population(args: dict) -> synthetic.Population:
    return synthetic.make_population(synthetic.SCALES[args["scale"]], args["seed"])


# -------------------------------------------------------------------------------------------------- ingest
def ingest(args: dict) -> dict:
    files = [Path(f) for f in args["files"]]
    report = pipeline_ingest.run(files, Path(args["lake"]), now_ms=args["now_ms"])
    data = report.as_dict()
    return {
        "seconds": report.seconds,
        "lines": report.lines,
        "events": sum(report.events_new.values()),
        "events_by_type": data["events_new"],
        "duplicates": report.duplicates,
        "rejects": data["rejects_new"],
        "input_bytes": sum(f.stat().st_size for f in files),
    }


# ------------------------------------------------------------------------------------------- first build
def aggregate(args: dict) -> dict:
    clock = time.perf_counter()
    work = pipeline_aggregate.run(
        Path(args["lake"]), args["timezone"], periods.history_days(_day(args["as_of"]))
    )
    return {"seconds": time.perf_counter() - clock, "aggregation": work}


def indicators_step(args: dict) -> tuple[object, list, dict]:
    """The indicator computation as site.build does it: `indicators.run` (load the aggregates, find the
    entities, compute); (tables, entities, timings)."""
    lake, timezone, as_of = Path(args["lake"]), args["timezone"], _day(args["as_of"])
    clock = time.perf_counter()
    snapshot = read_snapshot(Path(args["directory"]))
    tables, entities = indicators.run(lake, timezone, as_of, snapshot)
    return (
        tables,
        entities.entities,
        {"seconds": time.perf_counter() - clock, "entities": len(entities.entities)},
    )


def indicators_task(args: dict) -> dict:
    tables, entities, result = indicators_step(args)
    sample = sample_figures(tables, entities)
    Path(args["sample"]).write_text(json.dumps(sample), encoding="utf-8")
    result["sampled_entities"] = sorted({key.split("|")[1] for key in sample})
    return result


def entity_figures(tables, i: int) -> EntityFigures:
    """One entity's figures, whether the stage returns them all (a list) or builds them on demand."""
    return tables[i] if isinstance(tables, list) else tables.figures(i)


def sample_figures(tables, entities: list) -> dict[str, float]:
    """Every non-zero figure of the platform and a few structures and classes, as flat records
    `indicator|entity|profile|grouping or period|key` → value, to compare with DuckDB's tables."""
    structures = [i for i, e in enumerate(entities) if e.kind == STRUCTURE][:SAMPLE_STRUCTURES]
    classes = [i for i, e in enumerate(entities) if e.kind == CLASS][:SAMPLE_CLASSES]
    records: dict[str, float] = {}
    for i in [0, *structures, *classes]:
        records.update(figure_records(entity_figures(tables, i)))
    return records


def figure_records(fig: EntityFigures) -> dict[str, float]:
    entity = aggregate_store.entity_key(fig.entity.kind, fig.entity.id)
    out: dict[str, float] = {}

    def put(indicator: str, profile: str, grouping: str, key: str, value) -> None:
        if value:
            out[f"{indicator}|{entity}|{profile}|{grouping}|{key}"] = value

    for name, by_grouping in fig.series.items():
        for grouping, buckets in by_grouping.items():
            for label, values in buckets.rows():
                for profile, value in values.items():
                    value = (
                        round(value * 100) if name == "visits_per_visitor" and value is not None else value
                    )
                    put(name, profile, grouping, label.isoformat(), value)
    for period in fig.hours:
        for profile in fig.hours[period]:
            for hour, n in enumerate(fig.hours[period][profile]):
                put("hourly", profile, period, f"{hour:02d}", n)
            for weekday, n in enumerate(fig.weekdays[period][profile]):
                put("weekday", profile, period, str(weekday), n)
            for module, n in fig.apps[period][profile]:
                put("top_apps", profile, period, module, n)
            put("visitors", profile, period, "", fig.visitors[period][profile])
    return out


# ------------------------------------------------------------------------------------------------- render
def render(args: dict) -> dict:
    """site.build as the `site` command runs it; pages and bytes from its report and the files on disk."""
    out = Path(args["out"])
    options = pipeline_site.SiteOptions(
        Path(args["lake"]), Path(args["directory"]), out, _day(args["as_of"]), args["timezone"]
    )
    report = pipeline_site.build(options)
    return {"site": _site_summary(report), **site_files(out)}


def site_files(out: Path) -> dict:
    pages = sum(1 for _ in out.rglob("*.html"))
    files = sum(1 for p in out.rglob("*") if p.is_file())
    return {"pages": pages, "files_on_disk": files}


def _site_summary(report: dict) -> dict:
    keys = (
        "seconds",
        "entities",
        "files_written",
        "bytes_written",
        "aggregation",
        "peak_memory_mib",
        "peak_memory_mib_after_stage",
        "events_by_type",
        "render",
        "replaced_builds_removed",
    )
    summary = {k: report.get(k) for k in keys}
    entities = report["entities"]
    summary["entity_count"] = 1 + entities["structures"] + entities["classes"]
    return summary


# ------------------------------------------------------------------------------------------------ nightly
def nightly(args: dict) -> dict:
    """`build.py nightly`: ingest the night's export into the lake, then build the whole site."""
    out = Path(args["out"])
    options = pipeline_site.SiteOptions(
        Path(args["lake"]), Path(args["directory"]), out, _day(args["as_of"]), args["timezone"]
    )
    report = pipeline_nightly.run([Path(f) for f in args["files"]], options)
    return {
        "seconds": report.seconds,
        "site": _site_summary(report.site),
        **site_files(out),
        "ingested_events": sum(report.ingest.events_new.values()),
    }


# ---------------------------------------------------------------------------------------- side by side
LOADS = 4  # the first cold; the load reported is the median of the others
SORTS = 6


def side_by_side(args: dict) -> dict:
    """The platform's side-by-side page (SPEC 3.5) in Debian's Chromium, served as `build.py serve` does:
    how long it takes to load (navigation start to the load event, its script run; the first load apart)
    and to sort (a header's click to the next frame drawn), by connections, alternately both ways."""
    import statistics
    import threading

    from playwright.sync_api import sync_playwright

    from pipeline.serve import preview_server

    server = preview_server(Path(args["site"]), None, None, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/{args['page']}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            loads = []
            for _ in range(LOADS):  # the first from a cold cache (the style sheet, the scripts)
                page.goto(url, wait_until="load")
                loads.append(page.evaluate(_LOAD_TIME))
            page.wait_for_timeout(300)  # the page reads its sort keys when idle, as a reader looks
            sorts = [page.evaluate(_TIMED_SORT) for _ in range(SORTS)]
            rows = page.locator("#compare-table tbody tr").count()
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return {
        "rows": rows,
        "first_load_ms": round(loads[0], 1),
        "load_ms": round(statistics.median(loads[1:]), 1),
        "loads_ms": [round(t, 1) for t in loads],
        "first_sort_ms": round(sorts[0], 1),
        "sort_ms_median": round(statistics.median(sorts[1:]), 1),
        "sort_ms": [round(s, 1) for s in sorts],
    }


CHROMIUM = "/usr/bin/chromium"
_LOAD_TIME = (
    "() => { const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime; }"
)
_TIMED_SORT = """async () => {
  const button = document.querySelectorAll('#compare-table thead button')[2];  // Connexions
  const start = performance.now();
  button.click();
  await new Promise(done => requestAnimationFrame(() => setTimeout(done, 0)));
  return performance.now() - start;
}"""


# ----------------------------------------------------------------------------------------------- backfill
OVERHEAD_TASKS = 400  # empty tasks timed on the cluster: its cost per task, beside the work


def backfill(args: dict) -> dict:
    """A region adopting the product: `ingest` of N days of exports into an empty lake, then the first
    `site`, on this machine's cores or, with `scheduler`, as tasks on that dask.distributed cluster."""
    from pipeline import cluster as pipeline_cluster

    files, lake, out = [Path(f) for f in args["files"]], Path(args["lake"]), Path(args["out"])
    options = pipeline_site.SiteOptions(
        lake, Path(args["directory"]), out, _day(args["as_of"]), args["timezone"], scheduler=args["scheduler"]
    )
    clock = time.perf_counter()
    with pipeline_cluster.session(args["scheduler"], options.shared_folders(files)) as cluster:
        connected = time.perf_counter() - clock
        overhead = _task_overhead_ms(cluster) if cluster is not None else None
        clock = time.perf_counter()
        ingested = pipeline_ingest.run(files, lake, now_ms=args["now_ms"], cluster=cluster)
        report = pipeline_site.build(options, cluster=cluster)
    seconds = time.perf_counter() - clock
    return {
        "seconds": seconds,
        "connect_seconds": connected,
        "ingest_seconds": ingested.seconds,
        "site_seconds": report["seconds"],
        "lines": ingested.lines,
        "events": sum(ingested.events_new.values()),
        "events_per_second": sum(ingested.events_new.values()) / seconds,
        "task_overhead_ms": overhead,
        "cluster": report["cluster"],
        "site": _site_summary(report),
        "days_aggregated": report["aggregation"]["days_recomputed"],
    }


def _task_overhead_ms(cluster) -> float:
    """Milliseconds of the driver's wall time per empty task, OVERHEAD_TASKS of them over every worker."""
    clock = time.perf_counter()
    for _ in cluster.map(_empty_task, [(k,) for k in range(OVERHEAD_TASKS)], "overhead"):
        pass
    return 1000 * (time.perf_counter() - clock) / OVERHEAD_TASKS


def _empty_task(k: int) -> int:
    return k
