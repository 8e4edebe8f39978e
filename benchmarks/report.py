"""The benchmark's table: printed, and written as Markdown and JSON (with the machine it ran on)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from .harness import NIGHT, REJECT_COST_STEPS, Run
from .measure import StepResult

ENGINE = {"pipeline": "pipeline", "duckdb": "DuckDB"}


def machine() -> dict:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {name: _version(name) for name in ("pyarrow", "numpy", "duckdb")},
        "pipeline_commit": pipeline_commit(),
    }


def pipeline_commit() -> str | None:
    """The git commit of the measured pipeline, with `+changes` when pipeline/ differs from it."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "pipeline", "templates", "site_src"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+changes" if dirty else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


# ------------------------------------------------------------------------------------------------ figures
def rows(bench: Run) -> list[dict]:
    """One row per measured step: what it is, its own time, its rate, its memory and CPU."""
    out = []
    for step in bench.steps:
        seconds, rate, note = figures(step)
        out.append(
            {
                "step": step.name,
                "status": step.status,
                "seconds": _round(seconds),
                "rate": rate,
                "peak_rss_mib": round(step.peak_rss_mib),
                "cores_used": round(step.cores_used, 2),
                "process_seconds": round(step.seconds, 1),
                "note": note,
            }
        )
    return out


def figures(step: StepResult) -> tuple[float | None, str, str]:
    """(the step's own seconds, its rate, a note) — from what the task reported."""
    r = step.result
    if not step.ok:
        return None, "", ""
    name = step.name
    if name == "synth":
        events = sum(r["lake_events_per_day"].values())
        lines = sum(r["export_lines"].values())
        s = r["seconds"]
        return (
            sum(s.values()),
            f"{events / max(s['lake'], 1e-9):,.0f} ev/s to parquet",
            f"{r['accounts']:,} accounts, {r['structures']:,} structures, {r['classes']:,} classes; "
            f"{events:,} lake events, {lines:,} export lines",
        )
    if name.startswith("ingest/"):
        return r["seconds"], f"{r['events'] / r['seconds']:,.0f} ev/s", f"{r['events']:,} events written"
    if name == "build/aggregate":
        a = r["aggregation"]
        return r["seconds"], "", f"{a['days_recomputed']} days, {a['months_recomputed']} months recomputed"
    if name == "build/indicators":
        return r["seconds"], "", f"{r['entities']:,} entities"
    if name == "build/duckdb":
        return r["seconds"], "", f"{sum(r['rows'].values()):,} rows written"
    if name == "render":
        write = r["site"]["seconds"]["write"]
        return (
            write,
            f"{r['pages'] / write:,.0f} pages/s",
            f"{r['pages']:,} pages, {r['files_on_disk']:,} files",
        )
    if name.endswith("/side_by_side"):
        return (
            None,
            "",
            f"{r['rows']:,} rows in Chromium: load {r['load_ms']} ms (first, cold: {r['first_load_ms']} ms), "
            f"sort {r['sort_ms_median']} ms (first: {r['first_sort_ms']} ms), medians",
        )
    if name.endswith("/prepare-spare"):
        return None, "", "untimed set-up: the site of two nights before, the spare the nightly writes over"
    if name.endswith("/prepare"):
        return None, "", "untimed set-up: the history's aggregates and the site of the night before"
    if name.startswith("backfill/"):
        from . import backfill

        return backfill.figures(step)
    if name.startswith("nightly-"):
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in r["site"]["seconds"].items())
        render = r["site"].get("render") or {}
        if "pages_linked" in render:
            parts += f"; {render['pages_linked']:,} of {render['pages_written']:,} pages linked"
        if render.get("recycled"):
            parts += "; written over the spare build"
        if peaks := r["site"].get("peak_memory_mib_after_stage"):
            parts += "; its process's peak MiB after each stage: " + ", ".join(
                f"{k} {v:,.0f}" for k, v in peaks.items()
            )
        return r["seconds"], "", parts
    return None, "", ""


def _rate(step: StepResult) -> float | str:
    return round(step.result["events"] / step.result["seconds"]) if step.ok else step.status


