"""The synthetic ENT of pipeline.demo_data: deterministic, splittable by day, in the real export format."""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline import demo_data
from pipeline.constants import ENT_PROFILES, ID_ALPHABET_PATTERN
from pipeline.directory import read_users

PARIS = ZoneInfo("Europe/Paris")
ID_RE = re.compile(ID_ALPHABET_PATTERN)
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
OID_RE = re.compile(r"^[0-9a-f]{24}$")
NOV_FIRST, NOV_LAST = (
    date(2025, 11, 3),
    date(2025, 11, 23),
)  # three school weeks, with 11 Nov (public holiday)


def read_lines(paths: list[Path]) -> list[str]:
    lines: list[str] = []
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            lines.extend(f.read().splitlines())
    return lines


def date_form(value: object) -> tuple[str, int]:
    """(form name, epoch ms) of a `date` field, for the forms of SPEC 1.1."""
    if isinstance(value, int):
        return "int", value
    assert isinstance(value, dict) and len(value) == 1
    if "$numberLong" in value:
        return "numberLong", int(value["$numberLong"])
    inner = value["$date"]
    if isinstance(inner, dict):
        return "date-numberLong", int(inner["$numberLong"])
    parsed = datetime.fromisoformat(inner)
    assert parsed.tzinfo is not None
    return ("iso-z" if inner.endswith("Z") else "iso-offset"), int(parsed.timestamp() * 1000)


def classify(lines: list[str]) -> dict[str, list]:
    """Split lines into valid events and the defects the generator plants."""
    out: dict[str, list] = {"valid": [], "truncated": [], "director": [], "no_module": [], "duplicate": []}
    seen: set[str] = set()
    for line in lines:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            out["truncated"].append(line)
            continue
        key = json.dumps(event["_id"], sort_keys=True)
        if key in seen:
            out["duplicate"].append(event)
            continue
        seen.add(key)
        if event.get("profil") == "Director":
            out["director"].append(event)
        elif event["event-type"] == "ACCESS" and "module" not in event:
            out["no_module"].append(event)
        else:
            out["valid"].append(event)
    return out


def generate(out: Path, first: date, last: date) -> dict[str, list]:
    return classify(read_lines(demo_data.write_events(out, first, last)))


def local_day(event: dict) -> date:
    return datetime.fromtimestamp(date_form(event["date"])[1] / 1000, PARIS).date()


@pytest.fixture(scope="module")
def november(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list]:
    out = tmp_path_factory.mktemp("nov")
    paths = demo_data.write_events(out, NOV_FIRST, NOV_LAST)
    assert [p.name for p in paths] == ["events-2025-11.json.gz"]
    return classify(read_lines(paths))


def test_directory_snapshot(tmp_path: Path) -> None:
    assert demo_data.write_directory(tmp_path) == tmp_path
    with open(tmp_path / "structures.csv", encoding="utf-8", newline="") as f:
        structures = list(csv.reader(f))
    with open(tmp_path / "classes.csv", encoding="utf-8", newline="") as f:
        classes = list(csv.reader(f))
    assert structures[0] == ["id", "uai", "name"]
    assert classes[0] == ["id", "structure_id", "name"]
    ids = [row[0] for row in structures[1:]]
    kinds = Counter(i.split("-")[1] for i in ids)
    assert kinds == {"ecole": 6, "college": 5, "lycee": 4}
    assert len(set(ids)) == len(ids) and all(ID_RE.match(i) for i in ids)
    assert all(re.fullmatch(r"\d{7}[A-Z]", row[1]) for row in structures[1:])
    names = [row[2] for row in structures[1:]]
    assert any("," in n and "é" in n for n in names)
    assert 'Lycée "Arts & Métiers" <Pilote>' in names
    class_ids = [row[0] for row in classes[1:]]
    assert len(set(class_ids)) == len(class_ids) and all(ID_RE.match(i) for i in class_ids)
    assert {row[1] for row in classes[1:]} == set(ids)
    assert {"CP", "CM2", "6e A", "3e B", "2nde A", "Tle B"} <= {row[2] for row in classes[1:]}
    assert demo_data.UNKNOWN_STRUCTURE_ID not in ids
    assert demo_data.UNKNOWN_CLASS_ID not in class_ids


