"""The integer machinery under the aggregates and indicators: codes, merges, two-tier day columns."""

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipeline import aggregate_math
from pipeline.codes import (
    Vocabulary,
    cell_user_keys,
    distinct_values,
    merge_unique,
    one_dictionary,
    positions,
    split_keys,
    unify_column,
    unify_dictionaries,
    unique_sorted,
)
from pipeline.indicator_math import rebucket
from pipeline.indicator_tables import DayColumns, RankedApps


def test_vocabulary_keeps_codes_across_tables_and_decodes():
    words = Vocabulary()
    first = words.codes(pa.chunked_array([pa.array(["b", "a", "b"])]))
    second = words.codes(pa.array(["c", "a"]).dictionary_encode())
    assert first.tolist() == [0, 1, 0]
    assert second.tolist() == [2, 1]
    assert words.decode(np.array([2, 0, 1])).to_pylist() == ["c", "b", "a"]


def test_positions_of_dictionary_chunks_with_absent_values():
    column = pa.chunked_array(
        [pa.array(["x", "y"]).dictionary_encode(), pa.array(["z", "x"]).dictionary_encode()]
    )
    assert positions(column, pa.array(["y", "x"])).tolist() == [1, 0, -1, 1]


def _row_groups_of_one_dictionary(tmp_path, values: list[str]) -> pa.ChunkedArray:
    """A column read back from a Parquet file of several row groups written from one dictionary array:
    every chunk holds that whole dictionary (as the lake's monthly presence does)."""
    path = tmp_path / "column.parquet"
    pq.write_table(pa.table({"v": pa.array(values).dictionary_encode()}), path, row_group_size=2)
    column = pq.read_table(path, read_dictionary=["v"]).column("v")
    assert column.num_chunks > 1 and all(len(c.dictionary) == len(set(values)) for c in column.chunks)
    return column


def test_repeated_dictionaries_are_used_as_they_are(tmp_path):
    column = _row_groups_of_one_dictionary(tmp_path, ["u3", "u1", "u2", "u1", "u3", "u4", "u2"])
    assert unify_column(column) is column
    indices, dictionary = one_dictionary(column)
    assert dictionary.take(pa.array(indices)).to_pylist() == column.to_pylist()
    assert positions(column, pa.array(["u1", "u2", "u3"])).tolist() == [2, 0, 1, 0, 2, -1, 1]
    table = pa.table({"v": column})
    assert unify_dictionaries(table) is table  # nothing to unify: the table as it was
    assert distinct_values(column.slice(0, 3)) == {"u3", "u1", "u2"}  # not u4, in the dictionary


def test_different_dictionaries_are_unified():
    shared = pa.array(["a", "b"])
    chunks = [
        pa.DictionaryArray.from_arrays(pa.array([0, 1, None], pa.int32()), shared),
        pa.DictionaryArray.from_arrays(pa.array([1, 0], pa.int32()), shared),  # the same dictionary
        pa.DictionaryArray.from_arrays(pa.array([0, 2, 1], pa.int32()), pa.array(["b", "a", "c"])),
        pa.DictionaryArray.from_arrays(pa.array([2, 2, 0], pa.int32()), pa.array(["c", "d", "e"])),
    ]
    column = pa.chunked_array(chunks)
    unified = unify_column(column)
    assert (
        unified.to_pylist() == column.to_pylist() == ["a", "b", None, "b", "a", "b", "c", "a", "e", "e", "c"]
    )
    assert all(c.dictionary.equals(unified.chunk(0).dictionary) for c in unified.chunks)
    assert sorted(unified.chunk(0).dictionary.to_pylist()) == ["a", "b", "c", "d", "e"]
    assert unified.chunk(0).indices.null_count == 1
    table = unify_dictionaries(pa.table({"v": column, "n": pa.array(range(len(column)))}))
    assert table.column("v").to_pylist() == column.to_pylist()
    indices, dictionary = one_dictionary(column.filter(pc.is_valid(column)))
    assert dictionary.take(pa.array(indices)).to_pylist() == [v for v in column.to_pylist() if v is not None]
    separate_but_equal = pa.chunked_array(
        [pa.array(["a", "b"]).dictionary_encode(), pa.array(["a", "b", "a"]).dictionary_encode()]
    )
    assert unify_column(separate_but_equal) is separate_but_equal
    assert positions(separate_but_equal, pa.array(["b", "a"])).tolist() == [1, 0, 1, 0, 1]


def test_merge_unique_and_unique_sorted():
    assert merge_unique([np.array([1, 3, 5]), np.array([2, 3, 6])]).tolist() == [1, 2, 3, 5, 6]
    assert unique_sorted(np.array([5, 1, 5, 2, 1])).tolist() == [1, 2, 5]
    assert unique_sorted(np.array([], dtype=np.int64)).tolist() == []


def test_cell_user_keys_round_trip_beyond_32_bits():
    cells = np.array([0, 378_011, 5])
    users = np.array([2**32 - 1, 7, 0])
    back_cells, back_users = split_keys(cell_user_keys(cells, users))
    assert back_cells.tolist() == cells.tolist() and back_users.tolist() == users.tolist()


