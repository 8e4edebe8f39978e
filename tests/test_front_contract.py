"""The page script takes its contract from Python: every export it may link to is a file the CSV writer
wrote, named once (`Indicator.csv_name`), and the per-indicator flags are the constants'."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_pages import CLASSES, STRUCTURES

from pipeline.constants import INDICATORS


@pytest.fixture(scope="module")
def site(tiny_site: Path) -> Path:
    return tiny_site


def stats_config(site: Path) -> dict:
    text = next((site / "assets").glob("charts-*.js")).read_text(encoding="utf-8")
    prefix = "window.STATS_CONFIG="
    assert text.startswith(prefix)
    return json.loads(text[len(prefix) :].rstrip().rstrip(";"))


def test_every_export_the_script_may_link_is_written_in_every_entity(site: Path) -> None:
    config = stats_config(site)
    exports = {name for i in config["indicators"] for name in i["exports"].values()}
    assert len(exports) == 18  # SPEC 3.2: 4 series × 3 groupings, 3 others × 2 periods
    folders = [p.parent for p in site.rglob("summary.json")]
    assert len(folders) == 1 + len(STRUCTURES) + len(CLASSES)  # the platform, the structures, the classes
    for folder in folders:
        depth = len(folder.relative_to(site).parts)  # platform/, structures/<id>/, …/classes/<id>/
        # side by side (3.5); the platform's also has the runs' history
        side = {1: {"structures.csv.gz", "runs.csv.gz"}, 2: {"classes.csv.gz"}}.get(depth, set())
        assert {p.name for p in (folder / "csv").iterdir()} == {n + ".gz" for n in exports} | side, folder


def test_flags_and_defaults_come_from_the_constants(site: Path) -> None:
    config = stats_config(site)
    by_id = {i["id"]: i for i in config["indicators"]}
    assert list(by_id) == [i.id for i in INDICATORS]
    assert {i for i, c in by_id.items() if c["oneProfile"]} == {"top_apps", "activations"}
    assert {i for i, c in by_id.items() if c["ratio"]} == {"visits_per_visitor"}
    assert by_id["connections"]["exports"] == {
        "day": "connections-by-day.csv",
        "week": "connections-by-week.csv",
        "month": "connections-by-month.csv",
    }
    assert by_id["weekly_peak"]["exports"] == {
        "month": "weekly_peak-month.csv",
        "12months": "weekly_peak-12months.csv",
    }
    assert config["defaults"] == {"grouping": "month", "period": "12months", "profile": "all", "window": "8w"}
    assert config["dayWindows"] == {"8w": 56, "6m": 183, "all": 0}  # days; 0: the whole period


@pytest.mark.parametrize("name", ["app.js", "detail.js"])
def test_the_scripts_name_no_indicator_and_no_csv_file(name: str) -> None:
    script = (Path(__file__).resolve().parent.parent / "site_src" / name).read_text(encoding="utf-8")
    for indicator in INDICATORS:
        assert f'"{indicator.id}"' not in script, indicator.id
    assert ".csv" not in script
