"""Figures of the golden input counted by hand, not regenerated from the code: tests/golden/expected/ is
written by the pipeline under test, so it cannot catch a wrong rule; these can.

Input: tests/golden/input/events.jsonl (23 lines), directory tests/golden/input/directory/ (structures
s-lycee-victor-hugo "Lycée Victor Hugo" 0750001A and s-college-jean-moulin "Collège Jean Moulin, Lyon"
0690002B; classes c-2nde-a and c-1ere-b of the lycée). D = 2026-03-31, Europe/Paris; ingest's clock
NOW = 1_775_000_000_000 = 2026-03-31T23:33:20Z.
Periods: month = 2026-03-01 … 2026-03-31; 12months = 2025-03-01 … 2026-03-31.

Line by line (local time = Paris: CET +01:00 until 2026-03-29 02:00, CEST +02:00 after; in 2025 CEST until
2025-10-26 03:00, then CET). Users: T = u-7f3e9a1c, S = u-2a4b6c8d, R = u-9e8d7c6b, P = u-1d1d1d1d.

 1 LOGIN  T Teacher   lycée, classes 2nde-a + 1ere-b  1774857600000 = 08:00Z = Mon 2026-03-30 10:00
 2 ACCESS T Teacher   lycée, 2nde-a + 1ere-b  Conversation            Mon 2026-03-30 10:01
 3 LOGIN  S Student   lycée, 2nde-a  ({"$oid"} id)  1774879200000 = 14:00Z = Mon 2026-03-30 16:00
 4 ACCESS S Student   lycée, 2nde-a  Pronote   "2026-03-30T13:40:00Z" = Mon 2026-03-30 15:40
 5 LOGIN  R Relative  lycée + collège            17:00Z = Mon 2026-03-30 19:00
 6 ACTIVATION u-5b5b5b5b Relative  collège       17:01Z = Mon 2026-03-30 19:01
 7 ACCESS R Relative  lycée + collège  Blog      18:00Z = Mon 2026-03-30 20:00
 8 GET_RESOURCE R     collège  (kept in the lake, used by no indicator)
 9 LOGIN  P Personnel collège                    20:00Z = Mon 2026-03-30 22:00
10 LOGIN  same _id as line 1: a duplicate, counted once
11 rejected: profil "Director"                   unknown_profile
12 rejected: no _id                              missing_id
13 rejected: ACCESS without module               missing_module
14 rejected: structures ["../../etc"]            bad_id
15 rejected: the line stops after "date":        not_json
16 LOGIN  S Student   lycée, 2nde-a  "2026-03-29T00:59:00Z"       = Sun 2026-03-29 01:59 CET
17 LOGIN  S Student   lycée, 2nde-a  "2026-03-29T03:00:00.250+02:00" = Sun 2026-03-29 03:00 CEST
      (the spring-forward day: 02:00 → 03:00; both lines are that Sunday, slots 01h-02h and 03h-04h)
18 LOGIN  T Relative  lycée + s-ecole-inconnue (not in the snapshot), 2nde-a
                                     "2025-10-26T00:30:00Z" = Sun 2025-10-26 02:30 CEST
19 LOGIN  T Teacher   lycée, classes [1ere-b, 1ere-b] (counts once)
                                     "2025-10-26T01:30:00Z" = Sun 2025-10-26 02:30 CET
      (the fall-back day: 02h-03h happens twice, both lines are in slot 02h-03h)
20 ACCESS T Teacher   lycée, class c-hors-annuaire (no page)  module "=cmd|' /C calc'!A0"
                                     1772319599000 = 2026-02-28T22:59:59Z = Sat 2026-02-28 23:59:59 CET:
      February in local time, one second before the month period
21 ACTIVATION S Student lycée, 2nde-a  1756710000000 = 2025-09-01T07:00Z = Mon 2025-09-01 09:00
22 LOGIN  R Guest     collège  "2025-02-28T23:30:00Z" = Sat 2025-03-01 00:30 CET: in UTC the day before the
      12months period, in local time its first day, so it counts
23 LOGIN  R Guest     collège  "2026-04-01T08:00:00Z" = Wed 2026-04-01 10:00: kept by ingest (less than a
      day after NOW) but after D, so in no figure

LOGINs inside 12months: lines 1, 3, 5, 9, 16, 17, 18, 19, 22 (nine; 10 is line 1 again, 11/12/14/15 are
rejected, 23 is after D). ACCESS: 2, 4, 7, 20 (13 rejected). ACTIVATION: 6, 21.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pytest
from golden import build_golden

PLATFORM = "platform"
LYCEE = "structures/s-lycee-victor-hugo"
COLLEGE = "structures/s-college-jean-moulin"
INCONNUE = "structures/s-ecole-inconnue"
SECONDE = f"{LYCEE}/classes/c-2nde-a"
PREMIERE = f"{LYCEE}/classes/c-1ere-b"
FORMULA_APP = "=cmd|' /C calc'!A0"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return build_golden(tmp_path_factory.mktemp("golden-by-hand"))


def tiles(site: Path, entity: str) -> dict:
    summary = json.loads((site / entity / "summary.json").read_text(encoding="utf-8"))
    return {name: tile["value"] for name, tile in summary["tiles"].items()}


def rows(site: Path, entity: str, name: str) -> list[dict[str, str]]:
    path = site / entity / "csv" / name
    data = path.read_bytes() if path.exists() else gzip.decompress(path.with_name(name + ".gz").read_bytes())
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))


def value(site: Path, entity: str, name: str, **match: str) -> str:
    found = [r for r in rows(site, entity, name) if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (entity, name, match, found)
    return list(found[0].values())[-1]


def test_platform_tiles(site):
    assert tiles(site, PLATFORM) == {
        # the nine LOGINs listed above
        "connections": 9,
        # March 2026 LOGINs: 1 (T), 3 (S), 5 (R), 9 (P), 16 (S), 17 (S): four users
        "unique_visitors": 4,
        # six March logins ÷ four visitors = 1.5
        "visits_per_visitor": 1.5,
        # 12months ACCESS: Conversation (2), Pronote (4), Blog (7), "=cmd…" (20), one each: a tie of four,
        # broken alphabetically; by code point "=" (U+003D) sorts before every letter
        "top_apps": FORMULA_APP,
        # hours of the nine LOGINs: 10h, 16h, 19h, 22h (Mon 30th), 01h, 03h (29th), 02h twice (2025-10-26,
        # once in summer time and once in winter time), 00h (2025-03-01): 02h-03h has two
        "hourly_peak": "02h-03h",
        # weekdays: Monday 1, 3, 5, 9 = 4; Sunday 16, 17, 18, 19 = 4; Saturday 22 = 1: a tie, Monday first
        "weekly_peak": "Lundi",
        # ACTIVATION 6 (2026-03-30) and 21 (2025-09-01)
        "activations": 2,
    }


def test_platform_visitors_by_profile_and_period(site):
    visitors = json.loads((site / PLATFORM / "summary.json").read_text(encoding="utf-8"))["visitors"]
    # March: T as Teacher (1), S as Student (3, 16, 17), R as Relative (5), P as Personnel (9); no Guest
    # (R's Guest login 23 is in April, after D)
    assert visitors["month"] == {
        "all": 4,
        "Teacher": 1,
        "Student": 1,
        "Relative": 1,
        "Personnel": 1,
        "Guest": 0,
    }
    # 12months adds 18 (T as Relative), 19 (T as Teacher), 22 (R as Guest): Relative is R and T; "Tous"
    # still counts T once although T logged in under two profiles
    assert visitors["12months"] == {
        "all": 4,
        "Teacher": 1,
        "Student": 1,
        "Relative": 2,
        "Personnel": 1,
        "Guest": 1,
    }


def test_platform_series(site):
    by_day, by_week = "connections-by-day.csv", "connections-by-week.csv"
    by_month = "connections-by-month.csv"
    # the spring-forward Sunday (23 hours) holds 16 and 17; the fall-back Sunday (25 hours) 18 and 19
    assert value(site, PLATFORM, by_day, Date="2026-03-29", Profil="Tous") == "2"
    assert value(site, PLATFORM, by_day, Date="2025-10-26", Profil="Tous") == "2"
    assert value(site, PLATFORM, by_day, Date="2025-10-26", Profil="Enseignants") == "1"
    assert value(site, PLATFORM, by_day, Date="2025-10-26", Profil="Parents") == "1"
    # Monday 30th: 1, 3, 5, 9 (10 is a duplicate of 1; 11, 12, 14 rejected); 31st: none (23 is April 1st)
    assert value(site, PLATFORM, by_day, Date="2026-03-30", Profil="Tous") == "4"
    assert value(site, PLATFORM, by_day, Date="2026-03-31", Profil="Tous") == "0"
    # line 22: 2025-02-28 in UTC, 2025-03-01 00:30 in Paris: the first day of the period, its first month,
    # and its first week, labelled by its Monday 2025-02-24 although that Monday is before the period
    assert value(site, PLATFORM, by_day, Date="2025-03-01", Profil="Autres") == "1"
    assert value(site, PLATFORM, by_month, Date="2025-03-01", Profil="Tous") == "1"
    assert rows(site, PLATFORM, by_week)[0]["Date"] == "2025-02-24"
    assert value(site, PLATFORM, by_week, Date="2025-02-24", Profil="Tous") == "1"
    # March 2026: 1, 3, 5, 9, 16, 17; February 2026: none (20 is an ACCESS)
    assert value(site, PLATFORM, by_month, Date="2026-03-01", Profil="Tous") == "6"
    assert value(site, PLATFORM, by_month, Date="2026-02-01", Profil="Tous") == "0"
    assert value(site, PLATFORM, by_month, Date="2025-10-01", Profil="Tous") == "2"
    assert sum(int(r["Connexions"]) for r in rows(site, PLATFORM, by_month) if r["Profil"] == "Tous") == 9


def test_platform_weeks_and_ratio(site):
    visitors = "unique_visitors-by-week.csv"
    # week of Monday 2026-03-23: only S, twice on Sunday 29th
    assert value(site, PLATFORM, visitors, Date="2026-03-23", Profil="Tous") == "1"
    assert value(site, PLATFORM, "connections-by-week.csv", Date="2026-03-23", Profil="Tous") == "2"
    assert value(site, PLATFORM, "visits_per_visitor-by-week.csv", Date="2026-03-23", Profil="Tous") == "2,00"
    # week of Monday 2026-03-30, cut at D (Monday 30th and Tuesday 31st): T, S, R, P
    assert value(site, PLATFORM, visitors, Date="2026-03-30", Profil="Tous") == "4"
    # week of Monday 2025-10-20: T on Sunday 26th, as Relative then as Teacher: one visitor in "Tous"
    assert value(site, PLATFORM, visitors, Date="2025-10-20", Profil="Tous") == "1"
    assert value(site, PLATFORM, visitors, Date="2025-10-20", Profil="Enseignants") == "1"
    assert value(site, PLATFORM, visitors, Date="2025-10-20", Profil="Parents") == "1"
    assert value(site, PLATFORM, "visits_per_visitor-by-week.csv", Date="2025-10-20", Profil="Tous") == "2,00"
    # March 2026 by profile: S logged in three times (3, 16, 17) → 3,00; 6 ÷ 4 = 1,50; no Guest → empty
    ratio = "visits_per_visitor-by-month.csv"
    assert value(site, PLATFORM, ratio, Date="2026-03-01", Profil="Tous") == "1,50"
    assert value(site, PLATFORM, ratio, Date="2026-03-01", Profil="Élèves") == "3,00"
    assert value(site, PLATFORM, ratio, Date="2026-03-01", Profil="Autres") == ""


def test_platform_apps_hours_weekdays(site):
    # the month period leaves out 20 (February 28th, 23:59:59 local): three modules, one access each,
    # alphabetical
    month = [
        (r["Application"], r["Accès"])
        for r in rows(site, PLATFORM, "top_apps-month.csv")
        if r["Profil"] == "Tous"
    ]
    assert month == [("Blog", "1"), ("Conversation", "1"), ("Pronote", "1")]
    year = [
        (r["Application"], r["Accès"])
        for r in rows(site, PLATFORM, "top_apps-12months.csv")
        if r["Profil"] == "Tous"
    ]
    assert year == [("'" + FORMULA_APP, "1"), ("Blog", "1"), ("Conversation", "1"), ("Pronote", "1")]
    hours = {
        r["Créneau"]: int(r["Connexions"])
        for r in rows(site, PLATFORM, "hourly_peak-12months.csv")
        if r["Profil"] == "Tous"
    }
    assert {slot: n for slot, n in hours.items() if n} == {
        "00h-01h": 1,
        "01h-02h": 1,
        "02h-03h": 2,
        "03h-04h": 1,
        "10h-11h": 1,
        "16h-17h": 1,
        "19h-20h": 1,
        "22h-23h": 1,
    }
    days = {
        r["Jour"]: int(r["Connexions"])
        for r in rows(site, PLATFORM, "weekly_peak-month.csv")
        if r["Profil"] == "Tous"
    }
    assert days == {
        "Lundi": 4,
        "Mardi": 0,
        "Mercredi": 0,
        "Jeudi": 0,
        "Vendredi": 0,
        "Samedi": 0,
        "Dimanche": 2,
    }
    activations = "activations-by-month.csv"
    assert value(site, PLATFORM, activations, Date="2025-09-01", Profil="Élèves") == "1"  # line 21
    assert value(site, PLATFORM, activations, Date="2026-03-01", Profil="Parents") == "1"  # line 6


def test_structure_tiles(site):
    assert tiles(site, LYCEE) == {
        # LOGINs listing the lycée: 1, 3, 5, 16, 17, 18, 19
        "connections": 7,
        # March: 1 (T), 3, 16, 17 (S), 5 (R)
        "unique_visitors": 3,
        # 5 ÷ 3 = 1.666… → 1.67
        "visits_per_visitor": 1.67,
        # ACCESS listing the lycée: 2, 4, 7, 20: the same tie of four as the platform
        "top_apps": FORMULA_APP,
        # 10h, 16h, 19h, 01h, 03h, 02h, 02h
        "hourly_peak": "02h-03h",
        # Monday 1, 3, 5 = 3; Sunday 16, 17, 18, 19 = 4
        "weekly_peak": "Dimanche",
        # 21
        "activations": 1,
    }
    assert tiles(site, COLLEGE) == {
        # 5 (Mon 19h), 9 (Mon 22h), 22 (Sat 2025-03-01 00h); 23 is after D
        "connections": 3,
        # March: R (5) and P (9)
        "unique_visitors": 2,
        "visits_per_visitor": 1.0,
        # 7 is the only ACCESS listing the collège (13, without module, was rejected)
        "top_apps": "Blog",
        # 19h, 22h, 00h, one each: the earliest
        "hourly_peak": "00h-01h",
        "weekly_peak": "Lundi",
        # 6
        "activations": 1,
    }
    # s-ecole-inconnue is listed by line 18 only (October 2025, T as Relative, 02:30 on a Sunday); it is
    # not in the snapshot, so its pages are named by its id, with an empty UAI
    assert tiles(site, INCONNUE) == {
        "connections": 1,
        "unique_visitors": 0,
        "visits_per_visitor": None,
        "top_apps": None,
        "hourly_peak": "02h-03h",
        "weekly_peak": "Dimanche",
        "activations": 0,
    }
    first = rows(site, INCONNUE, "connections-by-month.csv")[0]
    assert (first["Établissement"], first["UAI"], first["Classe"]) == ("s-ecole-inconnue", "", "")
    ratio = "visits_per_visitor-by-month.csv"
    assert value(site, LYCEE, ratio, Date="2026-03-01", Profil="Tous") == "1,67"
    assert value(site, LYCEE, ratio, Date="2026-03-01", Profil="Élèves") == "3,00"
    assert value(site, COLLEGE, ratio, Date="2026-03-01", Profil="Tous") == "1,00"
    assert value(site, COLLEGE, "connections-by-month.csv", Date="2025-03-01", Profil="Autres") == "1"


def test_class_tiles(site):
    assert tiles(site, SECONDE) == {
        # LOGINs listing c-2nde-a: 1, 3, 16, 17 (March) and 18 (October)
        "connections": 5,
        # March: T (1) and S (3, 16, 17): 4 ÷ 2 = 2.0
        "unique_visitors": 2,
        "visits_per_visitor": 2.0,
        # ACCESS listing c-2nde-a: Conversation (2) and Pronote (4)
        "top_apps": "Conversation",
        # 10h, 16h, 01h, 03h, 02h: one each, the earliest
        "hourly_peak": "01h-02h",
        # Monday 1, 3; Sunday 16, 17, 18
        "weekly_peak": "Dimanche",
        # 21 lists c-2nde-a
        "activations": 1,
    }
    assert tiles(site, PREMIERE) == {
        # 1 and 19 (whose classes list c-1ere-b twice: once)
        "connections": 2,
        "unique_visitors": 1,
        "visits_per_visitor": 1.0,
        "top_apps": "Conversation",
        # 10h and 02h: the earliest
        "hourly_peak": "02h-03h",
        # Monday 1, Sunday 1: Monday first
        "weekly_peak": "Lundi",
        "activations": 0,
    }
    # c-hors-annuaire (line 20) is not in the snapshot: no pages; its access still counts for the lycée
    assert not (site / LYCEE / "classes" / "c-hors-annuaire").exists()
    assert not list(site.rglob("c-hors-annuaire"))


def test_build_report(site):
    report = json.loads((site / "build.json").read_text(encoding="utf-8"))
    # lines 11, 12, 13, 14, 15
    assert report["rejects_by_reason"] == {
        "bad_id": 1,
        "missing_id": 1,
        "missing_module": 1,
        "not_json": 1,
        "unknown_profile": 1,
    }
    # valid events inside 12months, once each: LOGIN as above; ACCESS 2, 4, 7, 20; ACTIVATION 6, 21;
    # GET_RESOURCE 8
    assert report["events_by_type"] == {"ACCESS": 4, "ACTIVATION": 2, "GET_RESOURCE": 1, "LOGIN": 9}
    assert report["entities"]["structures_not_in_snapshot"] == ["s-ecole-inconnue"]
    assert report["entities"]["classes_not_in_snapshot"] == ["c-hors-annuaire"]
    assert report["entities"]["structures"] == 3 and report["entities"]["classes"] == 2
