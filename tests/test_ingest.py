"""SPEC 1.1 and 3.4 at the file level: dedup within and across files and runs, rejects kept once, gzip."""

from __future__ import annotations

import gzip
import json
import random
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import event, write_lines

from pipeline import exports, ingest, lake, parse
from pipeline.exceptions import InputFileError


def all_events(root):
    return lake.read_days(root, lake.event_days(root))


def test_duplicate_ids_count_once_within_a_file_across_files_and_runs(tmp_path):
    a, b, c = event(_id="a"), event(_id="b"), event(_id="c")
    first = write_lines(tmp_path / "one.json", [a, b, a])
    second = write_lines(tmp_path / "two.json", [b, c])
    report = ingest.run([first, second], tmp_path / "lake")
    assert sum(report.events_new.values()) == 3 and report.duplicates == 2
    again = ingest.run([first, second], tmp_path / "lake")
    assert sum(again.events_new.values()) == 0 and again.duplicates == 5
    assert sorted(all_events(tmp_path / "lake").column("event_id").to_pylist()) == ["a", "b", "c"]


def _ids_with_copies(seed: int) -> pa.ChunkedArray:
    """Ids in three chunks, a fifth of them copies of an earlier or a later one, some the empty text."""
    rng = random.Random(seed)
    ids = [uuid.UUID(int=rng.getrandbits(128)).hex[: rng.choice((1, 2, 32))] for _ in range(600)] + [""]
    ids += [rng.choice(ids) for _ in range(150)]
    rng.shuffle(ids)
    return pa.chunked_array([ids[:100], ids[100:400], ids[400:]], pa.string())


def _refused(_ids):
    raise AssertionError("a dictionary of every id")


@pytest.mark.parametrize("seed", range(4))
def test_the_first_of_each_id_by_hash_is_the_first_by_value(seed):
    ids = _ids_with_copies(seed)
    exact = [value not in ids.to_pylist()[:row] for row, value in enumerate(ids.to_pylist())]
    hashes = np.concatenate([ingest.id_hashes(chunk) for chunk in ids.chunks])
    assert ingest.first_of_each_id(ids).tolist() == exact
    with pytest.MonkeyPatch.context() as patch:  # no collision: no id compared but those sharing a hash
        patch.setattr(ingest, "_first_of_each_id_exactly", _refused)
        assert ingest.first_of_each_id(ids, hashes).tolist() == exact
        # every hash's low 24 bits alike: every row a candidate, only those of a shared hash kept
        assert ingest.first_of_each_id(ids, hashes << 24).tolist() == exact
    # a hash shared by other ids (one for all, or two values crossed): every id compared, the same answer
    for collided in (np.zeros(len(ids), np.int64), hashes % 7):
        assert ingest.first_of_each_id(ids, collided).tolist() == exact


def test_a_run_tells_copies_apart_by_hash_without_a_dictionary_of_every_id(tmp_path, monkeypatch):
    documents = [event(_id=f"e{n % 40}") for n in range(60)]  # 20 copies, across blocks
    export = write_lines(tmp_path / "e.json", documents)
    monkeypatch.setattr(ingest, "CHUNK_LINES", 7)
    monkeypatch.setattr(ingest, "BLOCK_BYTES", 700)
    monkeypatch.setattr(ingest, "_first_of_each_id_exactly", _refused)
    report = ingest.run([export], tmp_path / "lake", workers=1)
    assert sum(report.events_new.values()) == 40 and report.duplicates == 20


