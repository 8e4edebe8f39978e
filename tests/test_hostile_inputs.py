"""Any bytes in, never a crash, nothing lost (SPEC 1.1, 3.4): each hostile file through the real `ingest.run`,
its report and its lake checked; `--max-reject-rate` through the command line.

Every physical line of a file is an event, a duplicate or a reject with a reason of parse.REJECT_REASONS;
the lake holds exactly the report's events and rejects; ingesting the same file again adds nothing.
"""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import event, write_directory, write_lines

import build
from pipeline import block_ring, ingest, lake, parse
from pipeline.exceptions import RejectRateError

ROOT = Path(__file__).resolve().parent.parent
NOW = 1_775_000_000_000  # 2026-04-01T00:53:20Z: the conftest events (March 2026) are in the past
MB = 1 << 20
IP = "203.0.113.77"


def good(_id: str, **extra) -> bytes:
    return json.dumps(event(_id=_id, **extra)).encode()


def raw_event(_id: str, date: str = "1774857600000", tail: str = "") -> bytes:
    """A LOGIN written by hand, for what json.dumps cannot: huge numbers, NaN, escapes, repeated keys."""
    text = f'{{"_id":{_id},"event-type":"LOGIN","date":{date},"userId":"u1","profil":"Teacher"{tail}}}'
    return text.encode()


def nested(depth: int) -> bytes:
    """`[[…]]` `depth` levels deep, as text: past ~1,000 levels Python's json can't read or write it."""
    return b"[" * depth + b"]" * depth


def with_field(line: bytes, name: str, value: bytes) -> bytes:
    return line[:-1] + f',"{name}":'.encode() + value + b"}"


def lines(*items: bytes) -> bytes:
    return b"".join(item + b"\n" for item in items)


