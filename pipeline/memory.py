"""Memory a stage freed, handed back to the system before the next stage starts.

After a regional day's ingest the process still held 1.5 GB it no longer used: 640 MB cached by Arrow's
allocator (mimalloc) and 700 MB in glibc's heap (the parsed lines). The aggregation that followed in the same
process then peaked at 4.4 GB, against 2.8 GB in a fresh process. Freed memory is returned between stages,
where it costs a few milliseconds and nothing is in flight.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

import pyarrow as pa


def _glibc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim this way
        return None


_MALLOC_TRIM = _glibc_trim()


def release_unused() -> None:
    gc.collect()
    pa.default_memory_pool().release_unused()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
