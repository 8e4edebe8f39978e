"""The columnar fast path of ingest (`parse_columns.parse_block`) against the reference, `parse.parse_line`:
for any block of lines, the same events in the same order and the same rejects (line, reason, raw text)."""

from __future__ import annotations

import json
import re
from hashlib import sha1

import numpy as np
import pyarrow as pa
import pytest
from conftest import import_attempts, reject_table
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz_parse import NOW, as_line, dated, json_values, near_valid

from pipeline import parse_columns, parse_rejects
from pipeline.exports import Block
from pipeline.parse import Event, parse_line


def reference(lines: list[bytes]) -> tuple[list[dict], list[tuple[int, str, str]]]:
    events, rejects = [], []
    for number, line in enumerate(lines, 1):
        result = parse_line(line, NOW)
        if type(result) is Event:
            events.append(result._asdict())
        else:
            rejects.append((number, result.reason, result.raw))
    return events, rejects


def as_rows(rejects: list[tuple[int, str, str]]) -> list[dict]:
    """The reference's rejects as the rows of a block's reject table (UTF-8 text, the digest of the text)."""
    return reject_table(rejects).to_pylist()


def assert_agrees(lines: list[bytes]) -> parse_columns.ParsedBlock:
    parsed = parse_columns.parse_block(Block.of("f.json", 1, lines), NOW)
    events, rejects = reference(lines)
    assert parsed.events.to_pylist() == events
    assert parsed.rejects.to_pylist() == as_rows(rejects)
    assert parsed.lines == len(lines)
    return parsed


def fast_path_takes(line: bytes) -> bool:
    """Whether the line is an event of the fast path, without parse_line."""
    table, (known_rejects, _reasons), slow = parse_columns._fast_events(
        [line], parse_columns._whole_lines_readable(line, [line]), NOW
    )
    return table.num_rows == 1 and not known_rejects and not slow


def line(**fields: object) -> bytes:
    document = {
        "_id": "e1",
        "event-type": "LOGIN",
        "module": "Auth",
        "date": 1774857600000,
        "userId": "u1",
        "profil": "Teacher",
        "structures": ["s1"],
        "classes": ["c1"],
        "ip": "203.0.113.7",
    }
    document.update(fields)
    kept = {k: v for k, v in document.items() if v is not ...}  # ...: the field is left out
    return json.dumps(kept, separators=(",", ":")).encode("utf-8", "surrogatepass")


ISO_TIMES = [
    "2026-03-30T10:00:00Z",
    "2026-03-30T10:00:00.5Z",
    "2026-03-30T10:00:00.123Z",
    "2026-03-30T10:00:00.123456Z",
    "2026-03-30T10:00:00.1234567Z",  # 7 digits: parse_line's to decide
    "2026-03-30T10:00:00+02:00",
    "2026-03-30T01:00:00.999-09:30",
    "2026-03-30T10:00:00+0200",
    "2026-03-30T10:00:00+24:00",
    "2026-03-30T10:00:00+05:60",
    "2026-03-30T10:00:00-00:00",
    "2026-03-30 10:00:00Z",
    "2026-03-30T10:00Z",
    "2026-03-30T10:00:00z",
    "2026-03-30T10:00:00",
    "2026-03-30",
    "2024-02-29T12:00:00Z",
    "2025-02-29T12:00:00Z",
    "2000-02-29T00:00:00Z",
    "2100-02-29T00:00:00Z",
    "2026-04-31T10:00:00Z",
    "2026-13-01T10:00:00Z",
    "2026-00-10T10:00:00Z",
    "2026-03-00T10:00:00Z",
    "2026-03-30T24:00:00Z",
    "2026-03-30T23:60:00Z",
    "2026-03-30T23:59:60Z",
    "1999-12-31T23:59:59.999Z",
    "2000-01-01T00:00:00.000Z",
    "2000-01-01T01:00:00+01:00",
    "0000-01-01T00:00:00Z",
    "2026-03-31T19:46:40Z",  # NOW + 1 day, just inside
    "2026-03-31T19:46:40.001Z",  # just past
    "٢٠٢٦-03-30T10:00:00Z",  # digits of another script
]