def test_deterministic(tmp_path: Path) -> None:
    first, last = date(2025, 11, 27), date(2025, 12, 2)
    a = demo_data.write_events(tmp_path / "a", first, last)
    b = demo_data.write_events(tmp_path / "b", first, last)
    c = demo_data.write_events(tmp_path / "c", first, last, seed=8)
    assert [p.name for p in a] == ["events-2025-11.json.gz", "events-2025-12.json.gz"]
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert [p.read_bytes() for p in a] != [p.read_bytes() for p in c]
    demo_data.write_directory(tmp_path / "d1")
    demo_data.write_directory(tmp_path / "d2")
    for name in ("structures.csv", "classes.csv"):
        assert (tmp_path / "d1" / name).read_bytes() == (tmp_path / "d2" / name).read_bytes()


def test_day_split_gives_the_same_events(tmp_path: Path) -> None:
    # crosses the change to winter time (26 Oct) and a month boundary
    first, last = date(2025, 10, 24), date(2025, 11, 2)
    whole = read_lines(demo_data.write_events(tmp_path / "range", first, last))
    by_day: list[str] = []
    day = first
    while day <= last:
        paths = demo_data.write_events(tmp_path / "days", day, day)
        assert [p.name for p in paths] == [f"events-{day.isoformat()}.json.gz"]
        by_day.extend(read_lines(paths))
        day += timedelta(days=1)
    assert whole and whole == by_day
    # every event falls on its local day, in the range
    for event in classify(whole)["valid"]:
        assert first <= local_day(event) <= last
    # "the range minus its last day" + "the last day" = "the range"
    head = read_lines(demo_data.write_events(tmp_path / "head", first, last - timedelta(days=1)))
    tail = read_lines(demo_data.write_events(tmp_path / "tail", last, last))
    assert head + tail == whole


def test_events_have_the_fields_of_the_spec(november: dict[str, list]) -> None:
    valid = november["valid"]
    assert len(valid) > 10_000
    forms: Counter[str] = Counter()
    for event in valid:
        ident = event["_id"]
        if isinstance(ident, str):
            assert UUID_RE.match(ident)
        else:
            assert set(ident) == {"$oid"} and OID_RE.match(ident["$oid"])
        assert isinstance(event["event-type"], str)
        form, ms = date_form(event["date"])
        forms[form] += 1
        assert NOV_FIRST <= datetime.fromtimestamp(ms / 1000, PARIS).date() <= NOV_LAST
        for key in ("structures", "classes"):
            ids = event.get(key, [])
            assert isinstance(ids, list) and all(isinstance(i, str) and ID_RE.match(i) for i in ids)
        assert event["structures"]
        if event["event-type"] in ("LOGIN", "ACCESS", "ACTIVATION"):
            assert event["profil"] in ENT_PROFILES
            assert isinstance(event["userId"], str) and ID_RE.match(event["userId"])
            assert isinstance(event["module"], str)
        if "ip" in event:
            assert event["ip"].startswith(("203.0.113.", "198.51.100."))
    assert set(forms) == {"int", "numberLong", "iso-z", "iso-offset", "date-numberLong"}
    assert forms["iso-offset"] > 100 and forms["iso-z"] > 100
    assert sum(isinstance(e["_id"], dict) for e in valid) > 100
    types = Counter(e["event-type"] for e in valid)
    assert types["ACCESS"] > types["LOGIN"] > 5 * (types["GET_RESOURCE"] + types["SESSION_TIMEOUT"])
    assert types["GET_RESOURCE"] > 0 and types["SESSION_TIMEOUT"] > 0 and types["ACTIVATION"] > 0
    modules = Counter(e["module"] for e in valid if e["event-type"] == "ACCESS")
    assert {"Conversation", "Pronote", "Workspace", "Cahier de textes", "Mediacentre"} <= set(modules)
    structures = {s for e in valid for s in e["structures"]}
    classes = {c for e in valid for c in e.get("classes", [])}
    assert demo_data.UNKNOWN_STRUCTURE_ID in structures and demo_data.UNKNOWN_CLASS_ID in classes
    assert any(len(e["structures"]) != len(set(e["structures"])) for e in valid)  # an id listed twice


