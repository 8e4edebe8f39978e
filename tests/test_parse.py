"""SPEC 1.1 line by line: every `date` and `_id` form, every reject reason."""

from __future__ import annotations

import json

import pytest

from pipeline import parse
from pipeline.parse import Event, Reject, parse_date, parse_line

NOW = 1_774_900_000_000  # 2026-03-30T19:46:40Z
BASE = {
    "_id": "e1",
    "event-type": "LOGIN",
    "date": 1774857600000,
    "userId": "u1",
    "profil": "Teacher",
    "structures": ["s1"],
    "classes": ["c1"],
}


def line(**changes) -> str:
    document = {**BASE, **changes}
    return json.dumps({k: v for k, v in document.items() if v is not ...})


@pytest.mark.parametrize(
    "value, expected",
    [
        (1774857600000, 1774857600000),
        ({"$numberLong": "1774857600000"}, 1774857600000),
        ({"$date": "2026-03-30T08:00:00Z"}, 1774857600000),
        ({"$date": "2026-03-30T08:00:00.123Z"}, 1774857600123),
        ({"$date": "2026-03-30T10:00:00+02:00"}, 1774857600000),
        ({"$date": "2026-03-30T10:00:00.5+0200"}, 1774857600500),
        ({"$date": "2026-03-30T06:30:00-01:30"}, 1774857600000),
        ({"$date": "2026-03-30T08:00:00.123456789Z"}, 1774857600123),
        ({"$date": {"$numberLong": "1774857600000"}}, 1774857600000),
    ],
)
def test_every_date_form_gives_epoch_ms(value, expected):
    assert parse_date(value) == expected
    result = parse_line(line(date=value), NOW)
    assert isinstance(result, Event) and result.ts_ms == expected


@pytest.mark.parametrize(
    "value",
    [
        "1774857600000",
        1774857600000.0,
        True,
        {"$date": "2026-03-30T08:00:00"},
        {"$date": "2026-03-30"},
        {"$date": "yesterday"},
        {"$numberLong": "12x"},
        {"$numberLong": "--5"},
        {"$numberLong": "-"},
        {"$numberLong": "١٢"},
        {"$numberLong": 1774857600000},
        {"$date": 1774857600000},
        {"$date": {"$numberLong": "1"}, "extra": 1},
        [1774857600000],
    ],
)
def test_other_date_forms_are_rejected(value):
    # README "Reject reasons": a `date` present but not one of the forms of SPEC 1.1 is `bad_date`
    result = parse_line(line(date=value), NOW)
    assert isinstance(result, Reject)
    assert result.reason == parse.BAD_DATE


def test_null_date_is_missing():
    # `null` is read as absent (as the README says of `structures`/`classes`): `missing_date`, "no `date`"
    assert parse_line(line(date=None), NOW).reason == parse.MISSING_DATE
    assert parse_line(line(date=...), NOW).reason == parse.MISSING_DATE


def test_date_bounds():
    assert parse_line(line(date={"$date": "1999-12-31T23:59:59.999Z"}), NOW).reason == parse.DATE_BEFORE_2000
    assert isinstance(parse_line(line(date={"$date": "2000-01-01T00:00:00Z"}), NOW), Event)
    assert isinstance(parse_line(line(date=NOW + 86_400_000), NOW), Event)
    assert parse_line(line(date=NOW + 86_400_001), NOW).reason == parse.DATE_IN_FUTURE