@pytest.mark.parametrize("text", ISO_TIMES)
def test_iso_dates(text):
    assert_agrees([line(date={"$date": text})])


def test_iso_digits_read_at_fixed_places_equal_the_patterns_groups():
    """Every number of mongoexport's four ISO forms, read at its fixed places, equals what DATE_ISO_FORM's
    groups read (random digits: impossible days, hours and offsets included)."""
    rng = np.random.default_rng(7)
    digits = [rng.integers(0, 10**width, 3000) for width in (4, 2, 2, 2, 2, 2, 3, 2, 2)]
    texts = [
        f'{{"$date":"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}'
        + (f".{f:03d}" if i % 2 else "")
        + ("Z" if i % 3 == 0 else f"{'+-'[i % 5 % 2]}{oh:02d}:{om:02d}")
        + '"}'
        for i, (y, mo, d, h, mi, s, f, oh, om) in enumerate(zip(*digits, strict=True))
    ]
    column = pa.array(texts, pa.large_string())
    assert all(re.fullmatch(parse_columns.DATE_ISO_FIXED, text) for text in texts)
    fixed = parse_columns._fixed_parts(column)
    by_pattern, matched = parse_columns._pattern_parts(column)
    assert matched.all()
    for name in parse_columns._ISO_PARTS:
        assert fixed[name].tolist() == by_pattern[name].tolist(), name


def test_iso_dates_of_every_form_in_one_block():
    """mongoexport's forms (their digits read at fixed places) among the others (read by the pattern's
    groups), valid and not: each line's time or reason is still its own."""
    texts = [f'{{"$date":"{text}"}}' for text in ISO_TIMES]
    fixed = [text for text in texts if re.fullmatch(parse_columns.DATE_ISO_FIXED, text)]
    assert 10 < len(fixed) < len(ISO_TIMES) - 5  # both readers have rows, valid and not
    assert_agrees([line(_id=f"e{i}", date={"$date": text}) for i, text in enumerate(ISO_TIMES * 2)])


@pytest.mark.parametrize(
    "date",
    [
        1774857600000,
        -1,
        0,
        946684800000,
        946684799999,
        2**63 - 1,
        2**63,
        10**18,
        {"$numberLong": "1774857600000"},
        {"$numberLong": "01774857600000"},
        {"$numberLong": "+1774857600000"},
        {"$numberLong": " 1774857600000"},
        {"$numberLong": "9223372036854775807"},
        {"$numberLong": "9223372036854775808"},
        {"$numberLong": 1774857600000},
        {"$date": {"$numberLong": "1774857600000"}},
        {"$date": {"$numberLong": "1774857600000"}, "x": 1},
        {"$date": 1774857600000},
        {"$numberLong": "1774857600000", "$date": "2026-03-30T10:00:00Z"},
        1774857600000.0,
        "1774857600000",
        None,
        ...,
        [1774857600000],
        {},
    ],
)
def test_date_forms(date):
    assert_agrees([line(date=date)])


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"_id": {"$oid": "65f0c1a2b3c4d5e6f7a8b9c0"}},
        {"_id": {"$oid": ""}},
        {"_id": {"$oid": "a", "x": 1}},
        {"_id": ""},
        {"_id": "a\\b"},
        {"_id": 'a"b'},
        {"_id": "é/ü ✓"},
        {"_id": 12},
        {"_id": None},
        {"_id": ...},
        {"event-type": "ACCESS"},
        {"event-type": "ACCESS", "module": ""},
        {"event-type": "ACCESS", "module": None},
        {"event-type": "ACCESS", "module": ...},
        {"event-type": "ACCESS", "module": 5},
        {"event-type": "GET_RESOURCE", "userId": ..., "profil": "Director", "module": ""},
        {"event-type": "SHARE", "userId": "", "profil": ""},
        {"event-type": "SHARE", "profil": 5},
        {"event-type": ""},
        {"event-type": None},
        {"event-type": "login"},
        {"userId": ""},
        {"userId": None},
        {"profil": "Director"},
        {"profil": ""},
        {"profil": None},
        {"structures": []},
        {"structures": None},
        {"structures": ...},
        {"structures": ["s1", "s2", "s1"]},
        {"classes": ["c1", "c1"]},
        {"structures": ["s 1"]},
        {"structures": [""]},
        {"structures": ["../etc"]},
        {"structures": ["é"]},
        {"structures": [1]},
        {"structures": [["s1"]]},
        {"structures": "s1"},
        {"classes": {"0": "c1"}},
        {"classes": ["a-b_C9", "Z"]},
    ],
)
def test_fields(fields):
    assert_agrees([line(**fields)])


