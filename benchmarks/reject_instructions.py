"""`python -m benchmarks.reject_instructions --work WORK`: what a reject costs beyond a valid line, counted in
instructions (valgrind's callgrind), on the exports a `--bad-lines` run left in WORK (`exports/`, spoilt, and
`exports-clean/`, the same lines unspoilt).

The seconds of two runs cannot show it on a shared machine: two benchmark runs of the same code have given
pairs from −12 to +16 µs a reject. The parsers' instruction counts repeat to within 0.01 % once hash seeds and
thread pools are fixed; the writing process's vary with its threads (by 2-13 million instructions). Timed runs
need tens of rounds, interleaved (`--cpu-rounds`): a round's figure moves by about ±30 µs a reject on the AMD
EPYC of 2026-12-07.

Two measures, each of three runs under callgrind:
- the parsers' share: one script reads N lines of both exports and parses neither, the unspoilt lines, or
  the spoilt ones, block by block as ingest does (`parse_columns.parse_block`). A valid line costs
  (unspoilt − neither) ÷ N;
- the whole command, `build.py ingest`, every process it starts counted: on the first N unspoilt lines, the
  first 2N, and the first N spoilt ones. A valid line costs (2N − N) ÷ N.
In both, a reject costs, beyond the valid line it replaces, (spoilt − unspoilt) ÷ (their difference in
rejects). Issue 11's target: at most 0.

With `--cpu-rounds R`, no valgrind: the whole command's three runs are timed instead, R rounds of them, each
round in another order (so that a machine slowing by the hour weighs on each run alike), in CPU seconds (user
and system, of `build.py ingest` and every process it forks) and in wall seconds. Each round gives its own
figures; their median and quartiles are printed.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import click

from pipeline.exports import Block
from pipeline.ingest import CHUNK_LINES
from pipeline.parse_columns import parse_block

from .harness import CLEAN_EXPORTS

MODES = ("neither", "unspoilt", "spoilt")  # the parsers' runs
INGEST_RUNS = ("unspoilt", "unspoilt_twice", "spoilt")  # build.py ingest on N, 2N and N spoilt lines
FIGURES = ("valid_line", "reject_extra")  # per_line's, per line
FIXED = {"PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}  # for repeatable counts
NOW_MS = 4_102_444_800_000  # 2100-01-01: no line is in the future
BUILD = Path(__file__).resolve().parent.parent / "build.py"
_COLLECTED = re.compile(r"Collected : (\d+)")


def read_lines(path: Path, count: int) -> list[bytes]:
    with gzip.open(path, "rb") as handle:
        return [line.rstrip(b"\n") for line in itertools.islice(handle, count)]


def parse_rejects(lines: list[bytes]) -> int:
    """The lines parsed block by block, as ingest's parsers do; the number of rejects."""
    blocks = (
        Block.of("export.json", start + 1, lines[start : start + CHUNK_LINES])
        for start in range(0, len(lines), CHUNK_LINES)
    )
    return sum(parse_block(block, NOW_MS).rejects.num_rows for block in blocks)


def exports_of(work: Path) -> tuple[Path, Path]:
    """The first spoilt export of WORK and its unspoilt twin."""
    spoilt = sorted((work / "exports").glob("*.json.gz"))
    if not spoilt or not (work / CLEAN_EXPORTS / spoilt[0].name).is_file():
        raise click.ClickException(
            f"{work}: no exports of a --bad-lines run (exports/ and {CLEAN_EXPORTS}/); make them with "
            f"python -m benchmarks --stages ingest --bad-lines 5 --work {work}"
        )
    return spoilt[0], work / CLEAN_EXPORTS / spoilt[0].name


def collected(valgrind_output: str) -> int:
    """The instructions callgrind counted, from what it printed: the sum over the processes it followed."""
    found = _COLLECTED.findall(valgrind_output)
    if not found:
        raise click.ClickException(f"callgrind printed no count:\n{valgrind_output[-2000:]}")
    return sum(map(int, found))


def per_line(valid: tuple[int, int], spoilt: tuple[int, int]) -> dict:
    """Instructions a valid line, from (instructions, lines) that one run has over another; a reject's beyond
    the valid line it replaces, from (instructions, rejects) that the spoilt run has over the unspoilt one
    (None when nothing was spoilt)."""
    (valid_instructions, lines), (spoilt_instructions, rejects) = valid, spoilt
    return {
        "lines": lines,
        "rejects": rejects,
        "valid_line": round(valid_instructions / lines),
        "reject_extra": round(spoilt_instructions / rejects) if rejects > 0 else None,
    }


def summary(name: str, figures: dict) -> str:
    head = f"{name}, {figures['lines']:,} lines: a valid line {figures['valid_line']:,} instructions; "
    if figures["reject_extra"] is None:
        return head + "no line spoilt in them"
    return (
        head + f"a reject {figures['reject_extra']:+,} beyond it ({figures['rejects']:,} rejects; target ≤ 0)"
    )


