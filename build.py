"""Statistiques command line: `demo`, `ingest`, `site`, `nightly` (SPEC 3.3), thin over `pipeline`."""

from __future__ import annotations

import json
import logging
import sys
from datetime import date
from pathlib import Path

import click

from pipeline import demo, nightly
from pipeline import ingest as ingest_stage
from pipeline.constants import DEFAULT_TIMEZONE
from pipeline.exceptions import StatistiquesError
from pipeline.parse import REJECT_REASONS
from pipeline.site import SiteOptions
from pipeline.site import build as build_site

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


def site_options(command):
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
        ]
    ):
        command = option(command)
    return command


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


@cli.command("ingest")
@click.argument("files", nargs=-1, required=True, type=existing_files)
@click.option("--lake", required=True, type=folder, help="The Parquet lake to add events to.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_fail_cleanly
def ingest_command(files: tuple[Path, ...], lake: Path, as_json: bool) -> None:
    """Validate FILES (mongoexport JSON Lines, .gz or not) and add their events to the lake."""
    report = ingest_stage.run(list(files), lake)
    click.echo(json.dumps(report.as_dict(), indent=1)) if as_json else print_ingest(report)


@cli.command("site")
@site_options
@_fail_cleanly
def site_command(lake: Path, directory: Path, out: Path, as_of: date | None, timezone: str) -> None:
    """Compute every indicator from the lake and write the static site."""
    report = build_site(SiteOptions(lake, directory, out, as_of, timezone))
    print_site(report, out)


@cli.command("nightly")
@click.argument("files", nargs=-1, type=existing_files)
@site_options
@_fail_cleanly
def nightly_command(
    files: tuple[Path, ...], lake: Path, directory: Path, out: Path, as_of: date | None, timezone: str
) -> None:
    """Ingest FILES into the lake, then build the site (the job to schedule every night)."""
    report = nightly.run(list(files), SiteOptions(lake, directory, out, as_of, timezone))
    print_ingest(report.ingest)
    print_site(report.site, out)


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
    """Make a synthetic ENT (a year of events), ingest it and build its site."""
    result = demo.run(out, seed)
    click.echo(f"\nDemo site: {result.site / 'index.html'}")
    click.echo(
        f"  first build (a year, {result.first_events} events): {result.first_seconds:.1f} s; "
        f"nightly adding {result.last_day}: {result.nightly_seconds:.1f} s"
    )
    click.echo(f"  open it: python -m http.server -d {result.site} 8000, or the file above in a browser")


if __name__ == "__main__":
    cli()