@pytest.mark.parametrize("last", [b"", b'{"a":1}', b"\xff"])
def test_which_lines_are_whole_utf8_wherever_they_are_in_the_block(last: bytes):
    """Empty lines (first, between, last), bytes that are not UTF-8 and escaped surrogates, each on its own
    line: the mask is that of each line taken alone, the block's last line included."""
    lines = [b"", b'{"a":1}', b"\xff\xfe", b'{"a":"\\ud800"}', b"", b'{"b":"\xc3\xa9"}', b"\r", last]

    def alone(line: bytes) -> bool:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return line != b"" and b"\\ud8" not in line

    block = Block.of("events.json", 1, lines)
    found = parse_columns._whole_lines_readable(block.text, block.lines())
    assert found.tolist() == [alone(line) for line in lines]


def test_id_lists_of_every_form_no_id_an_empty_list_never_a_null():
    """Absent, null, [] and a text of another form are each an empty list (the lake holds no null list)."""
    texts = ["", "null", "[]", '["a"]', '["a","b-1"]', '["bad id"]', "[1]", '["a","a"]']
    found = parse_columns.id_lists(pa.array(texts, pa.large_string()))
    assert found.lists.to_pylist() == [[], [], [], ["a"], ["a", "b-1"], [], [], ["a", "a"]]
    assert found.lists.null_count == 0 and found.lists.type == pa.list_(pa.string())
    assert found.valid.tolist() == [True, True, True, True, True, False, False, True]
    assert found.strings.tolist() == [True, True, True, True, True, True, False, True]
    assert found.twice.tolist() == [False] * 7 + [True]


def test_ids_listed_twice_in_a_block_of_short_and_long_lists():
    """Only lists of two ids or more are looked at: the rows found must be those rows, wherever they are."""
    lists = [["s1"], [], ["s1", "s2", "s1"], None, ["s2"], ["s3", "s3"], ["s1", "s2"], ["s2", "s1"] * 2]
    twice = parse_columns._listed_twice(pa.array(lists, pa.list_(pa.string())))
    assert twice.tolist() == [False, False, True, False, False, True, False, True]
    assert not parse_columns._listed_twice(pa.array([["a"], ["b"]], pa.list_(pa.string()))).any()
    assert_agrees([line(_id=f"e{i}", structures=ids or [], classes=ids or []) for i, ids in enumerate(lists)])


def test_a_blocks_kept_rows_are_those_arrows_filter_keeps():
    """The filter that drops a block's rejects keeps what `Table.filter` keeps: lists of no, one or several
    ids, a null list, a column with nulls, and a table sliced out of a longer one (its offsets not from 0)."""
    lists = [["a"], [], ["b", "c", "d"], ["e"], [], ["f", "g"], ["h"], ["i", "j"]]
    longer = pa.table(
        {
            "id": [f"e{i}" for i in range(len(lists))],
            "module": ["m", None, "m", "", None, "m", "m", None],
            "structures": pa.array(lists, pa.list_(pa.string())),
            "classes": pa.array([ids or None for ids in lists], pa.list_(pa.string())),
        }
    )
    for table in (longer, longer.slice(2, 5)):
        table = table.combine_chunks()
        rows = np.arange(table.num_rows)
        for kept in (rows < 3, rows % 2 == 1):
            found = parse_columns._rows_kept(table, kept)
            assert found.equals(table.filter(pa.array(kept))), (table.num_rows, kept)
            assert found.column("structures").type == pa.list_(pa.string())


