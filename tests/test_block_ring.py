"""pipeline.block_ring: blocks' text to the forked parsers and their tables back, through shared slots."""

from __future__ import annotations

import pyarrow as pa

from pipeline.block_ring import BlockRing, InSlot, TableInSlot, block_of, put_table
from pipeline.exports import Block


def events(rows: int) -> pa.Table:
    return pa.table(
        {
            "event_id": [f"id-{i}" for i in range(rows)],
            "ts_ms": list(range(rows)),
            "classes": [[f"c{i}"] * (i % 3) for i in range(rows)],
        }
    )


def fed(ring: BlockRing, *texts: bytes) -> list[InSlot]:
    blocks = [Block("night.json", 1 + 10 * k, text, text.count(b"\n") + 1) for k, text in enumerate(texts)]
    return list(ring.feed(blocks))


def test_a_table_comes_back_through_its_blocks_slot_and_survives_the_slots_reuse():
    ring = BlockRing(slots=2, slot_bytes=8192)
    tasks = fed(ring, b'{"a":1}\n{"a":2}', b'{"b":3}')
    assert block_of(tasks[1], ring.memory, ring.slot_bytes).text == b'{"b":3}'
    table = events(40)
    left = put_table(table, tasks[1], ring.memory, ring.slot_bytes)
    assert isinstance(left, TableInSlot) and left.slot == 1 and 0 < left.length <= 8192
    back = list(ring.results(["first", left], ring.take_table))
    assert back[0] == "first" and back[1].equals(table)
    start = ring.slot_bytes
    ring.memory[start : start + ring.slot_bytes] = bytes(ring.slot_bytes)  # the slot, taken by a next block
    assert back[1].equals(table)  # copied out, not a view of the slot


def test_a_table_larger_than_the_slot_is_handed_back_as_itself():
    ring = BlockRing(slots=2, slot_bytes=1024)
    task = fed(ring, b'{"a":1}')[0]
    table = events(500)
    assert put_table(table, task, ring.memory, ring.slot_bytes) is table
    assert ring.take_table(table) is table