@pytest.mark.parametrize("space", [10, aggregate_math.DENSE_COUNT_LIMIT + 1])
def test_count_keys_dense_and_sorted_paths_agree(space):
    keys = np.array([3, 9, 3, 0, 9, 9])
    found, counts = aggregate_math.count_keys(keys, space)
    assert dict(zip(found.tolist(), counts.tolist())) == {0: 1, 3: 2, 9: 3}


def test_month_presence_ors_the_days_a_user_was_seen():
    day = lambda rows: pa.table(
        {k: pa.array(v, pa.string()) for k, v in zip(("entity", "profile", "user_id"), zip(*rows))}
    )
    daily = [
        (date(2025, 3, 1), day([("platform", "Teacher", "u1"), ("platform", "all", "u1")])),
        (date(2025, 3, 3), day([("platform", "Teacher", "u1"), ("class:C", "Student", "u2")])),
        (date(2025, 3, 31), day([("class:C", "Student", "u2")])),
    ]
    rows = aggregate_math.month_presence(daily).to_pylist()
    masks = {(r["entity"], r["profile"], r["user_id"]): r["days"] for r in rows}
    assert masks == {
        ("platform", "Teacher", "u1"): 0b101,
        ("platform", "all", "u1"): 0b1,
        ("class:C", "Student", "u2"): (1 << 30) | 0b100,
    }


def test_day_columns_store_classes_narrow_and_widen_on_overflow():
    columns = DayColumns(n_entities=3, n_days=3, n_profiles=1, split=1)
    assert columns.tail.dtype == np.uint8
    columns.put_day(0, np.array([[5_000_000], [3], [255]]))  # the head (the platform) is int32
    assert columns.tail.dtype == np.uint8
    columns.put_day(1, np.array([[1], [256], [2]]))
    assert columns.tail.dtype == np.uint16
    columns.put_day(2, np.array([[7], [9], [70_000]]))  # straight past what uint16 holds
    assert columns.tail.dtype == np.int32
    assert [columns.row(i)[:, 0].tolist() for i in range(3)] == [
        [5_000_000, 1, 7],
        [3, 256, 9],
        [255, 2, 70_000],
    ]
    assert columns.totals(0, 3).tolist() == [5_000_008, 268, 70_257]


def test_rebucket_sums_consecutive_days():
    by_day = np.arange(10).reshape(5, 2)
    assert rebucket(by_day, np.array([0, 2])).tolist() == [[2, 4], [18, 21]]


def test_ranked_apps_most_first_then_by_name_per_entity_and_profile():
    names = ["zeta", "alpha", "mid"]
    ranked = RankedApps.rank(
        entity=np.array([1, 1, 1, 0]),
        profile=np.array([0, 0, 0, 2]),
        module=np.array([0, 1, 2, 2]),
        count=np.array([4, 4, 9, 1]),
        names=names,
        n_entities=2,
    )
    assert ranked.of(1)["all"] == [("mid", 9), ("alpha", 4), ("zeta", 4)]
    assert ranked.of(0)["Student"] == [("mid", 1)] and ranked.of(0)["all"] == []


def test_month_presence_replaces_changed_days_as_a_full_merge_would():
    day = lambda rows: pa.table(
        {k: pa.array(v, pa.string()) for k, v in zip(("entity", "profile", "user_id"), zip(*rows))}
    )
    first = (date(2025, 3, 1), day([("platform", "Teacher", "u1"), ("platform", "all", "u1")]))
    second_old = (date(2025, 3, 2), day([("platform", "Student", "u2"), ("class:C", "Student", "u3")]))
    second_new = (date(2025, 3, 2), day([("platform", "Student", "u2"), ("platform", "Teacher", "u1")]))
    third = (date(2025, 3, 3), day([("class:C", "Student", "u3")]))
    previous = aggregate_math.month_presence([first, second_old])

    def rows(table: pa.Table) -> dict:
        return {(r["entity"], r["profile"], r["user_id"]): r["days"] for r in table.to_pylist()}

    incremental = aggregate_math.month_presence(
        [second_new, third], previous, replaced=[second_new[0], third[0]]
    )
    assert rows(incremental) == rows(aggregate_math.month_presence([first, second_new, third]))
    assert ("class:C", "Student", "u3") in rows(incremental)  # seen again on day 3 only: mask 0b100
    assert rows(incremental)[("class:C", "Student", "u3")] == 0b100
    dropped = aggregate_math.month_presence([], previous, replaced=[second_old[0]])
    assert rows(dropped) == rows(aggregate_math.month_presence([first]))


def test_vocabulary_codes_chunks_whose_dictionaries_differ_as_one_column():
    words = Vocabulary()
    words.codes(pa.array(["z"]))
    column = pa.chunked_array(
        [pa.array(["b", "a", "b"]).dictionary_encode(), pa.array(["c", "z", "a"]).dictionary_encode()]
    )
    codes = words.codes(column)
    assert words.decode(codes).to_pylist() == ["b", "a", "b", "c", "z", "a"]
    assert codes.tolist() == [1, 2, 1, 3, 0, 2] and len(words) == 4


