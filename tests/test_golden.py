"""A small fixed input whose whole CSV output (and summary.json) is checked in and compared byte for byte.
Regenerate after an intended change with `python tests/golden.py`, then review the diff."""

from __future__ import annotations

from golden import EXPECTED, build_golden, golden_files


def test_whole_output_matches_the_checked_in_files(tmp_path):
    produced = golden_files(build_golden(tmp_path))
    expected = {
        p.relative_to(EXPECTED).as_posix(): p.read_bytes() for p in sorted(EXPECTED.rglob("*")) if p.is_file()
    }
    assert sorted(produced) == sorted(expected)
    for name, data in expected.items():
        assert produced[name] == data, f"{name} differs; if intended, run `python tests/golden.py`"
