"""`python -m benchmarks`: a synthetic platform at a given scale, each stage measured beside DuckDB."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import click

from . import harness, report
from .synth import SCALES

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def _int_list(_ctx, _param, value: str) -> list[int]:
    try:
        numbers = sorted({int(v) for v in value.split(",") if v.strip()})
    except ValueError as error:
        raise click.BadParameter("give whole numbers separated by commas, e.g. 7,14,30") from error
    if not numbers or min(numbers) < 1:
        raise click.BadParameter("give at least one positive day count")
    return numbers


def _stages(_ctx, _param, value: str) -> list[str]:
    stages = [s.strip() for s in value.split(",") if s.strip()]
    unknown = sorted(set(stages) - set(harness.STAGES))
    if unknown or not stages:
        raise click.BadParameter(
            f"unknown stage {', '.join(unknown)}; choose among {','.join(harness.STAGES)}"
        )
    return stages


@click.command()
@click.option("--scale", type=click.Choice(list(SCALES)), default="small", show_default=True)
@click.option(
    "--days",
    type=click.IntRange(1, 400),
    default=7,
    show_default=True,
    help="Days of history of the first build (and of render).",
)
@click.option(
    "--nightly-days",
    default="7,14,30",
    show_default=True,
    callback=_int_list,
    help="Days of history before each measured nightly.",
)
@click.option(
    "--ingest-days",
    type=click.IntRange(1, 31),
    default=1,
    show_default=True,
    help="Days of mongoexport text for the ingest measurement (the first is the nightly's).",
)
@click.option(
    "--bad-lines",
    "bad_lines_percent",
    type=click.FloatRange(0, 50),
    default=0,
    show_default=True,
    help="Percent of the mongoexport lines made into rejects of five reasons (the cost of a reject).",
)
@click.option(
    "--stages",
    default=",".join(harness.DEFAULT_STAGES),
    show_default=True,
    callback=_stages,
    help=f"Among {','.join(harness.STAGES)}. `backfill`: --ingest-days days of exports into an empty lake, "
    "then the first site, locally and on dask clusters started here (extra `cluster`).",
)
@click.option(
    "--backfill-workers",
    default="1,2",
    show_default=True,
    callback=_int_list,
    help="The backfill's clusters, by their number of workers (each a process of one thread).",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="The backfill also runs on this existing dask.distributed scheduler (its workers must see --work).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Where results-<scale>.md and .json go.",
)
@click.option(
    "--work",
    type=click.Path(path_type=Path),
    default=None,
    help="Scratch folder (kept); default a temporary folder under /tmp, removed at the end.",
)
@click.option(
    "--stage-timeout",
    type=float,
    default=1200,
    show_default=True,
    help="Seconds after which a step is stopped and recorded as a timeout.",
)
@click.option(
    "--memory-limit",
    "memory_limit_mib",
    type=float,
    default=8192,
    show_default=True,
    help="MiB of resident memory past which a step is stopped and recorded as killed.",
)
@click.option("--duckdb-threads", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--quiet-disk",
    "quiet_disk_minutes",
    type=click.FloatRange(0, 60),
    default=0,
    show_default=True,
    help="Wait up to this many minutes for the disk to be quiet (creating a file under "
    f"{harness.QUIET_FILE_CREATION_US:g} µs) before the first step: on ext4 without a journal, files are "
    "slow to create for minutes after a mass deletion, such as an earlier run's.",
)
@click.option(
    "--reuse-synth",
    is_flag=True,
    help="With --work: keep the platform generated there by an earlier run with the same settings.",
)
@click.option(
    "--reuse-aggregates",
    is_flag=True,
    help="With --work and --reuse-synth, for the nightly stage alone: keep the aggregates an earlier run's "
    "nightly set-up left in WORK/lake, so that this set-up recomputes only the days it changes (minutes, "
    "not the regional year's 45). Repeated nightly runs can then be compared.",
)
def main(
    scale,
    days,
    nightly_days,
    ingest_days,
    bad_lines_percent,
    stages,
    out,
    work,
    stage_timeout,
    memory_limit_mib,
    duckdb_threads,
    seed,
    reuse_synth,
    reuse_aggregates,
    quiet_disk_minutes,
    backfill_workers,
    scheduler,
) -> None:
    """Measure ingest, first build, nightly and render on a synthetic platform, beside DuckDB."""
    if reuse_aggregates and (work is None or {"build", "render"} & set(stages)):
        raise click.UsageError(
            "--reuse-aggregates needs --work, and measures no first build: leave out build, render"
        )
    temporary = work is None
    work = Path(tempfile.mkdtemp(prefix=f"statistiques-bench-{scale}-")) if temporary else work.resolve()
    config = harness.Config(
        scale=scale,
        days=days,
        nightly_days=nightly_days,
        ingest_days=ingest_days,
        stages=stages,
        work=work,
        timeout_s=stage_timeout,
        memory_limit_mib=memory_limit_mib,
        seed=seed,
        duckdb_threads=duckdb_threads,
        reuse_synth=reuse_synth,
        reuse_aggregates=reuse_aggregates,
        bad_share=bad_lines_percent / 100,
        quiet_disk_s=quiet_disk_minutes * 60,
        backfill_workers=backfill_workers,
        scheduler=scheduler,
    )
    click.echo(f"benchmark {scale}: work in {work}")
    try:
        bench = harness.run(config)
        md, js = report.write(bench, out)
    finally:
        if temporary:
            shutil.rmtree(work, ignore_errors=True)
    click.echo(f"\nwritten: {md}\n         {js}")


if __name__ == "__main__":
    main()
