"""Smoke test of `python -m benchmarks` at the small scale: every stage runs, the results are written, and
DuckDB's reference tables agree with the figures the pipeline published (its CSVs and summary.json).
No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import made_once, read_csv

duckdb = pytest.importorskip("duckdb")

ROOT = Path(__file__).resolve().parent.parent
STEPS = (
    "synth",
    "ingest/pipeline",
    "ingest/duckdb",
    "build/aggregate",
    "build/indicators",
    "build/duckdb",
    "render",
    "render/side_by_side",
    "nightly-2/prepare-spare",
    "nightly-2/prepare",
    "nightly-2",
    "nightly-2/side_by_side",
)


@pytest.fixture(scope="session")
def bench(tmp_path_factory) -> dict:
    """The two runs of the benchmark (`_run_bench`), made once per session (`made_once`): under pytest-xdist
    a module's tests may go to both workers, and each made them (50 s each)."""
    base = made_once(tmp_path_factory, "bench", _run_bench)
    return {
        "work": base / "work",
        "out": base / "out",
        "doc": json.loads((base / "out" / "results-small.json").read_text("utf-8")),
        "again": json.loads((base / "again" / "results-small.json").read_text("utf-8")),
    }


def _run_bench(base: Path) -> None:
    """The benchmark at the small scale into `base`, then again with the same --work, rendering only."""
    work, out = base / "work", base / "out"
    command = [
        sys.executable,
        "-m",
        "benchmarks",
        "--scale",
        "small",
        "--days",
        "3",
        "--nightly-days",
        "2",
        "--work",
        str(work),
        "--out",
        str(out),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    # the same --work again: the platform is kept, nothing the first run computed. Run in this process, with
    # the side by side's Chromium (measured twice above) stood in for: the render is what this run is about
    from click.testing import CliRunner

    from benchmarks import harness
    from benchmarks.__main__ import main

    compared = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(harness, "run_side_by_side", lambda _bench, name, site: compared.append((name, site)))
        again = CliRunner().invoke(
            main, [*command[3:], "--stages", "render", "--reuse-synth", "--out", str(base / "again")]
        )
    assert again.exit_code == 0, again.output[-3000:]
    assert compared == [("render/side_by_side", work / "site")]


def test_every_stage_has_its_row_in_both_files(bench):
    rows = {row["step"]: row for row in bench["doc"]["rows"]}
    markdown = (bench["out"] / "results-small.md").read_text("utf-8")
    for step in STEPS:
        assert rows[step]["status"] == "ok", rows[step]
        assert f"| {step} |" in markdown
    summary = bench["doc"]["summary"]
    assert {"ingest", "first_build", "site_command", "nightly_s", "render", "peak_rss_mib"} <= set(summary)
    assert summary["site_command"]["ratio"] > 0 and summary["render"]["site_bytes_per_entity"] > 0
    assert summary["ingest"]["ratio"] > 0 and summary["first_build"]["ratio"] > 0
    assert bench["doc"]["machine"]["versions"]["duckdb"]
    page = summary["side_by_side"]["nightly-2/side_by_side"]  # the platform's table, in Chromium
    night = next(s["result"] for s in bench["doc"]["steps"] if s["name"] == "nightly-2")
    assert page["rows"] == night["site"]["entities"]["structures"] and page["sort_ms_median"] > 0
    assert night["site"]["render"]["recycled"] is True  # written over the spare, as every night but the first


def test_both_ingests_keep_the_same_events(bench):
    rows = {s["name"]: s["result"] for s in bench["doc"]["steps"]}
    assert rows["ingest/pipeline"]["events"] == rows["ingest/duckdb"]["events"] > 10_000
    assert rows["ingest/pipeline"]["rejects"]  # the export's bad lines were seen


def test_harness_comparison_agrees(bench):
    agreement = bench["doc"]["agreement"]
    assert agreement["status"] == "agree", agreement["differences"]
    assert agreement["figures_compared"] > 1_000


def _duck(bench: dict, sql: str) -> dict:
    tables = bench["work"] / "duckdb-tables"
    return dict(duckdb.sql(sql.format(t=tables)).fetchall())


def test_platform_connections_by_month_match_duckdb(bench):
    published = read_csv(bench["work"] / "site" / "platform" / "csv" / "connections-by-month.csv")
    ours = {r["Date"]: int(r["Connexions"]) for r in published if r["Profil"] == "Tous"}
    theirs = _duck(
        bench,
        "SELECT strftime(bucket, '%Y-%m-%d'), value FROM '{t}/series.parquet' WHERE "
        "indicator = 'connections' AND grouping = 'month' AND entity = 'platform' AND profile = 'all'",
    )
    assert sum(ours.values()) > 0
    assert {d: n for d, n in ours.items() if n} == theirs


def test_unique_visitors_of_the_month_match_duckdb(bench):
    site = bench["work"] / "site"
    structure = sorted(p for p in (site / "structures").iterdir() if p.is_dir())[0]
    theirs = _duck(
        bench, "SELECT entity, value FROM '{t}/visitors.parquet' WHERE period = 'month' AND profile = 'all'"
    )
    for folder, key in ((site / "platform", "platform"), (structure, f"structure:{structure.name}")):
        tiles = json.loads((folder / "summary.json").read_text("utf-8"))["tiles"]
        assert tiles["unique_visitors"]["value"] == theirs.get(key, 0)
    by_day = read_csv(site / "platform" / "csv" / "unique_visitors-by-day.csv")
    ours = {
        r["Date"]: int(r["Visiteurs uniques"])
        for r in by_day
        if r["Profil"] == "Élèves" and r["Visiteurs uniques"] != "0"
    }
    theirs = _duck(
        bench,
        "SELECT strftime(bucket, '%Y-%m-%d'), value FROM '{t}/series.parquet' WHERE "
        "indicator = 'unique_visitors' AND grouping = 'day' AND entity = 'platform' "
        "AND profile = 'Student'",
    )
    assert ours == theirs and ours


def test_bad_lines_mode_spoils_its_share_into_rejects_of_five_reasons():
    import numpy as np
    import pyarrow as pa

    from benchmarks import synth
    from pipeline.parse import Event, parse_line

    line = (
        '{"_id":"a","event-type":"LOGIN","module":"Auth","date":{"$numberLong":"1764025215107"},'
        '"userId":"u","profil":"Relative","structures":["s"],"classes":[]}\n'
    )
    spoilt = synth.spoil(pa.array([line] * 2000), 0.05, np.random.default_rng(3)).to_pylist()
    results = [parse_line(text.encode(), 1_900_000_000_000) for text in spoilt]
    reasons = {r.reason for r in results if type(r) is not Event}
    bad = sum(type(r) is not Event for r in results)
    assert reasons == {"unknown_profile", "date_before_2000", "missing_user_id", "bad_id", "not_json"}
    assert 60 <= bad <= 140  # 5 % of 2,000, drawn at random


def test_bad_lines_mode_prints_what_a_reject_costs_from_the_same_days_without_them(tmp_path, monkeypatch):
    """--bad-lines also writes the exports unspoilt and ingests both in turn (clean, spoilt, DuckDB, spoilt,
    clean): the two exports differ only by their spoilt lines, and the summary gives what a reject costs
    beyond the valid line it replaces."""
    import gzip

    from benchmarks.harness import REJECT_COST_STEPS

    work, out = tmp_path / "work", tmp_path / "out"
    command = [sys.executable, "-m", "benchmarks", "--scale", "small", "--stages", "ingest"]
    command += ["--bad-lines", "5", "--work", str(work), "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads((out / "results-small.json").read_text("utf-8"))
    steps = {s["name"]: s for s in doc["steps"]}
    order = [s["name"] for s in doc["steps"]]
    assert order == ["synth", *REJECT_COST_STEPS[:2], "ingest/duckdb", *REJECT_COST_STEPS[2:]]
    results = [steps[name]["result"] for name in REJECT_COST_STEPS]
    clean, spoilt = results[0], results[1]
    assert results[3]["rejects"] == clean["rejects"] and results[2]["rejects"] == spoilt["rejects"]
    assert {r["lines"] for r in results} == {clean["lines"]}

    def export(folder: str) -> Path:
        (path,) = (work / folder).glob("events-*.json.gz")
        return path

    def lines(folder: str) -> list[bytes]:
        return gzip.decompress(export(folder).read_bytes()).splitlines()

    changed = sum(a != b for a, b in zip(lines("exports"), lines("exports-clean"), strict=True))
    cost = doc["summary"]["reject_cost"]
    # a spoilt line of a type the indicators do not use may stay an event (a user or profile dropped)
    assert cost["rejects"] == sum(spoilt["rejects"].values()) - sum(clean["rejects"].values()) <= changed
    assert 0.03 * clean["lines"] < cost["rejects"] and changed < 0.07 * clean["lines"]
    assert len(cost["reject_extra_us"]) == 2 and cost["valid_line_us"] > 0
    printed = (out / "results-small.md").read_text("utf-8")
    assert "beyond the valid line it replaces" in printed
    assert "python -m benchmarks.reject_instructions --work WORK" in printed  # where to settle it

    # the instruction count's measured runs (here in this process, without valgrind) parse the same rejects
    # as ingest did
    from click.testing import CliRunner

    from benchmarks.reject_instructions import main as count_instructions

    def parsed_rejects(mode: str) -> int:
        args = ["--work", str(work), "--lines", "10000000", "--mode", mode]
        run = CliRunner().invoke(count_instructions, args)
        assert run.exit_code == 0, run.output
        printed = json.loads(run.output.splitlines()[-1])
        assert printed["lines"] == clean["lines"]  # every line of the export, read by each run
        return printed["rejects"]

    assert parsed_rejects("spoilt") - parsed_rejects("unspoilt") == cost["rejects"]
    assert parsed_rejects("neither") == 0

    # ... and so do the whole command's runs (`build.py ingest` on the first lines of each export), here timed
    # (--cpu-rounds) instead of counted under valgrind: their reports as the timed round read them
    from benchmarks import reject_instructions

    half = clean["lines"] // 2
    reports, timed_run = {}, reject_instructions._timed

    def timed_and_kept(command: list[str], run: str) -> tuple[tuple[float, float], dict]:
        seconds, reports[run] = timed_run(command, run)
        return seconds, reports[run]

    monkeypatch.setattr(reject_instructions, "_timed", timed_and_kept)
    timed = CliRunner().invoke(
        count_instructions, ["--work", str(work), "--lines", str(half), "--cpu-rounds", "1"]
    )
    assert timed.exit_code == 0, timed.output
    assert [reports[run]["lines"] for run in ("unspoilt", "unspoilt_twice", "spoilt")] == [
        half,
        2 * half,
        half,
    ]
    spoilt_half = sum(
        a != b for a, b in zip(lines("exports")[:half], lines("exports-clean")[:half], strict=True)
    )
    extra = sum(reports["spoilt"]["rejects_new"].values()) - sum(reports["unspoilt"]["rejects_new"].values())
    assert 0.5 * spoilt_half < extra <= spoilt_half
    logged = json.loads((work / "logs" / "reject-seconds.json").read_text("utf-8"))
    assert {kind: logged[kind]["rejects"] for kind in ("cpu", "wall")} == {"cpu": extra, "wall": extra}
    valid = logged["cpu"]["valid_line"]  # one round: its figure, whatever its sign on so few lines
    assert logged["cpu"]["lines"] == half and valid["quartiles"] == [valid["median"]] * 2
    assert "build.py ingest, CPU µs, median of 1 rounds" in timed.output
    assert not (work / "reject-seconds").exists()  # its exports and lakes, removed


def test_timed_rounds_give_the_median_and_quartiles_of_their_figures():
    from benchmarks.reject_instructions import seconds_summary, spread

    rounds = [{"lines": 100, "rejects": 5, "valid_line": v, "reject_extra": e} for v, e in
              ((10, 30), (12, -4), (11, 20), (14, 25), (9, 28))]  # fmt: skip
    figures = spread(rounds)
    assert figures["valid_line"] == {"median": 11, "quartiles": [10, 12]}
    assert figures["reject_extra"] == {"median": 25, "quartiles": [20, 28]}
    assert figures["rounds"] == 5 and figures["rejects"] == 5
    printed = seconds_summary("CPU", figures)
    assert (
        "a valid line 11.0 (quartiles 10.0 to 12.0); a reject +25.0 beyond it (quartiles +20.0 to +28.0"
        in printed
    )
    unspoilt = spread([{**row, "rejects": 0, "reject_extra": None} for row in rounds])
    assert unspoilt["reject_extra"] is None and "no line spoilt" in seconds_summary("CPU", unspoilt)


def test_instructions_of_a_reject_are_its_runs_difference_per_reject():
    from benchmarks import reject_instructions as counted

    printed = "==1== Events    : Ir\n==1== Collected : 3790487983\n==1==\n==1== I   refs:      3,790,487,983"
    assert counted.collected(printed) == 3_790_487_983
    forked = printed + "\n==2== Collected : 1000\n==3== Collected : 20"  # every process callgrind followed
    assert counted.collected(forked) == 3_790_489_003
    counts = {"neither": 1_000_000, "unspoilt": 1_000_000 + 100 * 30_000, "spoilt": 4_000_000 + 5 * 42_000}
    figures = counted._figures(
        counts, {"neither": 0, "unspoilt": 1, "spoilt": 6}, ("neither", "unspoilt"), 100
    )
    assert figures == {"lines": 100, "rejects": 5, "valid_line": 30_000, "reject_extra": 42_000}
    assert "a reject +42,000 beyond it (5 rejects; target ≤ 0)" in counted.summary("e.json.gz", figures)
    whole = {
        "unspoilt": 9_000_000,
        "unspoilt_twice": 9_000_000 + 100 * 50_000,
        "spoilt": 9_000_000 - 5 * 1_000,
    }
    rejects = {"unspoilt": 1, "unspoilt_twice": 2, "spoilt": 6}
    figures = counted._figures(whole, rejects, ("unspoilt", "unspoilt_twice"), 100)
    assert figures == {"lines": 100, "rejects": 5, "valid_line": 50_000, "reject_extra": -1_000}
    nothing = counted.per_line((3_000_000, 100), (0, 0))
    assert nothing["reject_extra"] is None and "no line spoilt" in counted.summary("e.json.gz", nothing)


def test_a_rejects_cost_is_what_its_pair_of_runs_adds_per_reject():
    from benchmarks.report import reject_cost

    clean = {"rejects": {"not_json": 2}, "seconds": 2.0, "lines": 1_000_000}
    spoilt = {"rejects": {"not_json": 2, "bad_id": 50_000}, "seconds": 2.1, "lines": 1_000_000}
    again = {**spoilt, "seconds": 2.3}
    cost = reject_cost(clean, spoilt, again, {**clean, "seconds": 2.2})
    assert cost["rejects"] == 50_000 and cost["valid_line_us"] == 2.1
    assert cost["reject_extra_us"] == [2.0, 2.0] and cost["reject_extra_us_mean"] == 2.0
    assert reject_cost(clean, clean, clean, clean)["reject_extra_us"] is None  # nothing spoilt: no figure


def test_the_first_build_is_first_even_in_a_reused_work_folder(bench):
    for doc in (bench["doc"], bench["again"]):
        steps = {s["name"]: s for s in doc["steps"]}
        made = steps["render"]["result"]["site"]["render"]
        assert steps["render"]["status"] == "ok" and not made["recycled"] and made["pages_linked"] == 0
    assert {s["name"] for s in bench["again"]["steps"]} >= {"synth", "render"}


def test_a_nightly_set_up_keeps_its_aggregates_for_the_next_run(tmp_path):
    from benchmarks.harness import keep_aggregates

    lake, kept = tmp_path / "nightly-2", tmp_path / "lake"
    for layer, name in (
        ("daily", "day=2025-11-24/counts.parquet"),
        ("monthly", "month=2025-10/counts.parquet"),
    ):
        (lake / layer / name).parent.mkdir(parents=True)
        (lake / layer / name).write_bytes(layer.encode())
    (kept / "daily" / "day=2024-01-01").mkdir(parents=True)  # an earlier run's, outdated
    (kept / "events").mkdir()
    keep_aggregates(lake, kept)
    for layer, name in (
        ("daily", "day=2025-11-24/counts.parquet"),
        ("monthly", "month=2025-10/counts.parquet"),
    ):
        assert (kept / layer / name).stat().st_ino == (lake / layer / name).stat().st_ino  # a hard link
    assert not (kept / "daily" / "day=2024-01-01").exists() and (kept / "events").is_dir()


def test_reusing_aggregates_is_refused_where_a_first_build_is_measured(tmp_path):
    from click.testing import CliRunner

    from benchmarks.__main__ import main

    for extra in (["--stages", "build,nightly", "--work", str(tmp_path)], ["--stages", "nightly"]):
        result = CliRunner().invoke(main, ["--scale", "small", "--reuse-aggregates", *extra])
        assert result.exit_code == 2 and "--reuse-aggregates needs --work" in result.output


def test_a_step_process_imports_its_own_side_only():
    """A measured step's process loads the pipeline's stages or DuckDB, not both: their imports are in its
    peak memory (70 MB of the pipeline's in DuckDB's steps)."""
    from benchmarks.runner import TASKS

    check = (
        "import sys\n"
        "from benchmarks.runner import task\n"
        "assert callable(task(sys.argv[1]))\n"
        "print(' '.join(m for m in ('duckdb', 'pipeline.ingest', 'pipeline.render') if m in sys.modules))"
    )
    loaded = {
        name: subprocess.run(
            [sys.executable, "-c", check, name], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
        for name in ("ingest", "render", "duckdb_ingest", "duckdb_build")
    }
    assert loaded["duckdb_ingest"] == loaded["duckdb_build"] == ["duckdb"]
    assert "duckdb" not in loaded["ingest"] + loaded["render"] and "pipeline.ingest" in loaded["ingest"]
    assert {module for module, _function in TASKS.values()} == {"steps", "duckdb_reference"}