def _ratio(a: float | str | None, b: float | str | None) -> float | None:
    ok = isinstance(a, int | float) and isinstance(b, int | float) and b
    return round(a / b, 3) if ok else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def reject_cost(clean: dict, spoilt: dict, spoilt_again: dict, clean_again: dict) -> dict:
    """What a spoilt line costs beyond the valid line it replaces, in µs of the ingest's time, from the two
    pairs of runs (the same lines, some spoilt into rejects, or none); target (issue 11): at most 0."""
    rejects = sum(spoilt["rejects"].values()) - sum(clean["rejects"].values())
    cost = {
        "lines": clean["lines"],
        "rejects": rejects,
        "valid_line_us": round((clean["seconds"] + clean_again["seconds"]) / 2 / clean["lines"] * 1e6, 3),
        "reject_extra_us": None,  # nothing spoilt: no figure
        "reject_extra_us_mean": None,
    }
    if rejects > 0:
        pairs = [(clean, spoilt), (clean_again, spoilt_again)]
        extra = [(bad["seconds"] - good["seconds"]) / rejects * 1e6 for good, bad in pairs]
        cost["reject_extra_us"] = [round(value, 3) for value in extra]
        cost["reject_extra_us_mean"] = round(sum(extra) / 2, 3)
    return cost


def summary(bench: Run) -> dict:
    get = bench.get
    out: dict = {}
    ours, duck = get("ingest/pipeline"), get("ingest/duckdb")
    if ours and duck:
        a, b = (_rate(s) for s in (ours, duck))
        out["ingest"] = {"pipeline_ev_per_s": a, "duckdb_ev_per_s": b, "ratio": _ratio(a, b)}
    runs = [get(name) for name in REJECT_COST_STEPS]
    if all(step and step.ok for step in runs):
        out["reject_cost"] = reject_cost(*(step.result for step in runs))
    agg, ind, dbuild = get("build/aggregate"), get("build/indicators"), get("build/duckdb")
    if agg and dbuild:
        ours_s = agg.result["seconds"] + ind.result["seconds"] if agg.ok and ind and ind.ok else None
        theirs = round(dbuild.result["seconds"], 2) if dbuild.ok else dbuild.status
        out["first_build"] = {
            "pipeline_s": round(ours_s, 2) if ours_s else (ind.status if ind else agg.status),
            "pipeline_aggregate_s": round(agg.result["seconds"], 2) if agg.ok else agg.status,
            "duckdb_s": theirs,
            "ratio": _ratio(theirs, ours_s),
        }
    nights = {
        s.name.split("-")[1]: s for s in bench.steps if s.name.startswith("nightly-") and "/" not in s.name
    }
    if nights:
        out["nightly_s"] = {
            n: (round(s.result["seconds"], 2) if s.ok else s.status) for n, s in nights.items()
        }
    rendered = get("render")
    if rendered and not rendered.ok:
        out["render"] = {"status": rendered.status}
    elif rendered:
        r = rendered.result
        count = r["site"]["entity_count"]
        by_kind = r["site"]["bytes_written"]
        seconds = r["site"]["seconds"]
        site_s = sum(v for k, v in seconds.items() if k != "remove_replaced")  # up to the site published
        duck = get("build/duckdb")
        duck_s = round(duck.result["seconds"], 2) if duck and duck.ok else None
        out["site_command"] = {
            "pipeline_s": round(site_s, 2),
            "stages_s": {k: round(v, 2) for k, v in seconds.items()},
            "duckdb_s": duck_s,
            "ratio": _ratio(duck_s, site_s) if duck_s else None,
        }
        out["render"] = {
            "pages_per_s": round(r["pages"] / seconds["write"]),
            "cores_used_by_process": round(rendered.cores_used, 2),
            "site_bytes_per_entity": round(sum(by_kind.values()) / count),
            "bytes_per_entity": {
                "html": round(by_kind.get("html", 0) / count),
                "data": round((by_kind.get("js", 0) + by_kind.get("json", 0)) / count),
                "csv": round(by_kind.get("csv", 0) / count),
            },
        }
    pages = {s.name: s.result for s in bench.steps if s.name.endswith("/side_by_side") and s.ok}
    if pages:
        out["side_by_side"] = {
            name: {k: r[k] for k in ("rows", "load_ms", "first_load_ms", "first_sort_ms", "sort_ms_median")}
            for name, r in pages.items()
        }
    from . import backfill

    out |= backfill.summary(bench)
    out["peak_rss_mib"] = {s.name: round(s.peak_rss_mib) for s in bench.steps}
    out["agreement"] = bench.agreement.get("status", "not compared")
    return out


