"""`python -m benchmarks.reject_instructions --work WORK`: what a reject costs beyond a valid line, counted in
instructions (valgrind's callgrind), on the exports a `--bad-lines` run left in WORK (`exports/`, spoilt, and
`exports-clean/`, the same lines unspoilt).

Seconds cannot show it on a shared machine: two benchmark runs of the same code have given pairs from −12 to
+16 µs a reject. An instruction count repeats to within 0.01 % once hash seeds and thread pools are fixed.

There are three runs of the same script, under callgrind. The first reads N lines of both exports and parses
neither; the second parses the unspoilt ones, the third the spoilt ones, block by block as ingest does
(`parse_columns.parse_block`). A valid line costs (unspoilt − neither) ÷ N. A reject costs, beyond the valid
line it replaces, (spoilt − unspoilt) ÷ (their difference in rejects). Issue 11's target: at most 0.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click

from pipeline.exports import Block
from pipeline.ingest import CHUNK_LINES
from pipeline.parse_columns import parse_block

from .harness import CLEAN_EXPORTS

MODES = ("neither", "unspoilt", "spoilt")
FIXED = {"PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}  # for repeatable counts
NOW_MS = 4_102_444_800_000  # 2100-01-01: no line is in the future
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
    """The instructions callgrind counted, from what it printed."""
    found = _COLLECTED.search(valgrind_output)
    if found is None:
        raise click.ClickException(f"callgrind printed no count:\n{valgrind_output[-2000:]}")
    return int(found.group(1))


def per_line(counts: dict[str, int], rejects: dict[str, int], lines: int) -> dict:
    """Instructions a valid line, and a reject's beyond the valid line it replaces (None when nothing was
    spoilt)."""
    spoilt = rejects["spoilt"] - rejects["unspoilt"]
    return {
        "lines": lines,
        "rejects": spoilt,
        "valid_line": round((counts["unspoilt"] - counts["neither"]) / lines),
        "reject_extra": round((counts["spoilt"] - counts["unspoilt"]) / spoilt) if spoilt > 0 else None,
    }


def summary(name: str, figures: dict) -> str:
    head = f"{name}, {figures['lines']:,} lines: a valid line {figures['valid_line']:,} instructions; "
    if figures["reject_extra"] is None:
        return head + "no line spoilt in them"
    return (
        head + f"a reject {figures['reject_extra']:+,} beyond it ({figures['rejects']:,} rejects; target ≤ 0)"
    )


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
    help="Lines of each export read (40,000: about 100 s for the three runs under callgrind).",
)
@click.option("--mode", type=click.Choice(MODES), hidden=True, help="Run as one of the three measured runs.")
def main(work: Path, lines: int, mode: str | None) -> None:
    """Count the instructions a reject costs beyond a valid line (issue 11), with callgrind."""
    spoilt_path, unspoilt_path = exports_of(work)
    if mode is not None:  # one measured run: both exports read, one of them parsed
        texts = {"spoilt": read_lines(spoilt_path, lines), "unspoilt": read_lines(unspoilt_path, lines)}
        rejects = parse_rejects(texts[mode]) if mode != "neither" else 0
        print(json.dumps({"rejects": rejects, "lines": len(texts["unspoilt"])}))
        return
    if shutil.which("valgrind") is None:
        raise click.ClickException("valgrind is not installed (Debian: apt-get install valgrind)")
    counts, rejects, read = {}, {}, 0
    for run in MODES:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-m",
             "benchmarks.reject_instructions", "--work", str(work), "--lines", str(lines), "--mode", run],
            capture_output=True, text=True, env={**os.environ, **FIXED}, check=False,
        )  # fmt: skip
        if done.returncode:
            raise click.ClickException(f"the {run} run failed:\n{done.stderr[-2000:]}")
        counts[run] = collected(done.stderr)
        printed = json.loads(done.stdout.splitlines()[-1])
        rejects[run], read = printed["rejects"], printed["lines"]
        click.echo(f"  {run:9} {counts[run]:>15,} instructions, {rejects[run]:,} rejects", err=True)
    figures = per_line(counts, rejects, read)
    click.echo(summary(spoilt_path.name, figures))
    (work / "logs").mkdir(exist_ok=True)
    (work / "logs" / "reject-instructions.json").write_text(
        json.dumps({**figures, "counts": counts}), "utf-8"
    )


if __name__ == "__main__":
    main()