@pytest.mark.parametrize("seed", range(3))
def test_rows_where_keeps_the_rows_filter_keeps_without_copying_whole_chunks(seed):
    rng = np.random.default_rng(seed)
    sizes = [0, 5, 1, 40, 17]
    schema = pa.schema([("id", pa.string()), ("ts", pa.int64()), ("list", pa.list_(pa.string()))])
    columns = (
        {"id": [f"c{c}r{r}" for r in range(n)], "ts": rng.integers(0, 9, n), "list": [["x"]] * n}
        for c, n in enumerate(sizes)
    )
    chunks = [pa.table(chunk, schema=schema) for chunk in columns]
    table = pa.concat_tables(chunks)
    mask = rng.random(table.num_rows) < 0.5
    mask[5:6] = True  # the chunk of one row: all of it
    mask[6:46] = True  # all of the chunk of 40 rows
    mask[46:] = False  # none of the last chunk
    kept = ingest.rows_where(table, mask)
    assert kept.equals(table.filter(pa.array(mask))) and kept.schema == table.schema
    whole = table.column("id").chunks[3]  # the chunk of 40 rows, every one kept: the same memory
    assert any(c.buffers()[2].address == whole.buffers()[2].address for c in kept.column("id").chunks)
    assert ingest.rows_where(table, np.zeros(table.num_rows, bool)).num_rows == 0
    empty = table.schema.empty_table()
    assert ingest.rows_where(empty, np.zeros(0, bool)).equals(empty)


def test_a_run_writes_a_day_from_its_blocks_without_copying_them(tmp_path, monkeypatch):
    """Rows of one day, each the first of its id, go to the writer in the blocks the parsers made: only a
    block with a copy of an id or events of another day is filtered."""
    documents = [event(_id=f"e{n}", when=f"2026-03-10 {8 + n % 10:02d}:00") for n in range(30)]
    documents[12] = event(_id="e3", when="2026-03-10 09:00")  # a copy, in the second block
    documents[25] = event(_id="late", when="2026-03-09 10:00")  # another day, in the fourth block
    export = write_lines(tmp_path / "e.json", documents)
    monkeypatch.setattr(ingest, "CHUNK_LINES", 7)
    not_passed_on = []  # per day written: the sizes of the blocks not passed on as they came

    def watched(table, mask):
        kept = rows_where(table, mask)
        passed_on = {c.buffers()[2].address for c in kept.column("event_id").chunks if len(c)}
        not_passed_on.append(
            [len(c) for c in table.column("event_id").chunks if c.buffers()[2].address not in passed_on]
        )
        return kept

    rows_where = ingest.rows_where
    monkeypatch.setattr(ingest, "rows_where", watched)
    report = ingest.run([export], tmp_path / "lake", workers=1)
    assert sum(report.events_new.values()) == 29 and report.duplicates == 1
    # 2026-03-09: every block (the late event's copied out of its block, the others have none of its rows);
    # 2026-03-10: the blocks of the copy and of the late event, filtered; the three others passed on whole
    assert not_passed_on == [[7, 7, 7, 7, 2], [7, 7]]
    assert all_events(tmp_path / "lake").num_rows == 29


def test_oid_and_string_forms_of_one_id_count_once(tmp_path):
    export = write_lines(
        tmp_path / "e.json",
        [event(_id={"$oid": "65f0c1a2b3c4d5e6f7a8b9c0"}), event(_id="65f0c1a2b3c4d5e6f7a8b9c0")],
    )
    assert sum(ingest.run([export], tmp_path / "lake").events_new.values()) == 1


def test_overlapping_file_adds_only_its_new_events(tmp_path):
    root = tmp_path / "lake"
    ingest.run([write_lines(tmp_path / "a.json", [event(_id="1"), event(_id="2")])], root)
    report = ingest.run([write_lines(tmp_path / "b.json", [event(_id="2"), event(_id="3")])], root)
    assert report.events_new == {"LOGIN": 1} and report.duplicates == 1
    assert all_events(root).num_rows == 3


