"""Tiny seeded fixtures: write events as mongoexport lines, build a site through the real pipeline."""

from __future__ import annotations

import csv
import fcntl
import gzip
import io
import itertools
import json
import os
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from chromium import AXE_DEFAULT, CHROMIUM, CHROMIUM_ARGS

from pipeline import ingest
from pipeline import rejects as rejects_io
from pipeline.serve import preview_server
from pipeline.site import SiteOptions, build

PARIS = ZoneInfo("Europe/Paris")
# Set by .ci/run: a skipped test (Chromium, nginx, axe-core or DuckDB missing) fails instead of skipping.
REQUIRE_TOOLS = os.environ.get("STATISTIQUES_REQUIRE_TOOLS") == "1"
_ids = itertools.count(1)


def ms(text: str, zone: ZoneInfo = PARIS) -> int:
    """Epoch ms of a local time written 'YYYY-MM-DD HH:MM[:SS]' (Paris unless told)."""
    return int(datetime.fromisoformat(text).replace(tzinfo=zone).timestamp() * 1000)


def event(
    event_type: str = "LOGIN",
    when: str = "2026-03-10 10:00",
    user: str = "u1",
    profile: str = "Teacher",
    structures: list[str] | None = None,
    classes: list[str] | None = None,
    module: str | None = None,
    **extra,
) -> dict:
    document = {
        "_id": extra.pop("_id", f"id-{next(_ids):08d}"),
        "event-type": event_type,
        "module": module if module is not None else ("Auth" if event_type == "LOGIN" else "Blog"),
        "date": {"$numberLong": str(ms(when))},
        "userId": user,
        "profil": profile,
        "structures": ["s1"] if structures is None else structures,
        "classes": [] if classes is None else classes,
    }
    document.update(extra)
    return document


def reject_table(rejects: list[tuple[int, str, str | bytes]]):
    """A block's rejects given as (line, reason, raw text), as `rejects.block_columns` makes their table."""
    lines, reasons, raws = zip(*rejects) if rejects else ((), (), ())
    return rejects_io.block_columns(list(lines), list(reasons), list(raws))