def physical_lines(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


@dataclass
class Ingested:
    report: ingest.IngestReport
    events: dict[str, dict]  # event_id → row of the lake
    rejects: dict[int, dict]  # line number → row of the lake

    @property
    def reasons(self) -> dict[str, int]:
        return dict(self.report.rejects_new)


def ingest_file(path: Path, lake_dir: Path | None = None, workers: int | None = 1) -> Ingested:
    """Ingest `path` into a fresh lake, check that nothing is lost and that a second run adds nothing."""
    root = lake_dir or path.with_name(path.name + ".lake")
    report = ingest.run([path], root, now_ms=NOW, workers=workers)
    new_events, new_rejects = sum(report.events_new.values()), sum(report.rejects_new.values())
    assert report.lines == new_events + report.duplicates + new_rejects + report.rejects_known, report
    assert set(report.rejects_new) <= set(parse.REJECT_REASONS), report.rejects_new

    table = lake.read_days(root, lake.event_days(root))
    events = {row["event_id"]: row for row in table.to_pylist()}
    assert len(events) == table.num_rows == new_events
    reject_rows = lake.read_rejects(root).to_pylist()
    rejects = {row["line"]: row for row in reject_rows}
    assert len(rejects) == len(reject_rows) == new_rejects  # one row per rejected line
    assert all(1 <= n <= report.lines for n in rejects), sorted(rejects)
    assert {r["reason"] for r in reject_rows} == set(report.rejects_new)
    assert all(r["file_name"] == path.name and r["file"] == str(path) for r in reject_rows)

    again = ingest.run([path], root, now_ms=NOW, workers=workers)
    assert again.lines == report.lines and not again.events_new and not again.rejects_new
    assert again.duplicates == new_events + report.duplicates and again.rejects_known == new_rejects
    return Ingested(report, events, rejects)


def ingest_bytes(tmp_path: Path, name: str, data: bytes) -> Ingested:
    path = tmp_path / name
    path.write_bytes(data)
    result = ingest_file(path)
    if not name.endswith(".gz"):
        assert result.report.lines == physical_lines(data)
    return result


# Encodings -------------------------------------------------------------------------------------------
def test_invalid_utf8_lines_are_rejects_and_their_raw_line_loses_ip_and_ua(tmp_path):
    with_bad_ua = good("ua", ip=IP, ua="Mozilla/5.0 (X11; \x00)").replace(b"\\u0000", b"\xff\xfe")
    result = ingest_bytes(
        tmp_path,
        "utf8.json",
        lines(good("ok"), b'{"_id": "\xff\xfe", "event-type": "LOGIN"}', b"\xc3\x28", with_bad_ua),
    )
    assert list(result.events) == ["ok"]
    assert result.reasons == {parse.INVALID_UTF8: 3}
    assert result.rejects[3]["raw"] == "\ufffd("  # the line, bad bytes replaced, no line ending
    kept = json.loads(result.rejects[4]["raw"])  # it parses once the bad bytes are replaced: ip, ua dropped
    assert kept["_id"] == "ua" and "ip" not in kept and "ua" not in kept
    assert IP not in result.rejects[4]["raw"]


def test_lone_surrogate_escapes_are_rejects_not_a_crash_of_the_whole_run(tmp_path):
    # Before: the standard parser took `\ud800`, Arrow could not encode the event's id and the run died.
    result = ingest_bytes(
        tmp_path,
        "surrogates.json",
        lines(
            good("before"),
            raw_event(r'"\ud800"'),
            raw_event('"s2"', tail=r',"x":"\udc00 in a field nobody reads"'),
            raw_event('"s3"', tail=r',"module":"Blog","profil":"Director","y":"\udbff"'),
            raw_event(r'"pair\ud83d\ude00"'),  # a pair is one character: fine
            good("after"),
        ),
    )
    assert sorted(result.events) == ["after", "before", "pair😀"]
    assert result.reasons == {parse.INVALID_UTF8: 3}
    assert r"\ud800" in result.rejects[2]["raw"]  # kept as the escape it was, which UTF-8 can hold


def test_utf8_bom_at_the_start_of_the_file_and_of_a_concatenated_copy(tmp_path):
    bom = b"\xef\xbb\xbf"
    result = ingest_bytes(tmp_path, "bom.json", lines(bom + good("b1"), good("b2"), bom + good("b3")))
    assert sorted(result.events) == ["b1", "b2", "b3"] and not result.reasons  # before: b1, b3 not_json
    zipped = tmp_path / "bom.json.gz"
    zipped.write_bytes(gzip.compress(lines(bom + good("z1"), good("z2"))))
    assert sorted(ingest_file(zipped).events) == ["z1", "z2"]
    utf16 = ingest_bytes(tmp_path, "utf16.json", ("\ufeff" + json.dumps(event())).encode("utf-16-le"))
    assert not utf16.events and set(utf16.reasons) <= {parse.INVALID_UTF8, parse.NOT_JSON}


# Line endings ----------------------------------------------------------------------------------------
def test_crlf_endings_blank_lines_and_a_last_line_without_newline(tmp_path):
    data = b"\r\n".join([good("c1"), b"garbage", good("c2", profil="Director"), b"", b"  \t", good("c3")])
    result = ingest_bytes(tmp_path, "crlf.json", data)  # ends without a newline
    assert sorted(result.events) == ["c1", "c3"]
    assert result.reasons == {parse.NOT_JSON: 3, parse.UNKNOWN_PROFILE: 1}
    assert [result.rejects[n]["raw"] for n in (2, 4, 5)] == ["garbage", "", "  \t"]  # line endings dropped
    assert json.loads(result.rejects[3]["raw"])["profil"] == "Director"

    cut = ingest_bytes(tmp_path, "cut.json", lines(good("n1")) + b'{"_id": "n2", "event-ty')
    assert list(cut.events) == ["n1"] and cut.rejects[2]["reason"] == parse.NOT_JSON


def test_empty_files_plain_and_compressed(tmp_path):
    assert ingest_bytes(tmp_path, "empty.json", b"").report.lines == 0
    assert ingest_bytes(tmp_path, "empty.json.gz", gzip.compress(b"")).report.lines == 0
    one_newline = ingest_bytes(tmp_path, "newline.json", b"\n")
    assert one_newline.reasons == {parse.NOT_JSON: 1}


# Not JSON at all -------------------------------------------------------------------------------------
def test_a_png_and_random_binary_are_rejected_line_by_line(tmp_path):
    rng = random.Random(5)
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + rng.randbytes(40_000)
    for name, data in (("image.png", png), ("random.bin", rng.randbytes(200_000))):
        result = ingest_bytes(tmp_path, name, data)
        assert not result.events and result.report.lines > 100
        assert set(result.reasons) == {parse.INVALID_UTF8, parse.NOT_JSON}


def test_json_that_is_not_an_object(tmp_path):
    data = lines(b"[1, 2]", b'"a bare string"', b"null", b"123", b"true", b"[" + good("in-array") + b"]")
    result = ingest_bytes(tmp_path, "values.json", data)
    assert not result.events and result.reasons == {parse.NOT_JSON: 6}
    assert result.rejects[2]["raw"] == '"a bare string"'


def test_nul_bytes(tmp_path):
    result = ingest_bytes(
        tmp_path,
        "nul.json",
        lines(
            good("n1")[:-1] + b', "x": "a\x00b"}',  # a raw control character in a string: not JSON
            b"\x00",
            b"\x00" * 1000 + good("n2"),
            good("nul\x00id"),  # json.dumps writes \u0000: a valid string, and ids are not paths
            good("n3", structures=["s\x001"]),
        ),
    )
    assert list(result.events) == ["nul\x00id"]
    assert result.reasons == {parse.NOT_JSON: 3, parse.BAD_ID: 1}


# Sizes -----------------------------------------------------------------------------------------------
def test_lines_of_10_mb(tmp_path):
    padded = good("big", padding="p" * (10 * MB))
    result = ingest_bytes(tmp_path, "long.json", lines(good("l1"), padded, b"x" * (10 * MB), good("l2")))
    assert sorted(result.events) == ["big", "l1", "l2"]
    assert result.reasons == {parse.NOT_JSON: 1} and len(result.rejects[3]["raw"]) == 10 * MB


def test_deep_nesting(tmp_path):
    result = ingest_bytes(
        tmp_path,
        "deep.json",
        lines(
            b"[" * 100_000 + b"]" * 100_000,
            b'{"a":' * 100_000,
            # within orjson's 1,024 levels, past the standard encoder's: before, a RecursionError
            with_field(b'{"_id":"no-type"}', "a", nested(1020)),
            with_field(good("deep-ok"), "nested", nested(1020)),
            good("d1"),
        ),
    )
    assert sorted(result.events) == ["d1", "deep-ok"]
    assert result.reasons == {parse.NOT_JSON: 2, parse.MISSING_EVENT_TYPE: 1}
    assert result.rejects[3]["raw"].startswith('{"_id":"no-type","a":[[[[')


def test_huge_and_odd_numbers(tmp_path):
    nines = "9" * 5000
    result = ingest_bytes(
        tmp_path,
        "numbers.json",
        lines(
            raw_event('"h1"', date="1" + "0" * 400),
            raw_event('"h2"', date="1e999"),
            raw_event('"h3"', date="-0"),
            raw_event('"h4"', date="NaN"),
            raw_event('"h5"', date="Infinity"),
            raw_event('"h6"', date="-Infinity"),
            raw_event('"h7"', date=f'{{"$numberLong":"{nines}"}}'),  # before: ValueError, the run died
            raw_event('"h8"', date=nines),  # before: not_json
            raw_event('"h9"', date=str(2**64)),  # orjson reads it as a float, the standard parser as an int
            raw_event('"h10"', date=f'{{"$numberLong":"{2**63}"}}'),
            raw_event('"h11"', date="1774857600000.0"),
            raw_event('"ok1"', tail=f',"sessionId":{nines}'),  # a huge number where nobody reads it
            raw_event('"ok2"', tail=',"sessionId":1e999,"n":-0.0'),
            raw_event("1" + "0" * 400),
        ),
    )
    assert sorted(result.events) == ["ok1", "ok2"]
    assert result.reasons == {parse.BAD_DATE: 10, parse.DATE_BEFORE_2000: 1, parse.BAD_EVENT_ID: 1}
    assert result.rejects[3]["reason"] == parse.DATE_BEFORE_2000
    assert result.events["ok1"]["ts_ms"] == 1774857600000


def test_repeated_keys_the_last_one_counts_in_both_parsers(tmp_path):
    result = ingest_bytes(
        tmp_path,
        "keys.json",
        lines(
            b'{"_id":"k1","_id":"k2","event-type":"LOGIN","date":1774857600000,"userId":"u","profil":"Teacher"}',
            b'{"_id":"k3","event-type":"LOGIN","date":1774857600000,"date":"x","userId":"u","profil":"Teacher"}',
            raw_event('"k4"', tail=',"profil":"Director","profil":"Student","n":1e999'),  # standard parser
        ),
    )
    assert sorted(result.events) == ["k2", "k4"] and result.events["k4"]["profile"] == "Student"
    assert result.reasons == {parse.BAD_DATE: 1}


# Compressed files ------------------------------------------------------------------------------------
def gzipped_events(count: int) -> tuple[bytes, list[str]]:
    ids = [f"g{i:05d}" for i in range(count)]
    return gzip.compress(lines(*(good(i) for i in ids))), ids


def test_truncated_gzip_keeps_every_whole_line_before_the_break(tmp_path):
    data, ids = gzipped_events(3000)
    cut = data[: len(data) // 2]
    readable = zlib.decompressobj(wbits=31).decompress(cut)  # what any reader can get out of the cut file
    whole = readable.count(b"\n")
    assert 0 < whole < 3000
    result = ingest_bytes(tmp_path, "cut.json.gz", cut)
    assert sorted(result.events) == ids[:whole]  # every whole line before the break, none after
    assert result.reasons == {parse.TRUNCATED_GZIP: 1}
    assert list(result.rejects) == [whole + 1] and result.report.lines == whole + 1


@pytest.mark.parametrize(
    "name, damage",
    [
        ("header.json.gz", lambda data: data[:5]),
        ("magic.json.gz", lambda data: data[:2]),
        ("flipped.json.gz", lambda data: data[:200] + bytes(b ^ 0x55 for b in data[200:400]) + data[400:]),
        ("garbage-after.json.gz", lambda data: data + b"not gzip"),
    ],
)
def test_damaged_gzip_is_one_reject_after_what_could_be_read(tmp_path, name, damage):
    data, ids = gzipped_events(500)
    result = ingest_bytes(tmp_path, name, damage(data))
    assert result.reasons.get(parse.TRUNCATED_GZIP) == 1
    assert max(result.rejects) == result.report.lines  # the break is the last line counted
    assert set(result.events) <= set(ids)
    if name.startswith("garbage"):
        assert len(result.events) == 500


# Everything at once, over the forked workers ----------------------------------------------------------
HOSTILE_LINES = [
    b'{"_id":"\xff"}',
    raw_event(r'"\udfff"'),
    b"\xef\xbb\xbf" + good("bom"),
    b"[" * 5000,
    raw_event('"big"', date="1" + "0" * 400),
    raw_event('"nan"', date="NaN"),
    b"\x00",
    b'"just a string"',
    b'{"_id":"a","_id":"dup-key","event-type":"LOGIN","date":1774857600000,"userId":"u","profil":"Guest"}',
    good("crlf") + b"\r",
    with_field(good("deep"), "nested", nested(1010)),
    with_field(b'{"_id":"deep-reject"}', "x", nested(1010)),
    good("slash", structures=["../etc"]),
    good("valid"),
    good("valid"),  # a duplicate
]


@pytest.mark.parametrize(("chunk_lines", "slot_bytes"), [(4, None), (1, 400)])
def test_every_hostile_line_in_one_file_over_forked_workers(tmp_path, monkeypatch, chunk_lines, slot_bytes):
    """Blocks of 4 lines, each through the shared ring (pipeline.block_ring); then blocks of one line with
    slots of 400 bytes: 12 through the ring's 4 slots, wrapping round 3 times, and the 4 larger ones pickled.
    Either way, the same lake as one process's."""
    monkeypatch.setattr(ingest, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(ingest, "CHUNK_LINES", chunk_lines)
    if slot_bytes:
        monkeypatch.setattr(block_ring, "SLOT_BYTES", slot_bytes)
    path = tmp_path / "all.json"
    path.write_bytes(lines(*HOSTILE_LINES) + good("last"))
    one, two = (ingest_file(path, tmp_path / f"lake{w}", workers=w) for w in (1, 2))
    same = {"run_id": "", "seconds": 0}
    assert one.report.as_dict() | same == two.report.as_dict() | same
    assert one.events.keys() == two.events.keys() == {"bom", "dup-key", "crlf", "deep", "valid", "last"}
    reasons = [{n: r["reason"] for n, r in result.rejects.items()} for result in (one, two)]
    assert reasons[0] == reasons[1]
    assert one.report.duplicates == 1 and one.report.lines == len(HOSTILE_LINES) + 1


# --max-reject-rate -----------------------------------------------------------------------------------
def export_with_rejects(tmp_path: Path, total: int, bad: int, name: str = "night.json") -> Path:
    documents: list[dict | str] = [event(_id=f"r{i}") for i in range(total - bad)]
    for n in range(bad):
        documents.insert(5 + n, "not json" if n % 2 == 0 else event(_id=f"x{n}", profil="Director"))
    return write_lines(tmp_path / name, documents)


def invoke(*args: str):
    return CliRunner().invoke(build.cli, [str(a) for a in args])


def test_over_the_reject_rate_ingest_exits_1_after_writing_everything(tmp_path):
    export = export_with_rejects(tmp_path, total=50, bad=2)  # 4 %
    result = invoke("ingest", export, "--lake", tmp_path / "lake")
    assert result.exit_code == 1
    message = result.stderr
    assert message.startswith("Error: 2 of the 50 lines read were rejected (4.00%)")
    assert "over --max-reject-rate 1% (at most 0 lines): " in message
    assert "not_json 1" in message and "unknown_profile 1" in message
    assert f"{export} line 6: not_json" in message and f"{export} line 7: unknown_profile" in message
    rejects_file = next((tmp_path / "lake" / "rejects").glob("part-*.parquet"))
    assert str(rejects_file) in message and "raise --max-reject-rate" in message
    assert "rejected lines: 2" in result.stdout  # the report is printed first
    # the lake is written all the same
    assert lake.read_days(tmp_path / "lake", lake.event_days(tmp_path / "lake")).num_rows == 48
    assert sorted(lake.read_rejects(tmp_path / "lake").column("line").to_pylist()) == [6, 7]


def test_the_reject_rate_is_a_percentage_and_counts_only_new_rejects(tmp_path):
    export = export_with_rejects(tmp_path, total=100, bad=1)  # exactly 1 %: not over
    assert invoke("ingest", export, "--lake", tmp_path / "a").exit_code == 0
    assert invoke("ingest", export, "--lake", tmp_path / "b", "--max-reject-rate", "0.99").exit_code == 1
    again = invoke("ingest", export, "--lake", tmp_path / "b", "--max-reject-rate", "0.99")
    assert again.exit_code == 0 and "already kept by an earlier run" in again.stdout  # nothing new
    assert invoke("ingest", export, "--lake", tmp_path / "c", "--max-reject-rate", "0").exit_code == 1
    four = export_with_rejects(tmp_path, total=50, bad=2, name="four.json")
    assert invoke("ingest", four, "--lake", tmp_path / "d", "--max-reject-rate", "4").exit_code == 0
    out_of_range = invoke("ingest", export, "--lake", tmp_path / "e", "--max-reject-rate", "150")
    assert out_of_range.exit_code == 2 and "150" in out_of_range.stderr
    assert "1 means 1 %" in invoke("ingest", "--help").stdout


def test_over_the_reject_rate_nightly_exits_1_with_the_site_written(tmp_path):
    export = export_with_rejects(tmp_path, total=40, bad=2)
    site, directory = tmp_path / "site", write_directory(tmp_path / "dir")
    args = ["nightly", export, "--directory", directory, "--as-of", "2026-03-31"]
    result = invoke(*args, "--lake", tmp_path / "lake", "--out", site)
    assert result.exit_code == 1, result.output
    assert "2 of the 40 lines read were rejected (5.00%)" in result.stderr
    assert (site / "platform" / "index.html").is_file()
    report = json.loads((site / "build.json").read_text(encoding="utf-8"))
    assert report["ingest"]["rejects_new"] == {"not_json": 1, "unknown_profile": 1}
    under = invoke(*args, "--lake", tmp_path / "lake2", "--out", tmp_path / "site2", "--max-reject-rate", "5")
    assert under.exit_code == 0, under.output


def test_check_reject_rate_alone():
    report = ingest.IngestReport(run_id="r", lines=0)
    ingest.check_reject_rate(report, 0)  # nothing read, nothing to say
    report.lines, report.rejects_new["bad_date"] = 1000, 11
    ingest.check_reject_rate(report, 1.1)
    over = r"11 of the 1000 lines.* \(1\.10%\), over --max-reject-rate 1%"
    with pytest.raises(RejectRateError, match=over):
        ingest.check_reject_rate(report, 1)
    with pytest.raises(RejectRateError, match="LAKE/rejects/"):  # no file named: the folder is
        ingest.check_reject_rate(report, 1)


def test_a_hostile_file_through_the_command_line(tmp_path):
    png = tmp_path / "logo.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + random.Random(9).randbytes(20_000))
    result = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "ingest", str(png), "--lake", str(tmp_path / "l"), "--json"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["events_new"] == {} and sum(report["rejects_new"].values()) == report["lines"] > 10
    assert "(100.00%)" in result.stderr and "Traceback" not in result.stderr
    kept = invoke("ingest", png, "--lake", tmp_path / "lake2", "--max-reject-rate", "100")
    assert kept.exit_code == 0 and "invalid_utf8" in kept.stdout