def test_rejects_are_kept_with_file_line_reason_and_never_twice(tmp_path):
    export = write_lines(tmp_path / "bad.json", [event(), "nope", event(profil="Director", ip="1.2.3.4")])
    root = tmp_path / "lake"
    report = ingest.run([export], root)
    assert report.rejects_new == {"not_json": 1, "unknown_profile": 1}
    rows = lake.read_rejects(root).to_pylist()
    assert [(r["file_name"], r["line"], r["reason"]) for r in rows] == [
        ("bad.json", 2, "not_json"),
        ("bad.json", 3, "unknown_profile"),
    ]
    assert rows[0]["raw"] == "nope" and "1.2.3.4" not in rows[1]["raw"]
    again = ingest.run([export], root)
    assert again.rejects_new == {} and again.rejects_known == 2
    assert lake.read_rejects(root).num_rows == 2
    # the same file twice in one run, and a copy of it under the same name: its rejects are kept once
    copy = tmp_path / "copy" / "bad.json"
    copy.parent.mkdir()
    copy.write_bytes(export.read_bytes())
    twice = ingest.run([export, export, copy], tmp_path / "other-lake")
    assert twice.rejects_new == {"not_json": 1, "unknown_profile": 1} and twice.rejects_known == 4


def test_gzipped_and_plain_files_read_alike(tmp_path):
    documents = [event(_id="g1"), event(_id="g2")]
    plain = write_lines(tmp_path / "p.json", documents)
    zipped = tmp_path / "z.jsonl.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    assert sum(ingest.run([zipped], tmp_path / "lake").events_new.values()) == 2
    assert ingest.run([plain], tmp_path / "lake").duplicates == 2


@pytest.mark.parametrize("zipped", [False, True])
@pytest.mark.parametrize("last_newline", [False, True])
def test_blocks_hold_every_line_once_in_order_whatever_the_pieces_read(
    tmp_path, monkeypatch, zipped, last_newline
):
    """Lines of 0 to 300 bytes, some longer than a block, read in pieces of 1 to 64 bytes: each line whole
    in one block, numbered from 1, none lost or repeated, whichever piece its end is in."""
    rng = random.Random(5)
    lines = [bytes(rng.choices(b"abc {}", k=rng.choice([0, 1, 7, 30, 90, 300]))) for _ in range(400)]
    text = b"\n".join(lines) + (b"\n" if last_newline else b"")
    path = tmp_path / ("e.json.gz" if zipped else "e.json")
    path.write_bytes(gzip.compress(text) if zipped else text)
    for piece_bytes in (1, 5, 64):
        monkeypatch.setattr(exports, "READ_BYTES", piece_bytes)
        blocks = list(exports.read_blocks(path, max_bytes=200, max_lines=9))
        read = [block.text.split(b"\n") if block.count else [] for block in blocks]  # the last may be empty
        assert [line for block in read for line in block] == lines, piece_bytes
        assert [block.first_line for block in blocks] == list(np.cumsum([1] + [b.count for b in blocks[:-1]]))
        assert all(block.count <= 9 and not block.broken for block in blocks)