def test_raw_lines_the_fast_path_leaves_to_the_reference():
    lines = [
        b'{"_id":"a","_id":"b","event-type":"LOGIN","date":1774857600000,"userId":"u","profil":"Guest"}',
        b'{"_id":"a","event-type":"LOGIN","date":1774857600000,"userId":"u","profil":"Guest","x":"\xff"}',
        b'{"_id":"\xff","event-type":"LOGIN","date":1774857600000,"userId":"u","profil":"Guest"}',
        b'{"_id":"a","x":"\\ud800","event-type":"LOGIN","date":1774857600000,"userId":"u","profil":"Guest"}',
        b'{"_id":"a\\u0062","event-type":"LOGIN","date":1774857600000,"userId":"u","profil":"Guest"}',
        b'{"_id" : "sp", "event-type" : "LOGIN", "date" : { "$date" : "2026-03-30T10:00:00Z" },'
        b' "userId" : "u", "profil" : "Guest", "structures" : [ "s1" ]}',
        b"\xef\xbb\xbf" + line(),
        line() + b"\r",
        b"",
        b"   ",
        b"not json",
        b"[1,2]",
        b'{"_id":"big","event-type":"LOGIN","date":1774857600000,"userId":"u","profil":"Guest","n":1'
        + b"0" * 30
        + b"}",
        b'{"_id":"nan","event-type":"LOGIN","date":NaN,"userId":"u","profil":"Guest"}',
    ]
    assert_agrees(lines)


def test_common_forms_are_read_without_the_reference():
    """The forms of real exports never take the per-line path: that is what makes ingest fast."""
    for date in [
        1774857600000,
        {"$numberLong": "1774857600000"},
        {"$date": "2026-03-30T10:00:00.123+02:00"},
        {"$date": {"$numberLong": "1774857600000"}},
    ]:
        assert fast_path_takes(line(date=date))
    assert fast_path_takes(line(_id={"$oid": "65f0c1a2b3c4d5e6f7a8b9c0"}, structures=[], classes=...))
    assert fast_path_takes(line(**{"event-type": "GET_RESOURCE", "profil": "Director", "userId": ""}))
    assert not fast_path_takes(line(profil="Director"))  # a reject: its reason and raw text are parse_line's


def test_common_rejects_are_decided_without_the_reference(monkeypatch):
    """A reject of a known form costs no more than an event: its reason comes from the columns, in
    parse.validate's order, and only its raw text from the line; parse_line is never called."""
    lines = [
        line(profil="Director", ua="Mozilla/5.0", ratio=1e-07),  # raw text: json's 1e-07, not orjson's 1e-7
        line(profil=""),
        line(profil=None, structures="not a list"),  # the first failing check decides
        line(date={"$date": "1999-12-31T23:00:00Z"}),
        line(date=NOW + 2 * 86_400_000),
        line(date=None),
        line(date=..., userId=...),
        line(userId=..., profil="Director"),
        line(_id=...),
        line(**{"event-type": None}),
        line(**{"event-type": "ACCESS", "module": ""}),
        line(structures=["bad id", "s1"]),
        line(structures=None, classes=["c1", "x/y"]),
        line(ua="Mozilla/5.0"),  # a valid event beside them
    ]
    events, rejects = reference(lines)
    assert len(events) == 1 and len({reason for _n, reason, _raw in rejects}) == 10
    monkeypatch.setattr(parse_columns, "parse_line", lambda *_a: pytest.fail("parse_line was called"))
    parsed = parse_columns.parse_block(Block.of("f.json", 1, lines), NOW)
    assert parsed.events.to_pylist() == events and parsed.rejects.to_pylist() == as_rows(rejects)


