"""Blocks of export text handed to the forked parsers through shared memory rather than a pipe.

Pickled through a pipe, a block's text costs the reading process 0.2 µs a line to send and the parser 0.16 µs
to receive, besides the kernel's two copies (a regional day: 1.26 GB). Instead, a ring of SLOTS slots is
mapped before the parsers fork (they inherit it): a block's text is copied into the next slot and the task
names the slot; the parser copies it out. Results come back in order, so a slot is free again once the result
of the block it held is back, and the slots are reused in turn. A block larger than a slot goes pickled, as
before.
"""

from __future__ import annotations

import mmap
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TypeVar

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

    def results(self, results: Iterable[Result]) -> Iterator[Result]:
        """The results of the tasks fed, in order, each freeing its block's slot."""
        for result in results:
            if self._in_slot.popleft():
                self._free.release()
            yield result

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
