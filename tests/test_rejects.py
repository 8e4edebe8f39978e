"""pipeline.rejects: a block's rejects as a table, known rejects left out, the run's rejects file."""

from __future__ import annotations

import hashlib

from conftest import reject_table

from pipeline import lake, rejects


def test_a_blocks_rejects_keep_their_text_as_utf8_and_the_digest_of_the_text_as_it_was():
    lone = '{"_id":"\ud800"}'  # a lone surrogate, which UTF-8 cannot hold
    table = reject_table([(3, "not_json", "nope"), (9, "invalid_utf8", lone)])
    assert table.schema == rejects.BLOCK_SCHEMA
    rows = table.to_pylist()
    assert [(r["line"], r["reason"]) for r in rows] == [(3, "not_json"), (9, "invalid_utf8")]
    assert rows[0]["raw"] == "nope" and rows[0]["raw_sha1"] == hashlib.sha1(b"nope").hexdigest()
    assert rows[1]["raw"] == '{"_id":"?"}'
    assert rows[1]["raw_sha1"] == hashlib.sha1(lone.encode("utf-8", "surrogatepass")).hexdigest()
    assert rows[1]["raw_sha1"] != hashlib.sha1(rows[1]["raw"].encode()).hexdigest()
    assert reject_table([]).num_rows == 0


def test_a_blocks_rejects_come_in_line_order_whatever_order_they_are_given_in():
    """The fast path gives its rejects first, the reference's after them, as bytes and as str."""
    table = rejects.block_columns([7, 2, 5], ["bad_id", "not_json", "unknown_profile"], [b"b", b"a", "c"], 10)
    assert table.to_pylist() == [
        {"line": 12, "reason": "not_json", "raw": "a", "raw_sha1": hashlib.sha1(b"a").hexdigest()},
        {"line": 15, "reason": "unknown_profile", "raw": "c", "raw_sha1": hashlib.sha1(b"c").hexdigest()},
        {"line": 17, "reason": "bad_id", "raw": "b", "raw_sha1": hashlib.sha1(b"b").hexdigest()},
    ]


def test_each_digest_is_of_its_own_text_alone_block_after_block():
    """The digests start from one hasher, copied: a text hashed must not carry over to the next."""
    texts = [b"", b"a", b"a" * 1000, "é".encode(), b"a"]
    for _block in range(2):
        table = rejects.block_columns(list(range(len(texts))), ["not_json"] * len(texts), texts)
        assert table.column("raw_sha1").to_pylist() == [hashlib.sha1(t).hexdigest() for t in texts]
    assert rejects.sha1_hex(b"") == hashlib.sha1(b"").hexdigest()


def test_rejects_kept_by_the_lake_or_met_earlier_in_the_run_are_left_out(tmp_path):
    first = reject_table([(1, "not_json", "a"), (2, "not_json", "b")])
    rejects_file = lake.rejects_dir(tmp_path) / "part-old.parquet"
    rejects_file.parent.mkdir(parents=True)
    lake.write_table(rejects.run_table([("exports/night.json", first)], "old"), rejects_file)

    known = rejects.KnownRejects(tmp_path)
    again = reject_table([(1, "not_json", "a"), (2, "not_json", "changed"), (3, "not_json", "c")])
    new = known.new("exports/night.json", again)
    assert new.column("line").to_pylist() == [2, 3]  # line 2's text changed: another reject
    later = reject_table([(4, "not_json", "d")])
    assert known.new("exports/night.json", later).num_rows == 1  # the same file's next block
    assert known.new("copy/night.json", again).num_rows == 0  # the same name twice in the run
    assert known.new("copy/night.json", later).num_rows == 0
    assert known.new("copy/night.json", reject_table([(5, "bad_id", "e")])).num_rows == 1
    assert known.new("other.json", again).num_rows == 3  # known by file name as well
    assert known.new("other.json", again).num_rows == 0  # the same file read again in the run


def test_a_runs_rejects_name_their_file_and_run():
    blocks = [
        ("in/a.json", reject_table([(1, "not_json", "x")])),
        ("b.json.gz", reject_table([(4, "bad_id", "y"), (5, "bad_id", "z")])),
    ]
    table = rejects.run_table(blocks, "run-1")
    assert table.schema == lake.REJECT_SCHEMA
    assert [(r["file"], r["file_name"], r["line"], r["raw"], r["run_id"]) for r in table.to_pylist()] == [
        ("in/a.json", "a.json", 1, "x", "run-1"),
        ("b.json.gz", "b.json.gz", 4, "y", "run-1"),
        ("b.json.gz", "b.json.gz", 5, "z", "run-1"),
    ]


def test_a_runs_rejects_file_keeps_dictionaries_for_repeated_values_only(tmp_path):
    import pyarrow.parquet as pq

    blocks = [("night.json", reject_table([(n, "bad_id", f'{{"n":{n}}}') for n in range(1, 200)]))]
    table = rejects.run_table(blocks + [("empty.json", reject_table([]))], "run-1")
    lake.write_table(table, tmp_path / "rejects.parquet")
    assert pq.read_table(tmp_path / "rejects.parquet").equals(table)
    chunks = pq.ParquetFile(tmp_path / "rejects.parquet").metadata.row_group(0)
    encodings = {chunks.column(i).path_in_schema: chunks.column(i).encodings for i in range(7)}
    for repeated in ("file", "file_name", "reason", "run_id"):
        assert "RLE_DICTIONARY" in encodings[repeated], encodings
    for unique in ("line", "raw", "raw_sha1"):  # one value a row: a dictionary would be hashed for nothing
        assert "RLE_DICTIONARY" not in encodings[unique], encodings