# ------------------------------------------------------------------------------------------------ writing
def document(bench: Run) -> dict:
    c = bench.config
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": c.scale,
        "settings": {
            "days": c.days,
            "nightly_days": c.nightly_days,
            "ingest_days": c.ingest_days,
            "bad_lines_percent": round(100 * c.bad_share, 3),
            "stages": c.stages,
            "night": NIGHT.isoformat(),
            "as_of": c.as_of.isoformat(),
            "timezone": c.timezone,
            "stage_timeout_s": c.timeout_s,
            "memory_limit_mib": c.memory_limit_mib,
            "duckdb_threads": c.duckdb_threads,
            "seed": c.seed,
            "reuse_aggregates": c.reuse_aggregates,
            "pipeline_commit_at_start": bench.commit_at_start,
            "file_creation_us_at_start": bench.file_creation_us,
        },
        "machine": machine(),
        "summary": summary(bench),
        "rows": rows(bench),
        "agreement": bench.agreement,
        "steps": [s.as_dict() for s in bench.steps],
    }


COLUMNS = (
    ("step", "step"),
    ("status", "status"),
    ("seconds", "s"),
    ("rate", "rate"),
    ("peak_rss_mib", "peak RSS MiB"),
    ("cores_used", "cores"),
    ("note", "note"),
)


