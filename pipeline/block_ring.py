"""Blocks of export text handed to the forked parsers through shared memory rather than a pipe, and their
tables handed back the same way.

Pickled through a pipe, a block's text costs the reading process 0.2 µs a line to send and the parser 0.16 µs
to receive, besides the kernel's two copies (a regional day: 1.26 GB). Instead, a ring of SLOTS slots is
mapped before the parsers fork (they inherit it): a block's text is copied into the next slot and the task
names the slot; the parser copies it out. Results come back in order, so a slot is free again once the result
of the block it held is back, and the slots are reused in turn. A block larger than a slot goes pickled, as
before.

The slot stays the block's until its result is back, so the parser writes its table there (Arrow IPC, one
copy, 0.06 µs a line) and the result names it; the reading process copies it out before freeing the slot.
Pickled, a table cost 0.17 µs a line to send and 0.11 µs to receive, besides the kernel's two copies (a
regional day: 740 MB); the regional day's ingest went from 8.4-8.9 s to 7.4 s. A table larger than the slot
goes pickled.
"""

from __future__ import annotations

import mmap
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TypeVar

import pyarrow as pa
import pyarrow.ipc as ipc

from .exports import Block

SLOTS = 4  # blocks in flight through the ring: one per parser, one being read, one waiting
SLOT_BYTES = 16 << 20  # a block is about 8 MB of text (ingest.BLOCK_BYTES), at most a read piece more
_WAIT_S = 0.5  # the feeding thread looks at `closed` this often while every slot is taken

Result = TypeVar("Result")


@dataclass(frozen=True)
class InSlot:
    """A block whose text is in slot `slot` of the ring, `length` bytes."""

    block: Block  # with an empty text
    slot: int
    length: int


@dataclass(frozen=True)
class TableInSlot:
    """A table written (Arrow IPC stream) into slot `slot` of the ring, `length` bytes."""

    slot: int
    length: int


class BlockRing:
    def __init__(self, slots: int | None = None, slot_bytes: int | None = None) -> None:
        slots, slot_bytes = slots or SLOTS, slot_bytes or SLOT_BYTES
        self.memory = mmap.mmap(-1, slots * slot_bytes)  # anonymous and shared: forked parsers see it
        self.slots, self.slot_bytes = slots, slot_bytes
        self._free = threading.Semaphore(slots)
        self._next = 0
        self._in_slot: deque[bool] = deque()  # per task sent, in order: whether it took a slot
        self.closed = False

    def feed(self, blocks: Iterable[Block]) -> Iterator[Block | InSlot]:
        """The tasks for `blocks`, in order (run by the pool's feeding thread): waits for a free slot."""
        for block in blocks:
            if len(block.text) > self.slot_bytes:
                self._in_slot.append(False)
                yield block
                continue
            while not self._free.acquire(timeout=_WAIT_S):
                if self.closed:
                    return
            if self.closed:
                return
            slot, self._next = self._next, (self._next + 1) % self.slots
            start = slot * self.slot_bytes
            self.memory[start : start + len(block.text)] = block.text
            self._in_slot.append(True)
            yield InSlot(replace(block, text=b""), slot, len(block.text))

    def results(
        self, results: Iterable[Result], take: Callable[[Result], Result] | None = None
    ) -> Iterator[Result]:
        """The results of the tasks fed, in order, each freeing its block's slot once `take` has copied out
        of it what the result left there (see take_table)."""
        for result in results:
            if self._in_slot.popleft():
                if take is not None:
                    result = take(result)
                self._free.release()
            yield result

    def take_table(self, table: pa.Table | TableInSlot) -> pa.Table:
        """`table`, or the table a parser left in a slot (put_table), copied out of it."""
        if not isinstance(table, TableInSlot):
            return table
        start = table.slot * self.slot_bytes
        return ipc.open_stream(pa.py_buffer(self.memory[start : start + table.length])).read_all()

    def close(self) -> None:
        """Stops the feeding (it may be waiting for a slot that no result will free)."""
        self.closed = True
        self._free.release(self.slots)


def block_of(task: Block | InSlot, memory: mmap.mmap, slot_bytes: int) -> Block:
    """In a parser: the block a task names, its text copied out of the ring."""
    if isinstance(task, Block):
        return task
    start = task.slot * slot_bytes
    return replace(task.block, text=memory[start : start + task.length])


def put_table(table: pa.Table, task: InSlot, memory: mmap.mmap, slot_bytes: int) -> pa.Table | TableInSlot:
    """In a parser, once its block's text is copied out: `table` written into the block's slot, or `table`
    itself when it does not fit (it goes pickled)."""
    start = task.slot * slot_bytes
    sink = pa.FixedSizeBufferWriter(pa.py_buffer(memoryview(memory)[start : start + slot_bytes]))
    try:
        with ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return TableInSlot(task.slot, sink.tell())
    except (OSError, pa.ArrowInvalid):  # past the slot's end
        return table
    finally:
        sink.close()