def write_ingest_exports(spoilt: Path, unspoilt: Path, lines: int, folder: Path) -> dict[str, Path]:
    """The exports of INGEST_RUNS: the first `lines` lines of each export, and 2 × `lines` of the unspoilt
    one, gzipped as the benchmark's are."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for run, source, count in (("unspoilt", unspoilt, lines), ("unspoilt_twice", unspoilt, 2 * lines),
                               ("spoilt", spoilt, lines)):  # fmt: skip
        made[run] = folder / run / spoilt.name  # the same file name: the same work in each run
        made[run].parent.mkdir(exist_ok=True)
        with gzip.open(source, "rb") as read, gzip.open(made[run], "wb", compresslevel=1) as out:
            out.writelines(itertools.islice(read, count))
    return made


def ingest_command(export: Path, lake: Path) -> list[str]:
    """The whole command measured: every reject kept, whatever their share; its report as JSON."""
    return [sys.executable, str(BUILD), "ingest", str(export), "--lake", str(lake), "--json",
            "--max-reject-rate", "100"]  # fmt: skip


def _callgrind(command: list[str], what: str) -> tuple[int, str]:
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--trace-children=yes", "--callgrind-out-file=/dev/null", *command],
        capture_output=True, text=True, env={**os.environ, **FIXED}, check=False,
    )  # fmt: skip
    if done.returncode:
        raise click.ClickException(f"the {what} run failed:\n{done.stderr[-2000:]}")
    return collected(done.stderr), done.stdout


def count_parsers(work: Path, lines: int) -> tuple[dict, dict[str, int]]:
    """The parsers' runs (MODES) under callgrind: their figures, and each run's count."""
    counts, rejects, read = {}, {}, {}
    for run in MODES:
        command = [sys.executable, "-m", "benchmarks.reject_instructions", "--work", str(work),
                   "--lines", str(lines), "--mode", run]  # fmt: skip
        counts[run], printed = _callgrind(command, run)
        printed = json.loads(printed.splitlines()[-1])
        rejects[run], read[run] = printed["rejects"], printed["lines"]
        click.echo(f"  parse {run:14} {counts[run]:>15,} instructions, {rejects[run]:,} rejects", err=True)
    return _figures(counts, rejects, ("neither", "unspoilt"), read["unspoilt"]), counts


def count_ingest(work: Path, lines: int) -> tuple[dict, dict[str, int]]:
    """The whole command's runs (INGEST_RUNS) under callgrind: their figures, and each run's count."""
    folder = work / "reject-instructions"
    shutil.rmtree(folder, ignore_errors=True)
    exports = write_ingest_exports(*exports_of(work), lines, folder)
    counts, rejects, read = {}, {}, {}
    for run in INGEST_RUNS:
        command = ingest_command(exports[run], folder / f"lake-{run}")
        counts[run], printed = _callgrind(command, f"ingest {run}")
        rejects[run], read[run] = _rejects_and_lines(json.loads(printed))
        click.echo(f"  ingest {run:13} {counts[run]:>15,} instructions, {rejects[run]:,} rejects", err=True)
    shutil.rmtree(folder)
    return _ingest_figures(counts, rejects, read), counts


def _rejects_and_lines(report: dict) -> tuple[int, int]:
    """From `build.py ingest --json`'s report: the new rejects and the lines read."""
    return sum(report["rejects_new"].values()), report["lines"]


def _ingest_figures(values: dict[str, int], rejects: dict[str, int], read: dict[str, int]) -> dict:
    """`_figures` of the whole command's runs (INGEST_RUNS): a valid line from the 2N run less the N one."""
    valid_lines = read["unspoilt_twice"] - read["unspoilt"]
    return _figures(values, rejects, ("unspoilt", "unspoilt_twice"), valid_lines)


def time_ingest(work: Path, lines: int, rounds: int) -> dict:
    """The whole command's runs (INGEST_RUNS) timed, `rounds` times, each round in another order: per round,
    a valid line and a reject beyond it in µs of CPU (user + system, every process) and of wall time."""
    folder = work / "reject-seconds"
    shutil.rmtree(folder, ignore_errors=True)
    exports = write_ingest_exports(*exports_of(work), lines, folder)
    per_round: dict[str, list[dict]] = {"cpu": [], "wall": []}
    for number in range(rounds):
        order = INGEST_RUNS[number % 3 :] + INGEST_RUNS[: number % 3]
        seconds: dict[str, dict[str, float]] = {"cpu": {}, "wall": {}}
        rejects, read = {}, {}
        for run in order:
            lake = folder / f"lake-{run}"
            shutil.rmtree(lake, ignore_errors=True)
            (seconds["cpu"][run], seconds["wall"][run]), report = _timed(
                ingest_command(exports[run], lake), run
            )
            rejects[run], read[run] = _rejects_and_lines(report)
        for kind, by_run in seconds.items():
            nanoseconds = {run: round(value * 1e9) for run, value in by_run.items()}
            figures = _ingest_figures(nanoseconds, rejects, read)
            per_round[kind].append({**figures, **{key: _micro(figures[key]) for key in FIGURES}})
        click.echo(f"  round {number + 1}/{rounds}, CPU µs: {per_round['cpu'][-1]}", err=True)
    shutil.rmtree(folder)
    return {kind: spread(rows) for kind, rows in per_round.items()}


