"""The golden test's input and build, shared by the test and by the regeneration command:

python tests/golden.py        # rewrites tests/golden/expected/ from tests/golden/input/
"""

from __future__ import annotations

import gzip
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from pipeline import ingest  # noqa: E402
from pipeline.constants import RUN_FILES  # noqa: E402
from pipeline.site import SiteOptions, build  # noqa: E402

INPUT = HERE / "golden" / "input"
EXPECTED = HERE / "golden" / "expected"
AS_OF = date(2026, 3, 31)
NOW_MS = 1_775_000_000_000  # 2026-04-01, so that the input's dates stay inside the future bound forever


def golden_files(site: Path) -> dict[str, bytes]:
    """Every CSV (as served: the stored .csv.gz decompressed) and summary.json of the site, by path; not the
    runs' history (its times and seconds are the run's: tests/test_runs.py)."""
    files = {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("summary.json")}
    for stored in site.rglob("csv/*.csv.gz"):
        if stored.name in RUN_FILES:
            continue
        files[stored.relative_to(site).as_posix().removesuffix(".gz")] = gzip.decompress(stored.read_bytes())
    return dict(sorted(files.items()))


def site_files(site: Path) -> dict[str, bytes]:
    """Every file of a published site but the run's own (its times), by path: two builds of the same lake
    give the same."""
    return {
        p.relative_to(site).as_posix(): p.read_bytes()
        for p in sorted(site.rglob("*"))
        if p.is_file() and p.name not in RUN_FILES
    }


def build_golden(workdir: Path) -> Path:
    lake, site = workdir / "lake", workdir / "site"
    ingest.run([INPUT / "events.jsonl"], lake, now_ms=NOW_MS)
    build(SiteOptions(lake, INPUT / "directory", site, AS_OF, "Europe/Paris"))
    return site


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        produced = golden_files(build_golden(Path(tmp)))
    shutil.rmtree(EXPECTED, ignore_errors=True)
    for name, data in produced.items():
        (EXPECTED / name).parent.mkdir(parents=True, exist_ok=True)
        (EXPECTED / name).write_bytes(data)
    print(f"wrote {len(produced)} files under {EXPECTED}")