def test_planted_defects(november: dict[str, list]) -> None:
    # days 5 and 19: a duplicate line; 11: unknown profil; 17: ACCESS without module; 23: a truncated line
    assert len(november["duplicate"]) == 2
    assert len(november["director"]) == 1
    assert len(november["no_module"]) == 1
    assert len(november["truncated"]) == 1


def test_profile_shares() -> None:
    accounts = demo_data._expected_accounts()
    total = sum(accounts.values())
    assert 3_800 <= total <= 4_300
    targets = {"Student": 0.55, "Relative": 0.30, "Teacher": 0.09, "Personnel": 0.04, "Guest": 0.02}
    for profile, share in targets.items():
        assert abs(accounts[profile] / total - share) < 0.02, (profile, accounts[profile] / total)
    pop = demo_data._population(7)
    profiles_of: dict[int, set[int]] = {}
    for user, prof in zip(pop.role_user.tolist(), pop.role_prof.tolist(), strict=True):
        profiles_of.setdefault(user, set()).add(prof)
    assert sum(len(p) == 2 for p in profiles_of.values()) == 5


def test_rhythms(november: dict[str, list]) -> None:
    logins = [e for e in november["valid"] if e["event-type"] == "LOGIN"]
    per_day = Counter(local_day(e) for e in logins)
    weekdays = [n for d, n in per_day.items() if d.weekday() < 5 and d != date(2025, 11, 11)]
    weekends = [n for d, n in per_day.items() if d.weekday() >= 5]
    assert sum(weekdays) / len(weekdays) > 2 * sum(weekends) / len(weekends)
    assert per_day[date(2025, 11, 11)] < min(weekdays)  # Armistice
    hours = Counter(
        datetime.fromtimestamp(date_form(e["date"])[1] / 1000, PARIS).hour
        for e in logins
        if local_day(e).weekday() < 5
    )
    assert hours[7] > hours[10] and hours[18] > hours[15] and hours[12] > hours[11]
    assert hours[3] * 20 < hours[18]
    parents = Counter(
        datetime.fromtimestamp(date_form(e["date"])[1] / 1000, PARIS).hour
        for e in logins
        if e["profil"] == "Relative"
    )
    assert max(parents, key=parents.__getitem__) >= 18
    afternoon = Counter(
        local_day(e)
        for e in logins
        if 13 <= datetime.fromtimestamp(date_form(e["date"])[1] / 1000, PARIS).hour < 17
    )
    wednesdays = [n for d, n in afternoon.items() if d.weekday() == 2]
    thursdays = [n for d, n in afternoon.items() if d.weekday() == 3]
    assert max(wednesdays) < 0.7 * min(thursdays)  # quiet Wednesday afternoons


def test_holidays_are_quiet(tmp_path: Path) -> None:
    school = generate(tmp_path / "a", date(2025, 12, 15), date(2025, 12, 16))
    noel = generate(tmp_path / "b", date(2025, 12, 29), date(2025, 12, 30))
    assert len(noel["valid"]) * 3 < len(school["valid"])


