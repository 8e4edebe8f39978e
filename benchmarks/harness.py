"""The benchmark's plan: generate the platform, then run and measure each stage, pipeline beside DuckDB.

Timeline: the night being processed is NIGHT (a school day); the history is the N local days before it.
Lakes hold the UTC partitions of those days (hard links to the generated files, so every lake is cheap).

    WORK/synth/events/day=…/part-synth.parquet   generated history (the longest one needed)
    WORK/exports/events-<day>.json.gz             mongoexport files: NIGHT and the following ingest days
    WORK/exports-clean/                           with --bad-lines: the same files, no line spoilt
    WORK/directory/                               the snapshot
    WORK/lake/                                    the first-build lake (--days), then its aggregates
                                                  (with --reuse-aggregates: a nightly set-up's, kept)
    WORK/nightly-<N>/                             a lake of N days + its aggregates, then NIGHT's nightly
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pipeline.lock import LOCK_NAME

from .measure import StepResult, file_creation_us, run_step
from .synth import TIMEZONE

NIGHT = date(2025, 11, 25)  # a Tuesday of term; the history before it crosses the end of summer time
STAGES = ("ingest", "build", "nightly", "render", "backfill")
DEFAULT_STAGES = STAGES[:-1]  # the backfill (benchmarks/backfill.py) starts dask clusters: asked for by name
CLEAN_EXPORTS = "exports-clean"  # with --bad-lines: the same exports, none of their lines spoilt
# with --bad-lines, in the order they run: (clean, spoilt) then (spoilt, clean), DuckDB between the pairs
REJECT_COST_STEPS = (
    "ingest/pipeline-clean",
    "ingest/pipeline",
    "ingest/pipeline-again",
    "ingest/pipeline-clean-again",
)


@dataclass
class Config:
    scale: str
    days: int
    nightly_days: list[int]
    ingest_days: int
    stages: list[str]
    work: Path
    timeout_s: float
    memory_limit_mib: float
    seed: int = 7
    reuse_synth: bool = False  # keep a --work folder's generated platform when generated with the same args
    reuse_aggregates: bool = False  # keep WORK/lake's aggregates from an earlier run (nightly only)
    bad_share: float = 0.0  # fraction of the exports' lines made into rejects (--bad-lines)
    duckdb_threads: int = 2
    timezone: str = TIMEZONE
    quiet_disk_s: float = 0.0  # how long to wait for a quiet disk before the first step (--quiet-disk)
    backfill_workers: list[int] = field(default_factory=lambda: [1, 2])  # the clusters started for `backfill`
    scheduler: str | None = None  # --scheduler: an existing cluster the backfill also runs on

    @property
    def as_of(self) -> date:
        return NIGHT - timedelta(days=1)

    @property
    def history(self) -> int:
        needed = [self.days] if {"build", "render"} & set(self.stages) else []
        needed += self.nightly_days if "nightly" in self.stages else []
        return max(needed or [1])


@dataclass
class Run:
    config: Config
    steps: list[StepResult] = field(default_factory=list)
    agreement: dict = field(default_factory=dict)
    commit_at_start: str | None = None  # the pipeline's git commit when the run began (see report.machine)
    file_creation_us: float | None = None  # the disk's state when the run began (measure.file_creation_us)

    def step(self, name: str, task: str, args: dict) -> StepResult:
        result = run_step(
            name, task, args, self.config.work, self.config.timeout_s, self.config.memory_limit_mib
        )
        self.steps.append(result)
        print(
            f"  {name:<24} {result.status:<28} {result.seconds:8.1f} s {result.peak_rss_mib:8.0f} MiB",
            flush=True,
        )
        return result

    def step_or_reuse(self, name: str, task: str, args: dict) -> StepResult:
        """`step`, or with `reuse_synth` the same step's recorded result when it ran with the same args."""
        record = self.config.work / "logs" / f"{name}.reused.json"
        if self.config.reuse_synth and record.exists():
            saved = json.loads(record.read_text("utf-8"))
            if saved["args"] == json.loads(json.dumps(args, default=str)):
                result = StepResult(**{k: v for k, v in saved["step"].items() if k != "cores_used"})
                self.steps.append(result)
                print(f"  {name:<24} reused ({record})", flush=True)
                return result
        result = self.step(name, task, args)
        if result.ok:
            record.write_text(json.dumps({"args": args, "step": result.as_dict()}, default=str), "utf-8")
        return result

    def get(self, name: str) -> StepResult | None:
        return next((s for s in self.steps if s.name == name), None)

    def discard(self, path: Path) -> None:
        """Set a folder aside (a rename), to be deleted when every step has run: see `DISCARDED`."""
        if path.is_symlink():
            path.unlink()
        elif path.exists():
            aside = self.config.work / DISCARDED / f"{len(self.steps)}-{path.name}"
            aside.parent.mkdir(exist_ok=True)
            os.replace(path, aside)

    def remove_discarded(self) -> None:
        shutil.rmtree(self.config.work / DISCARDED, ignore_errors=True)