def write_lines(path: Path, documents: list[dict | str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [d if isinstance(d, str) else json.dumps(d, ensure_ascii=False) for d in documents]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_directory(
    folder: Path,
    structures: list[tuple[str, str, str]] | None = None,
    classes: list[tuple[str, str, str]] | None = None,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    structures = (
        [("s1", "0750001A", "Lycée Un"), ("s2", "0750002B", "Collège Deux")]
        if structures is None
        else structures
    )
    classes = [("c1", "s1", "2nde A")] if classes is None else classes
    for name, header, rows in (
        ("structures.csv", ("id", "uai", "name"), structures),
        ("classes.csv", ("id", "structure_id", "name"), classes),
    ):
        with open(folder / name, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
    return folder


def holidays_by_day(site: Path, entity: str = "platform") -> dict[date, str]:
    """The entity's holidays as its summary.json lists them (SPEC 2.6), day by day: day → name."""
    listed = json.loads((site / entity / "summary.json").read_text(encoding="utf-8"))["holidays"]["periods"]
    by_day = {}
    for period in listed:
        first, last = date.fromisoformat(period["from"]), date.fromisoformat(period["to"])
        for n in range((last - first).days + 1):
            by_day[first + timedelta(days=n)] = period["name"]
    return by_day


def csv_bytes(path: Path) -> bytes:
    """The bytes of SITE/…/csv/<name>.csv, which the site stores as <name>.csv.gz (SPEC 3.2)."""
    stored = path if path.suffix == ".gz" else path.with_name(path.name + ".gz")
    return gzip.decompress(stored.read_bytes())


def read_csv(path: Path) -> list[dict[str, str]]:
    text = csv_bytes(path).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


class Site:
    """A site built by the real pipeline from documents; helpers to read what it wrote."""

    def __init__(self, root: Path, report: dict):
        self.root = root
        self.report = report

    def summary(self, entity: str = "platform") -> dict:
        return json.loads((self.root / entity / "summary.json").read_text(encoding="utf-8"))

    def tile(self, indicator: str, entity: str = "platform"):
        return self.summary(entity)["tiles"][indicator]["value"]

    def rows(self, name: str, entity: str = "platform") -> list[dict[str, str]]:
        return read_csv(self.root / entity / "csv" / name)

    def value(self, name: str, entity: str = "platform", **match) -> str:
        """The last column of the single row matching `match` (column=value)."""
        rows = [r for r in self.rows(name, entity) if all(r[k] == v for k, v in match.items())]
        assert len(rows) == 1, (name, match, rows)
        return list(rows[0].values())[-1]


@contextmanager
def import_attempts(name: str) -> Iterator[list[str]]:
    """The attempts to import module `name` while the block runs. pyarrow tries `dateutil` each time it
    infers the type of a Python value: where it is not installed, a failed import (0.1-0.3 ms) each time."""
    attempts: list[str] = []

    class Finder:
        def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
            if fullname.split(".")[0] == name:
                attempts.append(fullname)

    finder = Finder()
    sys.meta_path.insert(0, finder)
    try:
        yield attempts
    finally:
        sys.meta_path.remove(finder)


@pytest.fixture
def make_site(tmp_path):
    counter = itertools.count()

    def _make(
        documents: list[dict | str],
        as_of: str,
        timezone: str = "Europe/Paris",
        directory: Path | None = None,
        **directory_kwargs,
    ) -> Site:
        n = next(counter)
        export = write_lines(tmp_path / f"in{n}" / "events.json", documents)
        lake = tmp_path / f"lake{n}"
        ingest.run([export], lake)
        folder = directory or write_directory(tmp_path / f"dir{n}", **directory_kwargs)
        out = tmp_path / f"site{n}"
        report = build(SiteOptions(lake, folder, out, datetime.fromisoformat(as_of).date(), timezone))
        return Site(out, report)

    return _make


@pytest.fixture(scope="session")
def tiny_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`test_pages.build_tiny_site`'s site, built once per session (`made_once`), for the modules that only
    read it (pages, front contract, browser, print, CSP): each build took 10–17 s on a 2-core machine."""
    from test_pages import build_tiny_site

    return made_once(tmp_path_factory, "tiny-site", build_tiny_site) / "site"


def made_once(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]) -> Path:
    """The folder `make` fills, made once per session by the first test process to ask (the others wait for
    it): under pytest-xdist the workers' temporary folders share a parent, the session's. A folder whose
    making failed is made again by the next to ask."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker making it: wait for it
        if not (folder / ".made").exists():
            shutil.rmtree(folder, ignore_errors=True)  # a failed attempt's
            make(folder)
            (folder / ".made").touch()
    return folder


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (never Playwright's own download), one per test process (each
    start 1.2 s here, Playwright's driver and Chromium); the tests that use it skip, with the install
    command, when either is missing."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    missing = "Playwright is missing (pip install playwright)"
    sync_api = pytest.importorskip("playwright.sync_api", reason=missing)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@contextmanager
def serving(site: Path) -> Iterator[str]:
    """`build.py serve SITE` (the whole site, as a super administrator) on loopback: its base URL."""
    server = preview_server(site, None, None, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def axe_script() -> str:
    """axe-core's script, from $AXE_CORE_JS or AXE_DEFAULT."""
    path = Path(os.environ.get("AXE_CORE_JS", AXE_DEFAULT))
    if not path.is_file():
        pytest.skip(
            f"axe-core not found at {path}: `npm install --prefix /opt/axe-core axe-core` or set AXE_CORE_JS"
        )
    return path.read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------ skips under CI
def _fail_skip(report, reason_of) -> None:
    if REQUIRE_TOOLS and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = (
            f"skipped, and STATISTIQUES_REQUIRE_TOOLS=1 makes a skip a failure: {reason_of(report)}"
        )


def _reason(report) -> str:
    longrepr = report.longrepr
    return longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_skip(outcome.get_result(), _reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_skip(outcome.get_result(), _reason)  # a module skipped whole (allow_module_level=True)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    stats = terminalreporter.stats
    passed, skipped = len(stats.get("passed", [])), len(stats.get("skipped", []))
    failed = len(stats.get("failed", [])) + len(stats.get("error", []))
    mode = "a skip fails (STATISTIQUES_REQUIRE_TOOLS=1)" if REQUIRE_TOOLS else "skips allowed"
    counts = f"{passed} passed, {skipped} skipped, {failed} failed"
    terminalreporter.write_line(f"Statistiques suite: {counts}; {mode}")
    if skipped and not REQUIRE_TOOLS:
        terminalreporter.write_line(
            f"{skipped} tests were skipped because a tool is missing (listed below): "
            "CI installs Chromium, nginx, axe-core and DuckDB and runs them all (.ci/run)."
        )
