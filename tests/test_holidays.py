"""School holidays (SPEC 2.6): the UAI → académie → zone table, the calendar's runs, and what a build writes
(summary.json, data.js, build.json, `--holiday-zone`). The bands in the pages: tests/test_browser.py."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta

import pytest
from click.testing import CliRunner
from conftest import event, write_directory

from build import cli
from pipeline import holidays
from pipeline.holidays import Holiday, default_zone, holidays_over, zone_of_uai

# The official calendar, as the ministry published it (the package ships it); day after day, weekends included
TOUSSAINT_2025 = Holiday("Vacances de la Toussaint", date(2025, 10, 18), date(2025, 11, 2))
HIVER_2025_A = Holiday("Vacances d'hiver", date(2025, 2, 22), date(2025, 3, 9))
HIVER_2025_C = Holiday("Vacances d'hiver", date(2025, 2, 15), date(2025, 3, 2))
NOEL_2024 = Holiday("Vacances de Noël", date(2024, 12, 21), date(2025, 1, 5))


@pytest.mark.parametrize(
    ("uai", "zone"),
    [
        ("0750654D", "C"),  # Paris: lycée Louis-le-Grand
        ("0690026D", "A"),  # Lyon (Rhône): lycée du Parc
        ("0590117G", "B"),  # Lille (Nord): lycée Faidherbe
        ("0130040Y", "B"),  # Marseille (Bouches-du-Rhône), académie d'Aix-Marseille
        ("0940120X", "C"),  # Val-de-Marne, académie de Créteil
        ("0930001A", "C"),  # Seine-Saint-Denis, Créteil too
        ("0310001A", "C"),  # Toulouse
        ("0330001A", "A"),  # Bordeaux
        ("0670001A", "B"),  # Strasbourg
        (" 0750654d ", "C"),  # as a directory may write it: spaces, lower case
        ("6200002G", None),  # Corse-du-Sud (Ajaccio): Corsica's calendar is its own, outside A, B and C
        ("7200009X", None),  # Haute-Corse
        ("9740001H", None),  # La Réunion
        ("9710001A", None),  # Guadeloupe
        ("0000001X", None),  # no département
        ("", None),
        ("07", None),
    ],
)
def test_a_uai_gives_its_academies_zone(uai: str, zone: str | None) -> None:
    assert zone_of_uai(uai) == zone


def test_the_table_knows_every_metropolitan_departement_once() -> None:
    with open(holidays.ACADEMIES_FILE, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    prefixes = [row["uai_prefix"] for row in rows]
    assert len(prefixes) == len(set(prefixes))
    metropolitan = {f"{n:03d}" for n in range(1, 96) if n != 20} | {"620", "720"}
    assert metropolitan <= set(prefixes)
    by_academy: dict[str, set[str]] = {}
    for row in rows:
        by_academy.setdefault(row["academie"], set()).add(row["zone"])
        if row["uai_prefix"] in metropolitan and row["academie"] != "Corse":
            assert row["zone"] in holidays.ZONES, row
        else:
            assert row["zone"] == "", row
    assert all(len(zones) == 1 for zones in by_academy.values()), by_academy  # one zone per académie
    assert by_academy["Paris"] == by_academy["Créteil"] == by_academy["Versailles"] == {"C"}
    assert by_academy["Lyon"] == by_academy["Bordeaux"] == {"A"}
    assert by_academy["Lille"] == by_academy["Normandie"] == {"B"}


def test_the_default_zone_is_that_of_most_structures_and_a_tie_goes_to_the_first() -> None:
    assert default_zone(["0750654D", "0690026D", "0691234A", "6200002G", ""]) == "A"
    assert default_zone(["0750654D", "0940120X", "0690026D"]) == "C"
    assert default_zone(["0590117G", "0750654D"]) == "B"  # B and C tie: B comes first
    assert default_zone(["6200002G", ""]) == "A"  # no structure has a zone: every zone ties
    assert default_zone([]) == "A"


def test_a_holiday_is_a_run_of_days_under_one_name_clipped_to_the_period() -> None:
    calendar_c = holidays.calendar("C")
    assert TOUSSAINT_2025 in calendar_c and HIVER_2025_C in calendar_c and NOEL_2024 in calendar_c
    assert HIVER_2025_A in holidays.calendar("A")
    assert all(a.last < b.first for a, b in zip(calendar_c, calendar_c[1:]))  # in date order, apart
    assert holidays_over("C", date(2025, 11, 1), date(2025, 11, 30)) == [
        Holiday(TOUSSAINT_2025.name, date(2025, 11, 1), date(2025, 11, 2))
    ]
    assert holidays_over("C", date(2025, 1, 1), date(2025, 1, 31)) == [
        Holiday(NOEL_2024.name, date(2025, 1, 1), date(2025, 1, 5))  # across the new year: one holiday
    ]
    assert holidays_over("C", date(2025, 11, 3), date(2025, 12, 19)) == []
    assert holidays_over("C", date(2025, 11, 2), date(2025, 11, 2)) == [
        Holiday(TOUSSAINT_2025.name, date(2025, 11, 2), date(2025, 11, 2))
    ]
    # zones differ: winter 2025 starts a week apart in A and C
    assert [h.first for h in holidays_over("A", date(2025, 2, 1), date(2025, 3, 31))] == [date(2025, 2, 22)]
    assert [h.first for h in holidays_over("C", date(2025, 2, 1), date(2025, 3, 31))] == [date(2025, 2, 15)]


STRUCTURES = [
    ("s-paris", "0750654D", "Lycée Louis-le-Grand"),
    ("s-lyon", "0690026D", "Lycée du Parc"),
    ("s-lyon2", "0691234A", "Collège de Lyon"),
    ("s-corse", "6200002G", "Lycée d'Ajaccio"),
    ("s-nouai", "", "École sans UAI"),
]
CLASSES = [("c-paris", "s-paris", "2nde 1"), ("c-corse", "s-corse", "6e A")]
AS_OF = "2025-11-24"


def _documents() -> list[dict]:
    return [
        event("LOGIN", "2025-11-20 10:00", f"u{k}", "Student", [sid], [cid] if cid else [])
        for k, (sid, cid) in enumerate(
            [
                ("s-paris", "c-paris"),
                ("s-lyon", None),
                ("s-lyon2", None),
                ("s-corse", "c-corse"),
                ("s-nouai", None),
            ]
        )
    ]


def _zone_and_periods(site, entity: str) -> tuple[str, list[dict]]:
    listed = site.summary(entity)["holidays"]
    return listed["zone"], listed["periods"]


def test_summary_json_lists_each_entitys_holidays_over_twelve_months(make_site) -> None:
    site = make_site(_documents(), AS_OF, structures=STRUCTURES, classes=CLASSES)
    zone, periods = _zone_and_periods(site, "structures/s-paris")
    assert zone == "C"
    # 12months: 2024-11-01 … 2025-11-24; the Toussaint 2024 (19 October – 3 November) is clipped to it
    assert periods[0] == {"name": "Vacances de la Toussaint", "from": "2024-11-01", "to": "2024-11-03"}
    assert periods[-1] == {"name": TOUSSAINT_2025.name, "from": "2025-10-18", "to": "2025-11-02"}
    assert {"name": HIVER_2025_C.name, "from": "2025-02-15", "to": "2025-03-02"} in periods
    assert [p["from"] for p in periods] == sorted(p["from"] for p in periods)
    assert _zone_and_periods(site, "structures/s-paris/classes/c-paris") == (zone, periods)  # its class

    # two structures of Lyon against one of Paris: A is the default, for the platform, Corsica, no UAI
    for entity in (
        "platform",
        "structures/s-lyon",
        "structures/s-corse",
        "structures/s-corse/classes/c-corse",
    ):
        zone, periods = _zone_and_periods(site, entity)
        assert zone == "A", entity
        assert {"name": HIVER_2025_A.name, "from": "2025-02-22", "to": "2025-03-09"} in periods
    assert _zone_and_periods(site, "structures/s-nouai")[0] == "A"
    data_js = (site.root / "structures/s-paris/data.js").read_text(encoding="utf-8")
    assert data_js.rstrip().endswith('"zone":"C"};')
    assert site.report["holidays"]["default_zone"] == "A"
    assert site.report["holidays"]["entities_by_zone"] == {
        "A": 6,
        "B": 0,
        "C": 2,
    }  # platform, 4 structures, 1 class


def test_the_holidays_add_under_2_kb_to_an_entity_and_nothing_to_the_csv(make_site) -> None:
    site = make_site(_documents(), AS_OF, structures=STRUCTURES, classes=CLASSES)
    for summary in site.root.rglob("summary.json"):
        listed = json.loads(summary.read_text(encoding="utf-8"))["holidays"]
        added = len(json.dumps(listed, ensure_ascii=False, indent=1).encode()) + len(b',"zone":"C"')
        assert 0 < added < 2048, summary
    header = site.rows("connections-by-day.csv", "structures/s-paris")[0]
    assert list(header) == ["Établissement", "UAI", "Classe", "Date", "Profil", "Connexions"]


def test_holiday_zone_sets_the_default_and_leaves_the_uai_zones(tmp_path) -> None:
    export = tmp_path / "events.json"
    export.write_text("".join(json.dumps(d) + "\n" for d in _documents()), encoding="utf-8")
    directory = write_directory(tmp_path / "directory", STRUCTURES, CLASSES)
    lake, out = tmp_path / "lake", tmp_path / "site"
    runner = CliRunner()
    result = runner.invoke(cli, ["ingest", str(export), "--lake", str(lake)])
    assert result.exit_code == 0, result.output
    common = ["site", "--lake", str(lake), "--directory", str(directory), "--out", str(out), "--as-of", AS_OF]
    result = runner.invoke(cli, [*common, "--holiday-zone", "B"])
    assert result.exit_code == 0, result.output
    zones = {
        entity: json.loads((out / entity / "summary.json").read_text(encoding="utf-8"))["holidays"]["zone"]
        for entity in (
            "platform",
            "structures/s-corse",
            "structures/s-nouai",
            "structures/s-lyon",
            "structures/s-paris",
        )
    }
    assert zones == {
        "platform": "B",
        "structures/s-corse": "B",
        "structures/s-nouai": "B",
        "structures/s-lyon": "A",
        "structures/s-paris": "C",
    }
    report = json.loads((out / "build.json").read_text(encoding="utf-8"))["holidays"]
    assert report["default_zone"] == "B" and report["default_from"] == "--holiday-zone"

    result = runner.invoke(cli, [*common, "--holiday-zone", "D"])
    assert result.exit_code == 2
    assert "--holiday-zone" in result.output and "'D' is not one of 'A', 'B', 'C'" in result.output


def test_summary_json_stays_json_with_or_without_holidays() -> None:
    from pipeline import render
    from pipeline.constants import INDICATORS
    from pipeline.model import Entity, EntityFigures

    figures = EntityFigures(
        entity=Entity("platform", "", "Plateforme", "platform"),
        as_of=date(2031, 5, 1),
        period_starts={"12months": date(2030, 5, 1)},
        tiles=dict.fromkeys(i.id for i in INDICATORS),
        series={},
        apps={},
        hours={},
        weekdays={},
        visitors={},
    )
    for listed in ((), (NOEL_2024, Holiday('Vacances "à part"', date(2025, 1, 6), date(2025, 1, 6)))):
        data = json.loads(render.summary_json(figures, "B", listed))
        assert data["holidays"] == {"zone": "B", "periods": [h.as_json() for h in listed]}
        assert list(data)[-1] == "holidays" and data["entity"]["kind"] == "platform"


def test_a_period_past_the_calendars_end_is_said(caplog) -> None:
    end = holidays.calendar_end()
    with caplog.at_level("WARNING", logger="pipeline.holidays"):
        zones = holidays.zones_for([], None, end.replace(month=1, day=1), end)
    assert not caplog.records and zones.default == "A"
    with caplog.at_level("WARNING", logger="pipeline.holidays"):
        zones = holidays.zones_for([], "C", end + timedelta(days=1), end.replace(year=end.year + 1))
    assert "pip install -U vacances-scolaires-france" in caplog.text
    assert zones.default == "C" and zones.periods("C") == ()


def test_a_day_off_is_a_school_holiday_of_the_zone_or_a_public_holiday() -> None:
    assert holidays.day_off(date(2025, 10, 21), "C")  # the Toussaint holidays
    assert holidays.day_off(date(2025, 11, 11), "C")  # Armistice, a Tuesday of school otherwise
    assert not holidays.day_off(date(2025, 11, 12), "C")
    assert holidays.day_off(date(2025, 2, 17), "C") and not holidays.day_off(date(2025, 2, 17), "A")