def test_activations_mostly_in_september(tmp_path: Path) -> None:
    sept = generate(tmp_path / "sep", date(2025, 9, 1), date(2025, 9, 7))
    nov = generate(tmp_path / "nov", date(2025, 11, 3), date(2025, 11, 16))

    def activations(events: list[dict]) -> list[dict]:
        return [e for e in events if e["event-type"] == "ACTIVATION"]

    assert len(activations(sept["valid"])) > 5 * len(activations(nov["valid"])) > 0
    users = [e["userId"] for e in activations(sept["valid"]) + activations(nov["valid"])]
    assert len(users) == len(set(users))  # each account activated once


def test_write_demo_inputs(tmp_path: Path) -> None:
    inputs = demo_data.write_demo_inputs(tmp_path, date(2025, 11, 28), date(2025, 12, 1))
    assert isinstance(inputs, demo_data.DemoInputs)
    assert inputs.directory == tmp_path / "directory"
    assert (inputs.directory / "structures.csv").exists() and (inputs.directory / "classes.csv").exists()
    assert (inputs.directory / "users.csv").exists()
    assert [p.name for p in inputs.event_files] == ["events-2025-11.json.gz", "events-2025-12.json.gz"]
    assert all(p.parent == tmp_path / "exports" for p in inputs.event_files)
    with pytest.raises(ValueError):
        demo_data.write_events(tmp_path, date(2025, 12, 2), date(2025, 12, 1))


def test_users_csv_lists_this_school_years_accounts(tmp_path: Path, november: dict[str, list]) -> None:
    demo_data.write_directory(tmp_path)
    users = read_users(tmp_path)  # valid: read_users raises on any malformed row
    assert users is not None and len(users) == sum(demo_data._expected_accounts().values()) - 5  # dual: once
    with open(tmp_path / "users.csv", encoding="utf-8", newline="") as f:
        assert next(csv.reader(f)) == ["id", "profile", "structures", "classes", "functions"]
    with open(tmp_path / "structures.csv", encoding="utf-8", newline="") as f:
        structure_ids = {row["id"] for row in csv.DictReader(f)}
    with open(tmp_path / "classes.csv", encoding="utf-8", newline="") as f:
        class_of = {row["id"]: row["structure_id"] for row in csv.DictReader(f)}
    # the users.csv of the demo's day holds the userIds of November 2025's events (the same school year)
    profiles = {(e["userId"], e["profil"]) for e in november["valid"] if "userId" in e}
    assert {uid for uid, _ in profiles} <= set(users)
    assert sum(users[uid].profile != profile for uid, profile in profiles) <= 5  # teachers who are parents
    # functions: an ADML Personnel in every structure, the director of every école too; one super admin
    adml = [u for u in users.values() if "ADML" in u.functions]
    assert {s for u in adml if u.profile == "Personnel" for s in u.structures} == structure_ids
    assert sorted(s for u in adml if u.profile == "Teacher" for s in u.structures) == sorted(
        s for s in structure_ids if s.startswith("s-ecole-")
    )
    assert [u.profile for u in users.values() if "SUPER_ADMIN" in u.functions] == ["Personnel"]
    for u in users.values():
        if u.profile == "Teacher" and demo_data.UNKNOWN_STRUCTURE_ID not in u.structures:
            assert u.classes and {class_of[c] for c in u.classes} <= set(u.structures), u
        if u.profile in ("Personnel", "Guest"):
            assert len(u.structures) == 1 and not u.classes, u
        if u.profile == "Student":
            assert len(u.structures) == 1 and len(u.classes) == 1, u
    # seeded: the same file again; a later school year renews some accounts
    demo_data.write_directory(tmp_path / "again")
    assert (tmp_path / "again" / "users.csv").read_bytes() == (tmp_path / "users.csv").read_bytes()
    demo_data.write_directory(tmp_path / "next", as_of=date(2026, 9, 30))
    later = read_users(tmp_path / "next")
    assert len(later) == len(users) and 0 < len(set(later) - set(users)) < len(users) // 2