def test_truncated_gzip_keeps_what_was_read_and_rejects_the_rest(tmp_path):
    data = gzip.compress("".join(json.dumps(event()) + "\n" for _ in range(2000)).encode())
    broken = tmp_path / "cut.json.gz"
    broken.write_bytes(data[: len(data) // 2])
    report = ingest.run([broken], tmp_path / "lake")
    assert sum(report.events_new.values()) > 0
    assert report.rejects_new == {parse.TRUNCATED_GZIP: 1}


def test_late_events_are_folded_into_their_day(tmp_path):
    root = tmp_path / "lake"
    ingest.run([write_lines(tmp_path / "d1.json", [event(when="2026-03-10 10:00")])], root)
    ingest.run(
        [write_lines(tmp_path / "d2.json", [event(when="2026-03-11 10:00"), event(when="2026-03-10 12:00")])],
        root,
    )
    from datetime import date

    assert len(lake.day_files(root, date(2026, 3, 10))) == 2
    assert lake.read_days(root, [date(2026, 3, 10)]).num_rows == 2


def test_a_large_day_is_written_in_pieces_at_once_and_reads_the_same(tmp_path, monkeypatch):
    """Past WRITE_PIECE_ROWS a day's events go to one file per worker, written by threads at once; the lake
    reads the same events, in the same order, and a second run still sees all of them."""
    from datetime import date

    documents = [event(_id=f"p{i}", when=f"2026-03-10 {6 + i % 12:02d}:00") for i in range(25)]
    documents += [event(_id="other-day", when="2026-03-11 10:00"), event(_id="p3")]  # p3 twice: counted once
    export = write_lines(tmp_path / "big.json", documents)
    one_file = ingest.run([export], tmp_path / "whole", workers=1)
    monkeypatch.setattr(ingest, "WRITE_PIECE_ROWS", 10)
    pieces = ingest.run([export], tmp_path / "pieces", workers=2)
    day, other = date(2026, 3, 10), date(2026, 3, 11)
    names = [p.name for p in lake.day_files(tmp_path / "pieces", day)]
    assert names == [f"part-{pieces.run_id}-1.parquet", f"part-{pieces.run_id}-2.parquet"]
    assert [lake.row_count(p) for p in lake.day_files(tmp_path / "pieces", day)] == [13, 12]
    assert len(lake.day_files(tmp_path / "pieces", other)) == 1  # one event: one file
    assert lake.read_days(tmp_path / "pieces", [day]).equals(lake.read_days(tmp_path / "whole", [day]))
    counts = (pieces.events_new, pieces.duplicates)
    assert counts == (one_file.events_new, one_file.duplicates) == ({"LOGIN": 26}, 1)
    assert ingest.run([export], tmp_path / "pieces", workers=2).duplicates == 27
    assert not list((tmp_path / "pieces").rglob(lake.TEMPORARY_PREFIX + "*"))


IP = "203.0.113.9"
UA = "Mozilla/5.0 (X11; Linux x86_64) Test-UA/7f3e"


def _field_names(fields) -> list[str]:
    """Every field name of a schema, nested ones (list items, struct members) included."""
    names = []
    for f in fields:
        names.append(f.name)
        kind = f.type
        if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
            names += _field_names([kind.value_field])
        elif pa.types.is_struct(kind):
            names += _field_names([kind.field(i) for i in range(kind.num_fields)])
        elif pa.types.is_map(kind):
            names += _field_names([kind.key_field, kind.item_field])
    return names


def _texts(value):
    """Every string in a decoded Parquet value (lists, structs and maps walked; bytes decoded)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("utf-8", errors="replace")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(key)
            yield from _texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)


def test_no_ip_or_ua_in_the_lake(tmp_path):
    private = {"ip": IP, "ua": UA}
    export = tmp_path / "e.json"
    lines = [
        json.dumps(event(_id="kept-login", referer="https://ent.example/r", **private)),
        json.dumps(event("ACCESS", _id="kept-access", module="Blog", **private)),
        json.dumps(event("GET_RESOURCE", _id="kept-other", **private)),
        json.dumps(event(_id="rejected", profil="Director", referer="https://ent.example/r", **private)),
        json.dumps({**event(_id="rejected-too"), "structures": "s1", **private}),
    ]
    # a JSON object with a byte that is not UTF-8: rejected as invalid_utf8, still without ip/ua (README)
    bad_bytes = json.dumps(event(_id="not-utf8", **private)).encode().replace(b'"u1"', b'"u\xff1"')
    export.write_bytes("".join(line + "\n" for line in lines).encode() + bad_bytes + b"\n")
    report = ingest.run([export], tmp_path / "lake")
    assert sum(report.events_new.values()) == 3
    assert report.rejects_new == {"unknown_profile": 1, "bad_structures": 1, "invalid_utf8": 1}

    parts = sorted((tmp_path / "lake").rglob("*.parquet"))
    assert any("events" in p.parts for p in parts) and any("rejects" in p.parts for p in parts)
    seen: list[str] = []
    for part in parts:
        table = pq.read_table(part)  # decoded columns, not the compressed bytes
        names = _field_names(table.schema)
        assert "ip" not in names and "ua" not in names, (part, names)
        for row in table.to_pylist():
            for text in _texts(row):
                assert IP not in text and UA not in text, (part, text)
                assert "203.0.113" not in text and "Test-UA" not in text, (part, text)
                seen.append(text)
    # the walk did read the values: event ids, and the rejects' raw lines with what they keep
    assert {"kept-login", "kept-access", "kept-other"} <= set(seen)
    raws = [t for t in seen if t.startswith("{")]
    assert len(raws) == 3 and all('"referer"' in r or '"_id"' in r for r in raws)
    assert any("Director" in r and "https://ent.example/r" in r for r in raws)


def test_missing_input_file_stops_with_its_name(tmp_path):
    with pytest.raises(InputFileError, match="absent.json"):
        ingest.run([tmp_path / "absent.json"], tmp_path / "lake")
    assert not (tmp_path / "lake").exists()


def test_empty_file_is_fine(tmp_path):
    (tmp_path / "empty.json").write_bytes(b"")
    report = ingest.run([tmp_path / "empty.json"], tmp_path / "lake")
    assert report.lines == 0 and not report.rejects_new


def test_forked_parsers_give_the_same_lake_and_report_as_one(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(ingest, "CHUNK_LINES", 3)
    documents = [event(_id=f"e{i}", when=f"2026-03-{10 + i % 5} 10:00") for i in range(20)]
    documents[7:7] = ["bad line", event(_id="e3"), event(profil="Director")]
    files = [
        write_lines(tmp_path / "a.json", documents[:12]),
        write_lines(tmp_path / "b.json", documents[12:]),
    ]
    reports, lakes = {}, {}
    for workers in (1, 2):
        reports[workers] = ingest.run(files, tmp_path / f"lake{workers}", workers=workers).as_dict()
        table = all_events(tmp_path / f"lake{workers}")
        lakes[workers] = sorted(table.column("event_id").to_pylist())
        rejects = lake.read_rejects(tmp_path / f"lake{workers}").to_pylist()
        reports[workers]["rejects"] = sorted((r["file_name"], r["line"], r["reason"]) for r in rejects)
        for volatile in ("run_id", "seconds"):
            reports[workers].pop(volatile)
    assert reports[1] == reports[2] and lakes[1] == lakes[2]
    assert reports[1]["duplicates"] == 1 and len(lakes[1]) == 20
    assert reports[1]["rejects"] == [("a.json", 8, "not_json"), ("a.json", 10, "unknown_profile")]


def test_lake_files_keep_many_distinct_ids_in_dictionaries(tmp_path):
    """Parquet's default 1 MiB dictionary page holds fewer than 30,000 ids of 36 characters, after which a
    column falls back to plain strings: a regional day's class and user ids then took twice the disk."""
    rng = random.Random(3)
    ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(50_000)] * 4
    rng.shuffle(ids)
    table = pa.table(
        {
            "event_id": [f"{i:024x}" for i in range(len(ids))],
            "user_id": ids,
            "classes": [[i] for i in ids],
        }
    )
    lake.write_table(table, tmp_path / "lake.parquet")
    pq.write_table(table, tmp_path / "default.parquet", compression="zstd")
    assert pq.read_table(tmp_path / "lake.parquet").equals(table)
    column_bytes = {}
    for name in ("lake", "default"):
        meta = pq.ParquetFile(tmp_path / f"{name}.parquet").metadata
        for group in range(meta.num_row_groups):
            for c in range(meta.num_columns):
                chunk = meta.row_group(group).column(c)
                key = (name, chunk.path_in_schema.split(".")[0])
                column_bytes[key] = column_bytes.get(key, 0) + chunk.total_compressed_size
    for column in ("user_id", "classes"):
        assert column_bytes["lake", column] < 0.6 * column_bytes["default", column], column
    assert column_bytes["lake", "event_id"] <= column_bytes["default", "event_id"]  # unique: no dictionary
