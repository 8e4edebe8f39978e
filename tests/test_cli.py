"""SPEC 3.3 through the command line: the commands, their help, their output and their errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import csv_bytes, event, write_directory, write_lines

import build

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("command", ["demo", "ingest", "site", "nightly"])
def test_every_command_has_help(command):
    result = CliRunner().invoke(build.cli, [command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_ingest_prints_counts_per_type_and_reason(tmp_path):
    export = write_lines(tmp_path / "e.json", [event(), event("ACCESS"), event(profil="Director"), "{"])
    args = ["ingest", str(export), "--lake", str(tmp_path / "lake"), "--max-reject-rate", "50"]
    result = CliRunner().invoke(build.cli, args)  # 2 rejects of 4 lines: 50 %, not over
    assert result.exit_code == 0, result.output
    assert "LOGIN: 1" in result.output and "ACCESS: 1" in result.output
    assert "unknown_profile: 1" in result.output and "not_json: 1" in result.output


def test_ingest_runs_without_loading_the_page_builders(tmp_path):
    """Altair, Jinja and the renderer load only for the commands that build pages (half a second each
    `ingest` would otherwise spend before reading a line)."""
    export = write_lines(tmp_path / "e.json", [event()])
    run = (
        "import sys, build\n"
        "try:\n"
        f"    build.cli(['ingest', {str(export)!r}, '--lake', {str(tmp_path / 'lake')!r}])\n"
        "except SystemExit as end:\n"
        "    assert end.code == 0, end.code\n"
        "print(sorted(m for m in ('altair', 'jinja2', 'pipeline.site', 'pipeline.render')"
        " if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", run], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]" and "LOGIN: 1" in result.stdout


def test_missing_input_is_an_error_on_stderr_naming_it(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "build.py"),
            "ingest",
            str(tmp_path / "nope.json"),
            "--lake",
            str(tmp_path / "lake"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "nope.json" in result.stderr and "Error" in result.stderr and result.stdout == ""


def test_site_without_a_lake_says_what_to_do(tmp_path):
    directory = write_directory(tmp_path / "dir")
    result = CliRunner().invoke(
        build.cli,
        [
            "site",
            "--lake",
            str(tmp_path / "none"),
            "--directory",
            str(directory),
            "--out",
            str(tmp_path / "site"),
        ],
    )
    assert result.exit_code == 1 and "run `ingest` first" in result.output


def test_bad_as_of_is_a_usage_error(tmp_path):
    directory = write_directory(tmp_path / "dir")
    result = CliRunner().invoke(
        build.cli,
        ["site", "--lake", "x", "--directory", str(directory), "--out", "y", "--as-of", "31/03/2026"],
    )
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


def test_nightly_twice_gives_the_same_site(tmp_path):
    export = write_lines(tmp_path / "e.json", [event(), event(user="u2", when="2026-03-12 08:00")])
    directory = write_directory(tmp_path / "dir")
    args = [
        "nightly",
        str(export),
        "--lake",
        str(tmp_path / "lake"),
        "--directory",
        str(directory),
        "--out",
        str(tmp_path / "site"),
        "--as-of",
        "2026-03-31",
    ]
    assert CliRunner().invoke(build.cli, args).exit_code == 0
    first = csv_bytes(tmp_path / "site/platform/csv/connections-by-day.csv")
    assert CliRunner().invoke(build.cli, args).exit_code == 0
    assert csv_bytes(tmp_path / "site/platform/csv/connections-by-day.csv") == first
    report = json.loads((tmp_path / "site/build.json").read_text())
    assert report["ingest"]["duplicates"] == 2 and report["events_by_type"] == {"LOGIN": 2}
    assert set(report["seconds"]) >= {"ingest", "aggregate", "indicators", "write"}
    after_stage = report["peak_memory_mib_after_stage"]
    assert set(after_stage) == set(report["seconds"])  # nightly's ingest and retention too
    assert 0 < max(after_stage.values()) <= report["peak_memory_mib"]