# Folders are deleted only after the last step. On an ext4 file system without a journal (this machine's
# root), creating files in the minutes after a mass deletion costs up to 0.6 ms of kernel CPU each (ext4
# skips recently deleted inodes one by one: `recently_deleted` in perf), so a step that follows a deletion
# measures the deletion, not the pipeline; a nightly in production runs a day after its last deletion.
DISCARDED = ".discarded"


QUIET_FILE_CREATION_US = 25.0  # 10–20 µs on this machine when nothing was deleted in the minutes before


def wait_for_quiet_disk(work: Path, patience_s: float) -> float:
    """The disk's state (µs to create a file), probed every 30 s until it is quiet or `patience_s` is over."""
    deadline = time.monotonic() + patience_s
    probes = 0
    while True:
        us = file_creation_us(work / DISCARDED / f"file-creation-probe-{probes}")
        print(f"  disk: {us} µs to create a file (quiet: under {QUIET_FILE_CREATION_US:g} µs)", flush=True)
        if us < QUIET_FILE_CREATION_US or time.monotonic() + 30 > deadline:
            return us
        time.sleep(30)
        probes += 1


def local_days(last: date, n: int) -> list[date]:
    return [last - timedelta(days=i) for i in range(n - 1, -1, -1)]


def now_ms(config: Config) -> int:
    """The ingest's clock: after the last exported day, so that no event is "in the future"."""
    moment = datetime.combine(NIGHT + timedelta(days=config.ingest_days + 1), datetime.min.time(), UTC)
    return int(moment.timestamp() * 1000)


def run(config: Config) -> Run:
    work = config.work
    work.mkdir(parents=True, exist_ok=True)
    from .report import pipeline_commit

    bench = Run(config, commit_at_start=pipeline_commit())
    bench.file_creation_us = wait_for_quiet_disk(work, config.quiet_disk_s)
    exports = export_files(config)
    if not generate(bench, exports).ok:
        return bench
    if "ingest" in config.stages:
        run_ingest(bench, exports)
    if {"build", "render", "nightly"} & set(config.stages):
        # an earlier run's aggregates (--reuse-synth): the first build is first, unless kept on purpose
        if not config.reuse_aggregates:
            bench.discard(work / "lake")
        link_lake(work / "synth", work / "lake", config.as_of, config.days)
    if "build" in config.stages:
        run_build(bench)
    if "render" in config.stages:
        run_render(bench)
    if "nightly" in config.stages:
        for n in sorted(config.nightly_days):
            run_nightly(bench, n, exports[0])
    if "backfill" in config.stages:
        from . import backfill

        backfill.run(bench, exports)
    bench.remove_discarded()
    return bench


def export_files(config: Config) -> list[str]:
    days = local_days(NIGHT + timedelta(days=config.ingest_days - 1), config.ingest_days)
    return [str(config.work / "exports" / f"events-{d}.json.gz") for d in days]


def generate(bench: Run, exports: list[str]) -> StepResult:
    """The synthetic platform: snapshot, history in the lake, the nights' exports."""
    config, work = bench.config, bench.config.work
    return bench.step_or_reuse(
        "synth",
        "synth",
        {
            "scale": config.scale,
            "seed": config.seed,
            "directory": str(work / "directory"),
            "lake": str(work / "synth"),
            "exports": str(work / "exports"),
            "lake_days": [d.isoformat() for d in local_days(config.as_of, config.history)],
            "export_days": [Path(f).name[7:17] for f in exports],
            "bad_share": config.bad_share,
            **({"clean_exports": str(work / CLEAN_EXPORTS)} if config.bad_share else {}),
        },
    )