def test_raw_texts_of_rejects_are_the_references(monkeypatch):
    """A reject's raw text, read by msgspec where it can, is the reference's to the byte: floats (which orjson
    writes unlike the standard encoder), integers at and past 64 bits, deep nesting, keys given twice."""
    deep: dict = {"leaf": [1, "x"]}
    for _ in range(300):
        deep = {"n": deep}
    body = line(profil="Director")[:-1]
    lines = [
        line(profil="Director", ratio=1e-07, ua="Mozilla/5.0"),
        line(profil="Director", nested={"x": [1, 2.5, {"y": 1e300}]}),
        line(profil="Director", big=2**64 - 1, small=-(2**63)),
        line(profil="Director", big=2**64),
        line(profil="Director", small=-(2**63) - 1),
        line(profil="Director", deep=deep),
        line(profil="Director", text='café \u2028 "quoted" \\ \n \x7f \x00'),
        body + b',"z":-0,"e":1E2}',
        body + b',"k":1,"ip":"203.0.113.8","k":[2],"ua":"x","ua":"y"}',
    ]
    events, rejects = reference(lines)
    assert not events and {reason for _n, reason, _raw in rejects} == {"unknown_profile"}
    assert all("203.0.113" not in raw and "Mozilla" not in raw for _n, _reason, raw in rejects)
    monkeypatch.setattr(parse_columns, "parse_line", lambda *_a: pytest.fail("parse_line was called"))
    parsed = parse_columns.parse_block(Block.of("f.json", 1, lines), NOW)
    assert parsed.rejects.to_pylist() == as_rows(rejects)


def test_a_blocks_rejects_are_written_back_at_once(monkeypatch):
    """The rejects of a block are read as JSON in one call, not line by line, whatever they hold beside
    the SPEC's fields (keys given twice, nested objects, text of any kind); the raw texts stay the
    reference's, in line order, with the lines that are not JSON among them."""
    body = line(profil="Director")[:-1]
    lines = [
        line(profil="Director", ua="Mozilla/5.0", groups=["g1"], sessionId=8812),
        line(date={"$date": "1999-12-31T23:00:00Z"}, nested={"a": [1, {"b": None}], "c": True}),
        line()[:-9],  # not JSON: its own text
        line(structures=["bad id"], text='café \u2028 "quoted" \\ \n \x7f'),
        body + b',"k":1,"ip":"203.0.113.8","k":[2],"ua":"x","ua":"y"}',
        b'{ "_id" : "e9", "event-type" : "LOGIN", "date" : -0, "ip" : "203.0.113.9" }',
        line(ua="Mozilla/5.0"),  # a valid event among them
    ]
    events, rejects = reference(lines)
    assert len(events) == 1 and len(rejects) == 6
    monkeypatch.setattr(parse_columns, "parse_line", lambda *_a: pytest.fail("parse_line was called"))
    monkeypatch.setattr(parse_rejects, "_raw_without_floats", lambda _l: pytest.fail("read line by line"))
    parsed = parse_columns.parse_block(Block.of("f.json", 1, lines), NOW)
    assert parsed.events.to_pylist() == events and parsed.rejects.to_pylist() == as_rows(rejects)


def test_one_reject_the_block_cannot_write_back_at_once_sends_each_to_its_own_reading(monkeypatch):
    """A float (which orjson writes unlike the reference) or an integer past 64 bits in one reject: the
    block's rejects are each read alone, and their raw texts are still the reference's."""
    read_alone: list[bytes] = []
    alone = parse_rejects._raw_without_floats
    monkeypatch.setattr(
        parse_rejects, "_raw_without_floats", lambda text: read_alone.append(text) or alone(text)
    )
    for odd in (line(profil="Director", ratio=0.1), line(profil="Director", big=2**64)):
        lines = [line(profil="Director", ua="Mozilla/5.0"), odd, line(_id=...), line()]
        events, rejects = reference(lines)
        read_alone.clear()
        parsed = parse_columns.parse_block(Block.of("f.json", 1, lines), NOW)
        assert parsed.events.to_pylist() == events and parsed.rejects.to_pylist() == as_rows(rejects)
        assert read_alone == lines[:3]


