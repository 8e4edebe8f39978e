"""mongoexport files (plain or gzip) → blocks of numbered lines, read in large pieces (SPEC 1.1, 3.4).

A gzip stream is decompressed piece by piece (ISA-L, about twice zlib's speed), so that when it breaks,
every whole line before the break is kept; the break itself becomes one more line, a TRUNCATED_GZIP reject.
Concatenated gzip members are read one after the other, as `gzip` does, zero padding between them skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from isal import isal_zlib

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
GZIP_WBITS = 31  # zlib's window bits for a gzip header and trailer
READ_BYTES = 1 << 18  # compressed (or plain) bytes per read


@dataclass
class Block:
    """Consecutive lines of one file, without their `\\n`; `broken`: the stream breaks after them."""

    path: str
    first_line: int  # the number of lines[0], from 1
    lines: list[bytes]
    broken: bool = False

    @property
    def end_line(self) -> int:
        """The number after this block's last line (the line of a break)."""
        return self.first_line + len(self.lines)


class StreamBroken(Exception):
    """A compressed stream that ends early or is corrupt, or a read that failed: what came before stands."""


def read_blocks(path: Path, max_lines: int) -> Iterator[Block]:
    """The file's lines in blocks of at most `max_lines`; at least one block, even for an empty file."""
    pending = b""  # the start of a line whose end is not read yet
    lines: list[bytes] = []  # whole lines not yet given
    number = 1
    broken = False
    try:
        for piece in _pieces(path):
            cut = piece.rfind(b"\n")
            if cut < 0:
                pending += piece
                continue
            lines += (pending + piece[:cut]).split(b"\n")
            pending = piece[cut + 1 :]
            while len(lines) >= max_lines:
                block = Block(str(path), number, lines[:max_lines])
                del lines[:max_lines]
                number = block.end_line
                yield block
    except StreamBroken as error:
        whole = number + len(lines) - 1
        log.warning("%s: compressed stream broken after line %d (%s)", path, whole, error.__cause__)
        broken = True
    # a broken stream's unfinished line is lost with the break; a plain file's last line may lack its \n
    if pending and not broken:
        lines.append(pending)
    yield Block(str(path), number, lines, broken)


def _pieces(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        compressed = handle.read(2) == GZIP_MAGIC
        handle.seek(0)
        try:
            reads = iter(lambda: handle.read(READ_BYTES), b"")
            yield from _gunzip(reads) if compressed else reads
        except OSError as error:
            raise StreamBroken from error


def _gunzip(reads: Iterator[bytes]) -> Iterator[bytes]:
    member = isal_zlib.decompressobj(wbits=GZIP_WBITS)
    started = False  # whether the current member has been given any byte
    for data in reads:
        while True:
            if not started:
                data = data.lstrip(b"\x00")
            if not data:
                break
            started = True
            try:
                yield member.decompress(data)
            except isal_zlib.error as error:
                raise StreamBroken from error
            if not member.eof:
                break
            data = member.unused_data
            member = isal_zlib.decompressobj(wbits=GZIP_WBITS)
            started = False
    if started and not member.eof:
        raise StreamBroken from EOFError("compressed file ended before the end-of-stream marker")