def run_ingest(bench: Run, exports: list[str]) -> None:
    """The pipeline's ingest of the exports, then DuckDB's. With spoilt lines (--bad-lines), the same days
    without them too, in turn (clean, spoilt, DuckDB, spoilt, clean): what a reject costs beyond the valid
    line it replaces (report.reject_cost)."""
    config, work = bench.config, bench.config.work
    common = {"now_ms": now_ms(config)}
    clean = [str(work / CLEAN_EXPORTS / Path(f).name) for f in exports]
    before = [(REJECT_COST_STEPS[0], clean)] if config.bad_share else []
    for name, files in [*before, (REJECT_COST_STEPS[1], exports)]:  # REJECT_COST_STEPS[1]: ingest/pipeline
        ingest_step(bench, name, files, common)
    bench.step(
        "ingest/duckdb",
        "duckdb_ingest",
        {"files": exports, **common, **duckdb_settings(config, "ingest"), "out": str(work / "duckdb-ingest")},
    )
    bench.discard(work / "duckdb-ingest")
    if config.bad_share:
        ingest_step(bench, REJECT_COST_STEPS[2], exports, common)
        ingest_step(bench, REJECT_COST_STEPS[3], clean, common)


def ingest_step(bench: Run, name: str, files: list[str], common: dict) -> None:
    """`ingest.run` of `files` into an empty lake of its own, set aside once measured."""
    lake = bench.config.work / f"ingest-lake-{name.replace('/', '-')}"
    bench.step(name, "ingest", {"files": files, **common, "lake": str(lake)})
    bench.discard(lake)


def duckdb_settings(config: Config, name: str) -> dict:
    return {
        "threads": config.duckdb_threads,
        "memory_limit": f"{int(config.memory_limit_mib * 0.75)}MB",
        "temp_directory": str(config.work / f"duckdb-tmp-{name}"),
    }


def site_args(config: Config, lake: Path, out: Path, as_of: date) -> dict:
    return {
        "lake": str(lake),
        "directory": str(config.work / "directory"),
        "out": str(out),
        "timezone": config.timezone,
        "as_of": as_of.isoformat(),
    }


def run_build(bench: Run) -> None:
    config, work = bench.config, bench.config.work
    args = site_args(config, work / "lake", work / "site", config.as_of)
    aggregated = bench.step("build/aggregate", "aggregate", args)
    if aggregated.ok:
        bench.step("build/indicators", "indicators", {**args, "sample": str(work / "sample.json")})
    bench.step(
        "build/duckdb",
        "duckdb_build",
        {**args, **duckdb_settings(config, "build"), "out": str(work / "duckdb-tables")},
    )
    bench.agreement = compare(bench)


def compare(bench: Run) -> dict:
    """Every non-zero figure of the sampled entities, pipeline against DuckDB."""
    indicators, duck = bench.get("build/indicators"), bench.get("build/duckdb")
    if not (indicators and indicators.ok and duck and duck.ok):
        return {"status": "not compared (a side did not finish)"}
    from . import duckdb_reference

    ours = json.loads((bench.config.work / "sample.json").read_text("utf-8"))
    entities = indicators.result["sampled_entities"]
    theirs = duckdb_reference.records(bench.config.work / "duckdb-tables", entities)
    keys = sorted(set(ours) | set(theirs))
    differ = [k for k in keys if ours.get(k, 0) != theirs.get(k, 0)]
    return {
        "status": "agree" if not differ else f"{len(differ)} figures differ",
        "entities": entities,
        "figures_compared": len(keys),
        "differences": [
            {"figure": k, "pipeline": ours.get(k, 0), "duckdb": theirs.get(k, 0)} for k in differ[:10]
        ],
    }