def test_object_id_and_uuid_forms():
    assert (
        parse_line(line(_id={"$oid": "65f0c1a2b3c4d5e6f7a8b9c0"}), NOW).event_id == "65f0c1a2b3c4d5e6f7a8b9c0"
    )
    assert parse_line(line(_id="6f1c2a1e-5d3f-4c1a-9b8e-2f6a7c9d0e11"), NOW).event_id.startswith("6f1c")
    assert parse_line(line(_id=12), NOW).reason == parse.BAD_EVENT_ID


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"_id": ...}, parse.MISSING_ID),
        ({"event-type": ...}, parse.MISSING_EVENT_TYPE),
        ({"date": ...}, parse.MISSING_DATE),
        ({"userId": ...}, parse.MISSING_USER_ID),
        ({"userId": ""}, parse.MISSING_USER_ID),
        ({"profil": ...}, parse.MISSING_PROFILE),
        ({"profil": "Director"}, parse.UNKNOWN_PROFILE),
        ({"profil": "teacher"}, parse.UNKNOWN_PROFILE),
        ({"event-type": "ACCESS", "module": ...}, parse.MISSING_MODULE),
        ({"event-type": "ACTIVATION", "userId": ...}, parse.MISSING_USER_ID),
        ({"structures": "s1"}, parse.BAD_STRUCTURES),
        ({"structures": ["s1", 2]}, parse.BAD_STRUCTURES),
        ({"classes": {"c": 1}}, parse.BAD_CLASSES),
        ({"structures": ["../../etc"]}, parse.BAD_ID),
        ({"classes": ["c 1"]}, parse.BAD_ID),
        ({"structures": ["é"]}, parse.BAD_ID),
        ({"structures": [""]}, parse.BAD_ID),
    ],
)
def test_each_reject_reason(changes, reason):
    result = parse_line(line(**changes), NOW)
    assert isinstance(result, Reject)
    assert result.reason == reason
    assert result.reason in parse.REJECT_REASONS


@pytest.mark.parametrize(
    "text", ['{"_id": "x", "event-type": ', "not json", "[1, 2]", '"a string"', "", "null"]
)
def test_lines_that_are_not_json_objects(text):
    assert parse_line(text, NOW) == Reject(parse.NOT_JSON, text)


def test_invalid_utf8_is_a_reject_not_a_crash():
    result = parse_line(b'{"_id": "\xff\xfe"}', NOW)
    assert result.reason == parse.INVALID_UTF8


def test_other_event_types_check_only_ids_date_and_arrays():
    kept = parse_line(json.dumps({"_id": "g1", "event-type": "GET_RESOURCE", "date": 1774857600000}), NOW)
    assert isinstance(kept, Event) and kept.user_id is None and kept.structures == []
    odd_profile = parse_line(line(**{"event-type": "SHARE", "profil": "Director"}), NOW)
    assert isinstance(odd_profile, Event) and odd_profile.profile is None
    assert parse_line(line(**{"event-type": "SHARE", "structures": ["a/b"]}), NOW).reason == parse.BAD_ID


def test_repeated_ids_in_arrays_count_once_and_absent_arrays_are_empty():
    result = parse_line(line(structures=["s1", "s2", "s1"], classes=["c1", "c1"]), NOW)
    assert result.structures == ["s1", "s2"] and result.classes == ["c1"]
    assert parse_line(line(structures=..., classes=...), NOW).structures == []


def test_reject_raw_line_drops_ip_and_ua_but_keeps_the_rest():
    result = parse_line(line(profil="Director", ip="203.0.113.7", ua="Mozilla/5.0", referer="https://x"), NOW)
    kept = json.loads(result.raw)
    assert "ip" not in kept and "ua" not in kept
    assert kept["referer"] == "https://x" and kept["profil"] == "Director"


def test_odd_json_values_are_rejects_or_events_never_crashes():
    assert parse_line(line(profil=["Teacher"]), NOW).reason == parse.UNKNOWN_PROFILE
    assert parse_line(line(**{"event-type": ["LOGIN"]}), NOW).reason == parse.MISSING_EVENT_TYPE
    huge = line(sessionId=10**40)  # past what orjson takes: the standard parser reads it
    assert isinstance(parse_line(huge, NOW), Event)
    # README: an integer outside the 64-bit range of BSON dates is `bad_date` (not `date_in_future`)
    assert parse_line(line(date=10**40), NOW).reason == parse.BAD_DATE
    assert parse_line(line(date=2**63), NOW).reason == parse.BAD_DATE
    assert parse_line(line(date=-(2**63) - 1), NOW).reason == parse.BAD_DATE
    assert parse_line(line(date=2**63 - 1), NOW).reason == parse.DATE_IN_FUTURE  # inside the range
    assert parse_line(line(date={"$numberLong": str(10**40)}), NOW).reason == parse.BAD_DATE
    minus_zero = line().replace('"date": 1774857600000', '"date": -0')  # json.dumps(-0) would write 0
    assert '"date": -0,' in minus_zero and parse_line(minus_zero, NOW).reason == parse.DATE_BEFORE_2000
    deep = '{"_id": "x", "a": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert parse_line(deep, NOW).reason == parse.NOT_JSON
    assert parse_line('{"_id": "x", "event-type": "LOGIN", "date": NaN}', NOW).reason == parse.BAD_DATE