def _counts_day(rng: np.random.Generator, n: int) -> pa.Table:
    measures = ["login", "access", "activation", "visitors"]
    rows = {
        "entity": rng.choice(["platform", "structure:S1", "class:C1", "class:C2"], n),
        "profile": rng.choice(["all", "Teacher", "Student"], n),
        "measure": rng.choice(measures, n),
        "key": rng.choice(["07", "08", "mail", "blog"], n),
        "n": rng.integers(1, 50, n),
    }
    per_cell = np.isin(rows["measure"], ["activation", "visitors"])  # keyed "", one row per cell
    rows["key"] = np.where(per_cell, "", rows["key"])
    day = (
        pa.Table.from_pydict(rows).group_by(["entity", "profile", "measure", "key"]).aggregate([("n", "sum")])
    )
    day = day.rename_columns(["entity", "profile", "measure", "key", "n"])
    return pa.Table.from_batches(day.to_batches(max_chunksize=7)).unify_dictionaries()


def test_month_counts_equals_group_by_sums_of_its_days():
    """The roll-up's integer merge against Arrow's group-by over all days at once."""
    rng = np.random.default_rng(3)
    days = [(date(2025, 2, d), _counts_day(rng, 60)) for d in (1, 2, 14, 28)]
    rolled = aggregate_math.month_counts(days)
    got = {(r["entity"], r["profile"], r["measure"], r["key"]): r["n"] for r in rolled.to_pylist()}

    expected: dict[tuple, int] = {}
    for day, table in days:
        for r in table.to_pylist():
            cell = (r["entity"], r["profile"])
            if r["measure"] in ("login", "access"):
                key = (*cell, r["measure"], r["key"])
                expected[key] = expected.get(key, 0) + r["n"]
            target = {
                "login": "login_by_day",
                "activation": "activation_by_day",
                "visitors": "visitors_by_day",
            }
            if r["measure"] in target:
                key = (*cell, target[r["measure"]], f"{day.day:02d}")
                expected[key] = expected.get(key, 0) + r["n"]
    assert got == expected
    assert rolled.num_rows == len(expected)  # one row per key


def test_distinct_visitors_merged_a_range_of_cells_at_a_time_equal_the_whole_merge(monkeypatch):
    from pipeline import presence
    from pipeline.periods import Span

    rng = np.random.default_rng(5)
    n_cells = 40

    def month_keys(n: int) -> presence.MonthKeys:
        keys = unique_sorted(cell_user_keys(rng.integers(0, n_cells, n), rng.integers(0, 30, n)))
        return presence.MonthKeys(keys, rng.integers(1, 1 << 28, len(keys)))

    months = {
        date(2025, 1, 1): month_keys(500),
        date(2025, 2, 1): month_keys(400),
        date(2025, 3, 1): month_keys(50),
    }
    span = Span(date(2025, 1, 10), date(2025, 1, 10), date(2025, 3, 2))
    whole = presence.distinct_in_span(months, span, n_cells)
    monkeypatch.setattr(presence, "PIECE_KEYS", 7)  # about 130 pieces, some of them empty
    assert presence.distinct_in_span(months, span, n_cells).tolist() == whole.tolist()
    by_hand = {}
    for month, table in months.items():
        for key, days in zip(table.keys.tolist(), table.days.tolist()):
            seen = [month.replace(day=d + 1) for d in range(28) if days >> d & 1]
            if any(span.first <= day <= span.last for day in seen):
                by_hand.setdefault(key >> 32, set()).add(key & 0xFFFFFFFF)
    assert whole.tolist() == [len(by_hand.get(cell, ())) for cell in range(n_cells)]


def test_distinct_visitors_are_merged_in_pieces_of_equal_keys_even_when_a_few_cells_hold_most(monkeypatch):
    from pipeline import presence

    # as in a region: the first cells (platform, structures) hold most keys, the many others few each
    rng = np.random.default_rng(11)
    n_cells = 1000
    crowded = cell_user_keys(rng.integers(0, 5, 40_000), rng.integers(0, 1 << 20, 40_000))
    sparse = cell_user_keys(rng.integers(5, n_cells, 10_000), rng.integers(0, 1 << 20, 10_000))
    months = [unique_sorted(np.concatenate([crowded, sparse])[rng.random(50_000) < 0.8]) for _ in range(3)]
    monkeypatch.setattr(presence, "PIECE_KEYS", 5_000)
    edges = presence.piece_edges(months, n_cells)
    assert edges[0] == 0 and edges[-1] == n_cells << 32 and (np.diff(edges) > 0).all()
    per_piece = sum(np.diff(np.searchsorted(keys, edges)) for keys in months)
    assert per_piece.sum() == sum(len(keys) for keys in months)  # every key in one piece
    sample = 5_000 // presence.SAMPLES_PER_PIECE
    assert per_piece.max() <= 5_000 + len(months) * sample  # equal ranges of cells: 80 % in the first
    assert len(edges) - 1 <= 2 * per_piece.sum() // 5_000
