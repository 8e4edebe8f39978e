"""A one-line progress display on a terminal; silent when stderr is not a TTY (cron, CI, pipes)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], label: str, total: int | None = None) -> Iterator[T]:
    stream = sys.stderr
    if not stream.isatty():
        yield from items
        return
    total = total if total is not None else (len(items) if hasattr(items, "__len__") else None)
    last = 0.0
    done = 0
    for done, item in enumerate(items, 1):
        now = time.monotonic()
        if now - last > 0.1:
            last = now
            shown = f"{done}/{total}" if total else str(done)
            stream.write(f"\r{label}: {shown}\x1b[K")
            stream.flush()
        yield item
    stream.write(f"\r{label}: {done}/{total or done} done\x1b[K\n")
    stream.flush()
