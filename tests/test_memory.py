"""Memory a stage freed goes back to the system before the next stage (pipeline.memory)."""

from __future__ import annotations

import sys

import pytest

from pipeline import memory


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_freed_small_objects_are_returned_to_the_system() -> None:
    # parsed lines (over 512 bytes: glibc's, not Python's small-object arenas): once they are freed, glibc
    # keeps the pages its heap still spreads over (a few objects live on among them: here one in 30)
    lines = [b"x" * 1000 + i.to_bytes(4, "little") for i in range(300_000)]
    survivors = lines[::30]
    held = rss_mib()
    del lines
    freed_but_held = rss_mib()
    memory.release_unused()
    assert held - freed_but_held < 100 < freed_but_held - rss_mib()
    assert len(survivors) == 10_000


def test_a_stage_collects_only_what_was_made_since_the_build_began() -> None:
    import gc

    held = [[] for _ in range(1000)]  # the caller's objects
    with memory.collections_skip_what_is_held():
        assert gc.get_freeze_count() >= len(held)
        cycle: list = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # garbage made inside is still collected
    assert gc.get_freeze_count() == 0  # and the caller's objects are collected again afterwards


def test_a_caller_that_froze_its_objects_keeps_them_frozen() -> None:
    import gc

    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with memory.collections_skip_what_is_held():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_the_stage_that_raised_the_peak_is_the_one_after_which_it_is_higher() -> None:
    import numpy as np

    from pipeline.site import Stages

    stages = Stages()
    with stages("before"):
        pass
    with stages("large"):
        block = np.ones(int(memory.peak_mib() + 200) << 17)  # 200 MiB past this process's peak, touched
        del block
    with stages("after"):
        pass
    report = stages.report()
    after_stage = report["peak_memory_mib_after_stage"]
    assert list(after_stage) == list(report["seconds"]) == ["before", "large", "after"]
    assert after_stage["large"] - after_stage["before"] > 150
    assert after_stage["after"] == after_stage["large"] == report["peak_memory_mib"]  # never reset
