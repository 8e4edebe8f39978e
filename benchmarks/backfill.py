"""The backfill benchmark (stage `backfill`): a region adopting the product ingests `--ingest-days` days of
exports into an empty lake and builds its first site, on this machine's cores, then as tasks on dask
clusters of 1 and 2 workers started here (`--backfill-workers`), and on `--scheduler` when one is given.

Each run is one step (its own process, the driver); the workers are processes of their own, whose peak memory
the site's build.json reports. Every cluster's site is compared with the local engine's, byte for byte.
"""

from __future__ import annotations

import filecmp
from datetime import date
from pathlib import Path

from pipeline.constants import RUN_FILES

from .harness import Run, now_ms, site_args
from .measure import StepResult

LOCAL = "backfill/local"


def run(bench: Run, exports: list[str]) -> None:
    config, work = bench.config, bench.config.work
    as_of = date.fromisoformat(Path(exports[-1]).name[7:17])  # events-YYYY-MM-DD.json.gz: the last day

    def step(name: str, folder: str, scheduler: str | None) -> StepResult:
        args = site_args(config, work / folder / "lake", work / folder / "site", as_of)
        args |= {"files": exports, "now_ms": now_ms(config), "scheduler": scheduler}
        result = bench.step(name, "backfill", args)
        if result.ok and name != LOCAL:
            same = same_site(work / "backfill-local" / "site", work / folder / "site")
            result.result["same_site_as_local"] = same
        return result

    step(LOCAL, "backfill-local", None)
    from .local_cluster import local_cluster

    for workers in config.backfill_workers:
        with local_cluster(work / f"dask-{workers}", workers) as cluster:
            step(f"backfill/cluster-{workers}", f"backfill-cluster-{workers}", cluster.address)
    if config.scheduler:
        step("backfill/scheduler", "backfill-scheduler", config.scheduler)
    for k in ["local", "scheduler", *(f"cluster-{k}" for k in config.backfill_workers)]:
        bench.discard(work / f"backfill-{k}")  # its lake, its site (a link) and the site's builds


def same_site(ours: Path, theirs: Path) -> bool:
    """Every file but the run's own, byte for byte, one pair at a time (a site holds gigabytes)."""

    def names(site: Path) -> list[str]:
        return sorted(
            p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file() and p.name not in RUN_FILES
        )

    listed = names(ours)
    return listed == names(theirs) and all(filecmp.cmp(ours / n, theirs / n, shallow=False) for n in listed)


# ------------------------------------------------------------------------------------------------ report
def figures(step: StepResult) -> tuple[float, str, str]:
    r = step.result
    site = r["site_seconds"]
    parts = [f"ingest {r['ingest_seconds']:.1f} s"] + [f"{k} {v:.1f} s" for k, v in site.items()]
    note = ", ".join(parts) + f"; {r['days_aggregated']} days aggregated"
    if r["cluster"]:
        memory = max(r["cluster"]["peak_memory_mib"].values())
        note += f"; {r['task_overhead_ms']:.1f} ms per empty task, workers' peak {memory:,.0f} MiB"
        note += "; same site as local" if r.get("same_site_as_local") else "; SITE DIFFERS FROM LOCAL"
    return r["seconds"], f"{r['events_per_second']:,.0f} ev/s", note


def summary(bench: Run) -> dict:
    runs = {s.name.removeprefix("backfill/"): s for s in bench.steps if s.name.startswith("backfill/")}
    if not runs:
        return {}
    out: dict = {}
    for name, step in runs.items():
        if not step.ok:
            out[name] = {"status": step.status}
            continue
        r = step.result
        out[name] = {
            "seconds": round(r["seconds"], 2),
            "events": r["events"],
            "events_per_s": round(r["events_per_second"]),
            "task_overhead_ms": None if r["task_overhead_ms"] is None else round(r["task_overhead_ms"], 2),
            "worker_peak_mib": (r["cluster"] or {}).get("peak_memory_mib"),
            "same_site_as_local": r.get("same_site_as_local"),
        }
    one, two = out.get("cluster-1", {}), out.get("cluster-2", {})
    if "seconds" in one and "seconds" in two:
        out["scaling_1_to_2_workers"] = round(one["seconds"] / two["seconds"], 2)
    return {"backfill": out}


def summary_lines(s: dict) -> list[str]:
    lines = []
    for name, r in s.get("backfill", {}).items():
        if name == "scaling_1_to_2_workers":
            lines.append(f"- backfill scaling from 1 to 2 workers: {r}× (seconds of 1 ÷ seconds of 2)")
        elif "status" in r:
            lines.append(f"- backfill {name}: {r['status']}")
        else:
            line = f"- backfill {name}: {r['seconds']} s, {r['events_per_s']:,} events/s"
            if r["task_overhead_ms"] is not None:
                peaks = ", ".join(f"{v:,.0f}" for v in r["worker_peak_mib"].values())
                line += f", {r['task_overhead_ms']} ms per task, worker peak MiB {peaks} (limit 4,096)"
                line += ", same site as local" if r["same_site_as_local"] else ", SITE DIFFERS"
            lines.append(line)
    return lines