def table(doc: dict) -> str:
    lines = [
        "| " + " | ".join(label for _, label in COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    for row in doc["rows"]:
        lines.append("| " + " | ".join("" if row[k] is None else str(row[k]) for k, _ in COLUMNS) + " |")
    return "\n".join(lines)


def markdown(doc: dict) -> str:
    m, s = doc["machine"], doc["summary"]
    parts = [
        f"# Benchmark — scale `{doc['scale']}`",
        "",
        f"{doc['generated_at']} · {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB · "
        f"Python {m['python']} · pipeline at {m.get('pipeline_commit')} · "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        "",
        f"Settings: {json.dumps(doc['settings'], ensure_ascii=False)}",
        "",
        "## Summary",
        "",
        *summary_lines(s),
        "",
        "## Steps",
        "",
        "Seconds are each step's own (timed inside its process); peak RSS and cores (CPU s ÷ wall s) are of "
        "the "
        "step's whole process.",
        "",
        table(doc),
        "",
    ]
    if doc["agreement"].get("differences"):
        parts += [
            "## Differences (first 10)",
            "",
            "```",
            json.dumps(doc["agreement"]["differences"], indent=1),
            "```",
            "",
        ]
    return "\n".join(parts)


def _figure(value, unit: str) -> str:
    return f"{value:,} {unit}" if isinstance(value, int | float) else str(value)


def summary_lines(s: dict) -> list[str]:
    lines = []
    if "ingest" in s:
        i = s["ingest"]
        lines.append(
            f"- ingest: pipeline {_figure(i['pipeline_ev_per_s'], 'ev/s')}, DuckDB "
            f"{_figure(i['duckdb_ev_per_s'], 'ev/s')}, ratio {i['ratio']} (target ≥ 1.0)"
        )
    if "reject_cost" in s and s["reject_cost"]["reject_extra_us"] is None:
        lines.append("- rejects: no line was spoilt (--bad-lines too small for these exports)")
    elif "reject_cost" in s:
        r = s["reject_cost"]
        first, second = r["reject_extra_us"]
        lines.append(
            f"- rejects: {r['rejects']:,} of the {r['lines']:,} lines spoilt, each "
            f"{r['reject_extra_us_mean']:+.2f} µs beyond the valid line it replaces (pairs of runs: "
            f"{first:+.2f}, {second:+.2f}; a line {r['valid_line_us']:.2f} µs without rejects; target ≤ 0). "
            "Two pairs of runs differ by more than a reject costs on a shared machine: count it, or time "
            "tens of rounds, with `python -m benchmarks.reject_instructions --work WORK [--cpu-rounds 40]`"
        )
    if "first_build" in s:
        b = s["first_build"]
        lines.append(
            f"- first build: pipeline {_figure(b['pipeline_s'], 's')} (of which aggregate "
            f"{_figure(b['pipeline_aggregate_s'], 's')}), DuckDB {_figure(b['duckdb_s'], 's')}, "
            f"ratio {b['ratio']} (DuckDB s ÷ pipeline s; target ≥ 1.0)"
        )
    if "nightly_s" in s:
        lines.append(
            "- nightly (one day added, everything rebuilt), by days of history: "
            + ", ".join(f"{n} d: {_figure(v, 's')}" for n, v in s["nightly_s"].items())
        )
    if "site_command" in s:
        c = s["site_command"]
        lines.append(
            f"- `site` command, first build from the lake's events: pipeline {c['pipeline_s']} s ("
            + ", ".join(f"{k} {v} s" for k, v in c["stages_s"].items())
            + f"), DuckDB script {_figure(c['duckdb_s'], 's')}, ratio {c['ratio']} (DuckDB s ÷ pipeline s)"
        )
    if "render" in s:
        r = s["render"]
        if "status" in r:
            lines.append(f"- render: {r['status']}")
        else:
            lines.append(
                f"- render: {r['pages_per_s']:,} pages/s (process used {r['cores_used_by_process']} cores); "
                f"site bytes per entity {r['site_bytes_per_entity']:,}: "
                + ", ".join(f"{k} {v:,}" for k, v in r["bytes_per_entity"].items())
            )
    for name, page in s.get("side_by_side", {}).items():
        lines.append(
            f"- side by side ({name}): {page['rows']:,} rows in Chromium, load {page['load_ms']} ms (cold "
            f"{page['first_load_ms']} ms), sort {page['sort_ms_median']} ms "
            f"(first {page['first_sort_ms']} ms); target: load and sort < 200 ms"
        )
    from . import backfill

    lines += backfill.summary_lines(s)
    lines.append("- peak RSS (MiB): " + ", ".join(f"{k} {v:,}" for k, v in s["peak_rss_mib"].items()))
    lines.append(f"- pipeline vs DuckDB figures: {s['agreement']}")
    return lines


def write(bench: Run, out: Path) -> tuple[Path, Path]:
    doc = document(bench)
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / f"results-{doc['scale']}.md", out / f"results-{doc['scale']}.json"
    md.write_text(markdown(doc), encoding="utf-8")
    js.write_text(json.dumps(doc, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    print()
    print("\n".join(summary_lines(doc["summary"])))
    print()
    print(table(doc))
    return md, js


def reload(path: Path) -> Run:
    """A finished run back from its JSON (to write its table again after a change of this module)."""
    from .harness import Config

    doc = json.loads(path.read_text("utf-8"))
    s = doc["settings"]
    config = Config(
        scale=doc["scale"],
        days=s["days"],
        nightly_days=s["nightly_days"],
        ingest_days=s["ingest_days"],
        bad_share=s.get("bad_lines_percent", 0) / 100,
        stages=s["stages"],
        work=Path("/nonexistent"),
        timeout_s=s["stage_timeout_s"],
        memory_limit_mib=s["memory_limit_mib"],
        seed=s["seed"],
        duckdb_threads=s["duckdb_threads"],
        timezone=s["timezone"],
    )
    fields = ("name", "status", "seconds", "peak_rss_mib", "cpu_seconds", "result")
    steps = [StepResult(**{k: step[k] for k in fields}) for step in doc["steps"]]
    return Run(config, steps, doc["agreement"], s.get("pipeline_commit_at_start"))


if __name__ == "__main__":  # python -m benchmarks.report results/results-<scale>.json
    target = Path(sys.argv[1])
    write(reload(target), target.parent)
