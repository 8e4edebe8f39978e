"""Statistiques command line: `demo`, `ingest`, `site`, `nightly` (SPEC 3.3), thin over `pipeline`."""

from __future__ import annotations

import functools
import json
import logging
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pipeline import ingest as ingest_stage
from pipeline import retention
from pipeline.cluster import session
from pipeline.constants import DEFAULT_TIMEZONE, HOLIDAY_ZONES
from pipeline.exceptions import StatistiquesError
from pipeline.parse import REJECT_REASONS

# The commands that build pages import the site's modules when they run: Altair, Jinja and the renderer
# take half a second to load, which `ingest`, `serve` and `--help` do without.
if TYPE_CHECKING:
    from pipeline.site import SiteOptions

log = logging.getLogger("statistiques")

existing_files = click.Path(exists=False, dir_okay=False, path_type=Path)
folder = click.Path(file_okay=False, path_type=Path)


def _as_of(_ctx, _param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; write it YYYY-MM-DD") from None


# the options of `site` and `nightly` that are SiteOptions' fields
SITE_OPTION_NAMES = ("lake", "directory", "out", "as_of", "timezone", "holiday_zone", "scheduler")

scheduler_option = click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Run the parallel work as tasks on this dask.distributed scheduler (tcp://HOST:PORT; extra "
    "`cluster`). The lake, the exports and the site must be on storage every worker sees at the same path. "
    "Default: this machine's cores.",
)


def site_options(command):
    """The options of `site` and `nightly`, given to the command as one `options: SiteOptions`."""

    @functools.wraps(command)  # its click parameters (attached by the decorators below) come along
    def with_site_options(**values):
        from pipeline.site import SiteOptions

        options = SiteOptions(**{name: values.pop(name) for name in SITE_OPTION_NAMES})
        return command(options=options, **values)

    wrapped = with_site_options
    for option in reversed(
        [
            click.option("--lake", required=True, type=folder, help="The Parquet lake written by `ingest`."),
            click.option(
                "--directory",
                required=True,
                type=click.Path(file_okay=False, exists=True, path_type=Path),
                help="Directory snapshot: structures.csv and classes.csv.",
            ),
            click.option(
                "--out", required=True, type=folder, help="Folder of the static site (replaced whole)."
            ),
            click.option(
                "--as-of", callback=_as_of, help="Reference day D, YYYY-MM-DD (default: yesterday, local)."
            ),
            click.option(
                "--timezone", default=DEFAULT_TIMEZONE, show_default=True, help="Platform timezone."
            ),
            click.option(
                "--holiday-zone",
                type=click.Choice(HOLIDAY_ZONES),
                help="School holiday zone of the platform and of the structures whose UAI gives none "
                "(default: the zone of most structures).",
            ),
            scheduler_option,
        ]
    ):
        wrapped = option(wrapped)
    return wrapped


wait_option = click.option(
    "--wait",
    is_flag=True,
    help="If another run holds the lake, wait for it to finish (default: stop at once, exit code 1).",
)


def _retain_months(_ctx, _param, value: int) -> int:
    try:
        retention.check_months(value)
    except StatistiquesError as error:
        raise click.BadParameter(str(error)) from None
    return value


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log each stage's work on stderr.")
def cli(verbose: bool) -> None:
    """Statistiques: ENT event exports → Parquet lake → indicators → static site."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )


def _fail_cleanly(function):
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except StatistiquesError as error:
            raise click.ClickException(str(error)) from error

    wrapper.__name__ = function.__name__
    wrapper.__doc__ = function.__doc__
    return wrapper


def print_ingest(report: ingest_stage.IngestReport) -> None:
    click.echo(f"Ingested {len(report.files)} file(s), {report.lines} lines in {report.seconds:.1f} s")
    click.echo(f"  new events: {sum(report.events_new.values())}")
    for event_type, count in sorted(report.events_new.items()):
        click.echo(f"    {event_type}: {count}")
    click.echo(f"  duplicates (same _id, counted once): {report.duplicates}")
    click.echo(
        f"  rejected lines: {sum(report.rejects_new.values())}"
        + (f" (and {report.rejects_known} already kept by an earlier run)" if report.rejects_known else "")
    )
    for reason, count in sorted(report.rejects_new.items()):
        click.echo(f"    {reason}: {count} — {REJECT_REASONS.get(reason, 'the compressed file ends early')}")


def print_site(report: dict, out: Path) -> None:
    entities = report["entities"]
    click.echo(
        f"Site for {report['as_of']} ({report['timezone']}): {entities['structures']} structures, "
        f"{entities['classes']} classes, {report['files_written']} files → {out}"
    )
    click.echo("  seconds: " + ", ".join(f"{k} {v}" for k, v in report["seconds"].items()))


max_reject_rate_option = click.option(
    "--max-reject-rate",
    type=click.FloatRange(0, 100),
    default=ingest_stage.DEFAULT_MAX_REJECT_RATE,
    show_default=True,
    metavar="PERCENT",
    help="A percentage of the lines read (1 means 1 %): when the run's new rejects are more, exit with "
    "code 1 once everything is written, naming the reasons and where the rejects are (LAKE/rejects/).",
)


@cli.command("ingest")
@click.argument("files", nargs=-1, required=True, type=existing_files)
@click.option("--lake", required=True, type=folder, help="The Parquet lake to add events to.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@wait_option
@max_reject_rate_option
@scheduler_option
@_fail_cleanly
def ingest_command(
    files: tuple[Path, ...],
    lake: Path,
    as_json: bool,
    wait: bool,
    max_reject_rate: float,
    scheduler: str | None,
) -> None:
    """Validate FILES (mongoexport JSON Lines, .gz or not) and add their events to the lake."""
    with session(scheduler, {f.parent for f in files}) as cluster:
        report = ingest_stage.run(list(files), lake, wait=wait, cluster=cluster)
    click.echo(json.dumps(report.as_dict(), indent=1)) if as_json else print_ingest(report)
    ingest_stage.check_reject_rate(report, max_reject_rate)


@cli.command("site")
@site_options
@wait_option
@_fail_cleanly
def site_command(options: SiteOptions, wait: bool) -> None:
    """Compute every indicator from the lake and write the static site."""
    from pipeline.site import build as build_site

    report = build_site(options, wait=wait)
    print_site(report, options.out)


@cli.command("nightly")
@click.argument("files", nargs=-1, type=existing_files)
@site_options
@wait_option
@click.option(
    "--retain-months",
    default=retention.DEFAULT_RETAIN_MONTHS,
    show_default=True,
    callback=_retain_months,
    help="Keep D's month and the N-1 months before it in the lake; delete older events, their "
    f"aggregates and rejects (at least {retention.MIN_RETAIN_MONTHS}: the 12months period).",
)
@max_reject_rate_option
@_fail_cleanly
def nightly_command(
    files: tuple[Path, ...],
    options: SiteOptions,
    wait: bool,
    retain_months: int,
    max_reject_rate: float,
) -> None:
    """Ingest FILES into the lake, then build the site (the job to schedule every night)."""
    from pipeline import nightly

    report = nightly.run(
        list(files),
        replace(options, max_reject_rate=max_reject_rate),
        wait=wait,
        retain_months=retain_months,
    )
    print_ingest(report.ingest)
    print_site(report.site, options.out)
    ingest_stage.check_reject_rate(report.ingest, max_reject_rate)


@cli.command("demo")
@click.option(
    "--out",
    default=Path("demo"),
    show_default=True,
    type=folder,
    help="Folder for the demo's exports, directory, lake and site.",
)
@click.option("--seed", default=7, show_default=True, help="Seed of the synthetic platform.")
@_fail_cleanly
def demo_command(out: Path, seed: int) -> None:
    """Make a synthetic ENT (two years of events), ingest it and build its site."""
    from pipeline import demo

    result = demo.run(out, seed)
    click.echo(f"\nDemo site: {result.site / 'index.html'}")
    click.echo(
        f"  first build (two years, {result.first_events} events): {result.first_seconds:.1f} s; "
        f"nightly adding {result.last_day}: {result.nightly_seconds:.1f} s"
    )
    click.echo(
        f"  open it: python build.py serve {result.site} (the whole site, as a super administrator; exports "
        "work), or the file above in a browser (exports then download as .csv.gz)"
    )


@cli.command("serve")
@click.argument("site", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--directory",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Directory snapshot holding users.csv: the users to preview as.",
)
@click.option(
    "--user",
    "user_id",
    help="Preview as this user id of users.csv (with --directory and without --user: list some).",
)
@click.option("--port", default=8000, show_default=True, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@_fail_cleanly
def serve_command(site: Path, directory: Path | None, user_id: str | None, port: int, host: str) -> None:
    """Preview SITE over http: as one user sees it behind the ENT's proxy (SITE/access.json decides; 403
    otherwise), or, with neither --directory nor --user, the whole site as a super administrator reads it.
    CSV exports are served from their stored .csv.gz, as the shipped nginx does."""
    from pipeline import serve

    if user_id is None and directory is not None:
        click.echo(serve.sample_users(serve.load_users(directory)))
        raise click.ClickException("choose whom to preview as: --user ID (one of the ids above)")
    server = serve.preview_server(site, directory, user_id, host, port)
    who = f"{user_id} ({serve.kind_of(server.user)})" if user_id else "a super administrator (the whole site)"
    click.echo(f"Previewing {site} as {who}: {server.url} (Ctrl-C stops)")
    serve.serve_until_interrupted(server)


if __name__ == "__main__":
    cli()