def test_a_block_is_parsed_with_no_python_value_given_to_arrow_to_type():
    lines = [line(), line(profil="Director"), line(date={"$date": "2026-03-01T10:00:00.123+02:00"})]
    lines += [line(structures=["s1", "s1"]), line(**{"event-type": "ACCESS"}, module=...), b"{cut"]
    parse_columns.parse_block(Block.of("f.json", 1, lines), NOW)  # what is imported once, imported
    with import_attempts("dateutil") as attempts:
        parsed = parse_columns.parse_block(Block.of("f.json", 1, lines), NOW)
    assert attempts == [] and parsed.events.num_rows == 3 and parsed.rejects.num_rows == 3


def test_each_line_keeps_its_place_when_msgspec_cannot_read_some():
    """msgspec is mapped over the whole block; each line it cannot read (first, last, several in a row)
    takes its place, and why is kept: cut short, malformed, or of another shape (`[1` is an array before it
    is cut short), and the lines after it are still read."""
    lines = [b"{", line(_id="e1"), b'{"_id":"e2","event-type":1}', b"x", b"[1", line(_id="e3"), b"{", b"}"]
    decoded, failed = parse_columns._decoded(lines)
    assert len(decoded) == len(lines)
    assert [bytes(decoded[row].event_id) for row in (1, 5)] == [b'"e1"', b'"e3"']
    cut, malformed, other = parse_columns.CUT_SHORT, parse_columns.MALFORMED, parse_columns.OTHER_SHAPE
    assert failed == {0: cut, 2: other, 3: malformed, 4: other, 6: cut, 7: malformed}


def test_lines_that_are_not_json_are_decided_without_the_reference(monkeypatch):
    """A line msgspec finds malformed is not JSON to the reference either: it is rejected without parse_line,
    with the line itself as its raw text (its `ip` included: it has no fields), and read once."""
    lines = [
        line()[:-9],  # cut short
        line()[:-1] + b',"x":',
        line() + b"x",
        line() + b" " + line(),
        line(ratio=0.5)[:-2] + b"e",
        b"mongoexport: connected to: localhost\r",
        b"   ",
        b"{",
        b'{"_id":"a",}',
        b'{"_id":"caf\xc3\xa9 ' + b"\xe2\x80\xa8" + b'"',  # whole UTF-8, cut short
        b'{"event-type":1,"x":',  # a type the fast path refuses comes first: read again to know it is cut
        line(),
    ]
    events, rejects = reference(lines)
    assert len(events) == 1 and {reason for _n, reason, _raw in rejects} == {"not_json"}
    monkeypatch.setattr(parse_columns, "parse_line", lambda *_a: pytest.fail("parse_line was called"))
    read_again = []
    malformed = parse_rejects._malformed
    monkeypatch.setattr(parse_rejects, "_malformed", lambda text: read_again.append(text) or malformed(text))
    parsed = parse_columns.parse_block(Block.of("f.json", 1, lines), NOW)
    assert parsed.events.to_pylist() == events and parsed.rejects.to_pylist() == as_rows(rejects)
    assert read_again == [b'{"event-type":1,"x":']  # the others: msgspec said malformed the first time


def test_what_only_the_standard_parser_takes_goes_to_the_reference(monkeypatch):
    """NaN, Infinity, a byte order mark and numbers past a double are JSON to the reference (its slow path),
    whole or cut short: those lines are its to decide, and a hex id is not taken for an exponent."""
    body = line()[:-1]
    malformed = [  # to msgspec, the fast path's reader
        body + b',"n":NaN}',
        body + b',"n":[1,-Infinity]}',
        body + b',"n":NaN',
        b"\xef\xbb\xbf" + line(),
        b"\xef\xbb\xbf" + line()[:-1],
    ]
    read = [body + b',"n":1E+400}', body + b',"n": 2.5e-999}', body + b',"n":' + b"7" * 400 + b"}"]
    cut_short = [  # read to the end by msgspec: not JSON to any parser, whatever came before the cut
        body + b',"n":[1E+400,',
        body + b',"n": 2.5e-999',
        body + b',"n":' + b"7" * 400,
    ]
    calls = []
    reference_line = parse_columns.parse_line
    monkeypatch.setattr(parse_columns, "parse_line", lambda *a: calls.append(a[0]) or reference_line(*a))
    parsed = assert_agrees(malformed + read + cut_short)
    assert calls == malformed
    assert parsed.rejects.to_pylist()[-3:] == [
        {"line": 9 + n, "reason": "not_json", "raw": text.decode(), "raw_sha1": sha1(text).hexdigest()}
        for n, text in enumerate(cut_short)
    ]
    hex_id = [line(_id="3e480")[:-1]]
    nothing = np.zeros(1, bool)
    assert parse_rejects.not_json(hex_id, np.ones(1, bool), nothing, nothing)[0]  # not an exponent