def run_render(bench: Run) -> None:
    """The whole `site` command as a user runs it the first time: a lake of the same events without any
    aggregate (hard links), so that aggregation, indicators, writing and publishing are all measured."""
    config, work = bench.config, bench.config.work
    lake, site = work / "site-lake", work / "site"
    for folder in (lake, site, site.with_name(f".{site.name}.builds")):  # an earlier run's (--reuse-synth)
        bench.discard(folder)
    link_tree(work / "lake" / "events", lake / "events")
    rendered = bench.step("render", "render", site_args(config, lake, site, config.as_of))
    made = rendered.result.get("site", {}).get("render", {})
    if rendered.ok and (made.get("recycled") or made.get("pages_linked")):
        rendered.status = "failed: not a first build (an earlier site's pages were linked or written over)"
    if rendered.ok:
        run_side_by_side(bench, "render/side_by_side", site)
    bench.discard(lake)


def run_nightly(bench: Run, n: int, export: str) -> None:
    """A lake of n days with its aggregates up to date and its site published, then one night: ingest
    NIGHT's export, rebuild and publish the whole site."""
    config, work = bench.config, bench.config.work
    lake = work / f"nightly-{n}"
    bench.discard(lake)
    if (work / "lake" / "daily").is_dir():
        link_tree(work / "lake", lake)  # the first build's aggregates: only the edges are recomputed
    link_lake(work / "synth", lake, config.as_of, n)
    # the nights before, as in production: the aggregates up to date, the site of two nights before kept as
    # the spare (the nightly is written over it) and yesterday's site published, which the nightly replaces
    # (its unchanged pages are linked from it)
    site = work / f"site-nightly-{n}"
    before = config.as_of - timedelta(days=1)
    spare = bench.step(f"nightly-{n}/prepare-spare", "render", site_args(config, lake, site, before))
    prepared = (
        bench.step(f"nightly-{n}/prepare", "render", site_args(config, lake, site, config.as_of))
        if spare.ok
        else None
    )
    if prepared is not None and prepared.ok:
        if config.reuse_aggregates:
            keep_aggregates(lake, work / "lake")
        night = bench.step(
            f"nightly-{n}", "nightly", {**site_args(config, lake, site, NIGHT), "files": [export]}
        )
        if night.ok:
            run_side_by_side(bench, f"nightly-{n}/side_by_side", site)
    for folder in (site, site.with_name(f".{site.name}.builds"), lake):  # a published site: link + builds
        bench.discard(folder)


def run_side_by_side(bench: Run, name: str, site: Path) -> None:
    """The platform's side-by-side page in Chromium: its load and sort times (issue 13: < 200 ms)."""
    bench.step(name, "side_by_side", {"site": str(site), "page": "platform/structures.html"})


# -------------------------------------------------------------------------------------------------- lakes
def utc_partitions(last_local: date, n: int) -> list[date]:
    """The UTC partitions that hold local days last-n+1 … last (their first hour excepted)."""
    return local_days(last_local, n)


def link_lake(source: Path, lake: Path, last_local: date, n: int) -> None:
    """Make `lake`'s event partitions exactly those of the n days up to `last_local`, as hard links."""
    wanted = {f"day={d.isoformat()}" for d in utc_partitions(last_local, n)}
    events = lake / "events"
    events.mkdir(parents=True, exist_ok=True)
    for folder in events.iterdir():
        if folder.name not in wanted:
            shutil.rmtree(folder)
    for name in sorted(wanted):
        src = source / "events" / name
        if not src.is_dir():
            continue
        (events / name).mkdir(exist_ok=True)
        for part in src.iterdir():
            if not (events / name / part.name).exists():
                os.link(part, events / name / part.name)


def keep_aggregates(lake: Path, kept: Path) -> None:
    """Make `kept`'s aggregates (daily/, monthly/) hard links to `lake`'s, up to date before the night:
    the next run's nightly set-up with --reuse-aggregates recomputes only what its days change."""
    for layer in ("daily", "monthly"):
        shutil.rmtree(kept / layer, ignore_errors=True)
        link_tree(lake / layer, kept / layer)


def link_tree(source: Path, target: Path) -> None:
    """A copy of a folder tree made of hard links (the pipeline replaces files, never rewrites them)."""
    for folder, _dirs, files in os.walk(source):
        relative = Path(folder).relative_to(source)
        (target / relative).mkdir(parents=True, exist_ok=True)
        for name in files:
            if name != LOCK_NAME:  # each lake has its own lock
                os.link(Path(folder) / name, target / relative / name)