def _micro(nanoseconds: int | None) -> float | None:
    return None if nanoseconds is None else round(nanoseconds / 1000, 1)


def _timed(command: list[str], what: str) -> tuple[tuple[float, float], dict]:
    """(CPU seconds of the command and every process it waited for, wall seconds), and its JSON report."""
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **FIXED}, check=False)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise click.ClickException(f"the ingest {what} run failed:\n{done.stderr[-2000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return (cpu, wall), json.loads(done.stdout)


def spread(rounds: list[dict]) -> dict:
    """The rounds' figures (of `per_line`, in µs): for each, the median and the quartiles over the rounds
    (None for a reject when nothing was spoilt)."""
    figures = {"rounds": len(rounds), "lines": rounds[0]["lines"], "rejects": rounds[0]["rejects"]}
    for key in FIGURES:
        values = sorted(row[key] for row in rounds if row[key] is not None)
        if len(values) < len(rounds):
            figures[key] = None
            continue
        quartiles = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
        figures[key] = {"median": statistics.median(values), "quartiles": [quartiles[0], quartiles[2]]}
    return figures


def seconds_summary(kind: str, figures: dict) -> str:
    valid, extra = figures["valid_line"], figures["reject_extra"]
    head = (
        f"build.py ingest, {kind} µs, median of {figures['rounds']} rounds ({figures['lines']:,} lines, "
        f"{figures['rejects']:,} rejects): a valid line {valid['median']:.1f} (quartiles "
        f"{valid['quartiles'][0]:.1f} to {valid['quartiles'][1]:.1f}); "
    )
    if extra is None:
        return head + "no line spoilt in them"
    low, high = extra["quartiles"]
    return (
        head + f"a reject {extra['median']:+.1f} beyond it (quartiles {low:+.1f} to {high:+.1f}; target ≤ 0)"
    )


def _figures(
    counts: dict[str, int], rejects: dict[str, int], valid_runs: tuple[str, str], lines: int
) -> dict:
    """`per_line` of runs named as in MODES or INGEST_RUNS: a valid line from the second of `valid_runs` less
    the first (`lines` apart), a reject from the spoilt run less the unspoilt one."""
    fewer, more = valid_runs
    spoilt = (counts["spoilt"] - counts["unspoilt"], rejects["spoilt"] - rejects["unspoilt"])
    return per_line((counts[more] - counts[fewer], lines), spoilt)


@click.command()
@click.option(
    "--work",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    required=True,
    help="The --work folder of a `python -m benchmarks --bad-lines` run.",
)
@click.option(
    "--lines",
    default=40_000,
    show_default=True,
    type=click.IntRange(1),
    help="Lines of each export read (40,000: about 8 minutes for the six runs under callgrind).",
)
@click.option(
    "--cpu-rounds",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Time the whole command's three runs this many rounds instead (no valgrind): CPU and wall seconds.",
)
@click.option("--mode", type=click.Choice(MODES), hidden=True, help="Run as one of the parsers' runs.")
def main(work: Path, lines: int, cpu_rounds: int, mode: str | None) -> None:
    """Count the instructions a reject costs beyond a valid line (issue 11), with callgrind: in the parsers,
    and in the whole `build.py ingest`; or, with --cpu-rounds, time the whole command."""
    spoilt_path, unspoilt_path = exports_of(work)
    if mode is not None:  # one of the parsers' runs: both exports read, one of them parsed
        texts = {"spoilt": read_lines(spoilt_path, lines), "unspoilt": read_lines(unspoilt_path, lines)}
        rejects = parse_rejects(texts[mode]) if mode != "neither" else 0
        print(json.dumps({"rejects": rejects, "lines": len(texts["unspoilt"])}))
        return
    if cpu_rounds:
        timed = time_ingest(work, lines, cpu_rounds)
        for kind in ("cpu", "wall"):
            click.echo(seconds_summary(kind.upper() if kind == "cpu" else kind, timed[kind]))
        (work / "logs").mkdir(exist_ok=True)
        (work / "logs" / "reject-seconds.json").write_text(json.dumps(timed), "utf-8")
        return
    if shutil.which("valgrind") is None:
        raise click.ClickException("valgrind is not installed (Debian: apt-get install valgrind)")
    parse, parse_counts = count_parsers(work, lines)
    ingest, ingest_counts = count_ingest(work, lines)
    click.echo(summary(f"parse_block on {spoilt_path.name}", parse))
    click.echo(summary("build.py ingest, every process", ingest))
    (work / "logs").mkdir(exist_ok=True)
    (work / "logs" / "reject-instructions.json").write_text(
        json.dumps(
            {"parse": {**parse, "counts": parse_counts}, "ingest": {**ingest, "counts": ingest_counts}}
        ),
        "utf-8",
    )


if __name__ == "__main__":
    main()