def test_a_broken_stream_is_one_more_line():
    parsed = parse_columns.parse_block(Block.of("f.json.gz", 7, [line()], broken=True), NOW)
    assert parsed.events.num_rows == 1 and parsed.lines == 2
    assert parsed.rejects.to_pylist() == as_rows([(8, "truncated_gzip", "")])


compact = st.booleans()
# 100 examples a test, drawn anew at each run: most are blocks of several lines (up to 5 to 8), each line
# checked against the reference (one line a block in test_any_fields_in_a_reject); the reference alone is
# fuzzed line by line, 250 to 400 examples a test, in test_fuzz_parse
BLOCKS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


SPOILS = [b"", b"x", b",", b"}", b"]", b" ", b'"', b"NaN", b"-Infinity", b"1e999", b"\xef\xbb\xbf", b"\\u"]


@BLOCKS
@given(
    st.lists(
        st.tuples(near_valid(), st.integers(0, 2000), st.sampled_from(SPOILS), st.booleans()), max_size=5
    )
)
def test_lines_cut_or_spoilt(cases):
    """Whatever the cut or the bytes put in, the fast path and the reference decide alike."""
    lines = []
    for document, at, spoil, rest in cases:
        text = json.dumps(document, separators=(",", ":")).encode("utf-8", "surrogatepass")
        at %= len(text) + 1
        lines.append(text[:at] + spoil + (text[at:] if rest else b""))
    assert_agrees(lines)


any_keys = st.text(max_size=4) | st.sampled_from(["ip", "ua", "date"])


@BLOCKS
@given(st.dictionaries(any_keys, json_values, max_size=5), compact)
def test_any_fields_in_a_reject(extra, tight):
    """Whatever a reject holds beside the SPEC's fields (any value, any key, `ip` and `ua` among them), its
    raw text is the reference's."""
    document = {**json.loads(line(profil="Director")), **extra}
    if tight:
        assert_agrees([json.dumps(document, separators=(",", ":")).encode("utf-8", "surrogatepass")])
    else:
        assert_agrees([as_line(document, False)])


@BLOCKS
@given(st.lists(st.tuples(near_valid(), compact), min_size=1, max_size=6))
def test_near_valid_events(documents):
    lines = [
        json.dumps(d, separators=(",", ":")).encode("utf-8", "surrogatepass") if tight else as_line(d, False)
        for d, tight in documents
    ]
    assert_agrees(lines)


@BLOCKS
@given(st.lists(dated, min_size=1, max_size=8))
def test_every_date_form_gives_its_time(dates):
    lines = [line(_id=f"d{i}", date=date) for i, (date, _ms) in enumerate(dates)]
    parsed = assert_agrees(lines)
    expected = [ms for date, ms in dates if parse_line(line(date=date), NOW).__class__ is Event]
    assert parsed.events.column("ts_ms").to_pylist() == expected


@BLOCKS
@given(st.lists(json_values, min_size=1, max_size=5))
def test_any_json_value_in_any_field(values):
    fields = ["_id", "event-type", "module", "date", "userId", "profil", "structures", "classes"]
    lines = [line(**{fields[i % len(fields)]: value}) for i, value in enumerate(values)]
    assert_agrees(lines)
