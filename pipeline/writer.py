"""Stage 4: the indicator tables → the site's files.

Two steps, in this order: `write_shared` writes what every page shares (assets, the root index, access.json)
and returns the page renderer; `write_entities` then writes every entity's files, over forked writers. One
function, `EntityWriter.write`, writes all of an entity's files: its CSV exports (precompressed, SPEC 3.2),
summary.json, data.js and its eight pages. A page whose bytes equal the published build's is hard-linked
from it instead of written again (its text holds nothing that changes from night to night).
"""

from __future__ import annotations

import contextlib
import gzip
import multiprocessing
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from isal import igzip

from . import render, runs_page, side_by_side
from .access import ACCESS_FILE, access_json
from .cluster import Cluster, load_shared, save_shared
from .constants import CSV_STORED_SUFFIX, RUNS_CSV, RUNS_DATA, RUNS_PAGE, RUNS_TITLE, SIDE_BY_SIDE
from .csv_export import entity_csvs
from .holidays import HolidayZones
from .indicator_tables import IndicatorTables
from .model import Entity
from .progress import progress

# ISA-L at level 1: a structure's 18 CSV files (954 KB) in 0.44 ms, 16.7× smaller; zlib level 1 took 2.1 ms
# for 15.3×, level 6 6.2 ms for 18.6× (measured on the demo). mtime 0: the same text gives the same bytes.
GZIP_LEVEL = 1
MAX_WRITERS = 2
MIN_ENTITIES_PER_WRITER = 50  # below this, forking costs more than it saves
ENTITIES_PER_TASK = 250  # on a cluster: a task writes this many entities (a fraction of a second each)


@dataclass
class Written:
    """What was written: files, bytes by kind, pages (for build.json's `render`)."""

    files: int = 0
    bytes: int = 0
    by_kind: Counter = field(default_factory=Counter)
    linked: int = 0  # pages hard-linked from the published build rather than written
    pages: int = 0  # written or linked
    html_bytes: int = 0
    entities: int = 0

    def add(self, size: int, kind: str) -> None:
        self.files += 1
        self.bytes += size
        self.by_kind[kind] += size

    def merge(self, other: Written) -> None:
        for name in ("files", "bytes", "linked", "pages", "html_bytes", "entities"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.by_kind.update(other.by_kind)

    def render_report(self, seconds: float, setup_seconds: float) -> dict[str, float | int]:
        return {
            "pages_written": self.pages,
            "pages_linked": self.linked,
            "pages_per_second": round(self.pages / seconds, 1) if seconds else 0.0,
            "html_bytes_per_entity": round(self.html_bytes / self.entities) if self.entities else 0,
            "setup_seconds": round(setup_seconds, 3),
        }


def write_file(path: str | Path, data: bytes, kind: str, written: Written) -> None:
    """Create or replace the file (plain os calls: a site is ~28 files per entity, pathlib's cost shows)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    written.add(len(data), kind)


def write_page(path: str | Path, data: bytes, written: Written, same_page: str | None = None) -> None:
    """A page, hard-linked from `same_page` (the published build's) when its bytes are the same there."""
    if same_page is not None and _same_bytes(same_page, data) and _linked(same_page, path):
        written.linked += 1
        written.add(len(data), "html")
    else:
        write_file(path, data, "html", written)
    written.pages += 1
    written.html_bytes += len(data)


def gzip_bytes(data: bytes) -> bytes:
    return igzip.compress(data, GZIP_LEVEL, mtime=0)


# ------------------------------------------------------------------------------------------- the steps
def write_shared(
    site: Path, entities: list[Entity], holidays: HolidayZones, written: Written
) -> render.Pages:
    """The assets (content-hashed names), the root index and access.json; the pages' renderer."""
    assets = site / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    names = {}
    for logical, text in render.asset_texts(entities).items():
        names[logical] = render.asset_name(logical, text)
        data = text.encode("utf-8")
        kind = logical.rpartition(".")[2]
        write_file(assets / names[logical], data, kind, written)
        # served as is to browsers that accept gzip (nginx's gzip_static): the Vega runtime's 900 KB cross
        # the network as 306 KB. Written once a build, so compressed at the best level.
        write_file(assets / (names[logical] + ".gz"), gzip.compress(data, 9, mtime=0), kind, written)
    write_file(site / ACCESS_FILE, access_json(entities).encode("utf-8"), "json", written)
    write_page(site / "index.html", render.root_index(entities, names).encode("utf-8"), written)
    return render.Pages(entities, names, holidays)


def write_runs(
    site: Path, pages: render.Pages, platform: Entity, history: list[dict], as_of: date, written: Written
) -> None:
    """platform/runs.html, its charts' data and its CSV: the runs' history (pipeline.runs)."""
    folder = site / platform.path
    (folder / "csv").mkdir(parents=True, exist_ok=True)
    html = pages.owned_page(
        "runs.html", platform, RUNS_TITLE, **runs_page.page_context(history, render.date_words(as_of))
    )
    write_page(folder / RUNS_PAGE, html.encode("utf-8"), written)
    data = "window.STATS_RUNS=" + render.js_json(runs_page.chart_rows(history)) + ";\n"
    write_file(folder / RUNS_DATA, data.encode("utf-8"), "js", written)
    csv_data = gzip_bytes(runs_page.csv_bytes(history))
    write_file(folder / "csv" / (RUNS_CSV + CSV_STORED_SUFFIX), csv_data, "csv", written)


def write_entities(
    site: Path,
    tables: IndicatorTables,
    pages: render.Pages,
    previous: Path | None = None,
    workers: int | None = None,
    cluster: Cluster | None = None,
) -> Written:
    """Every entity's files, over `workers` forked processes (default: the cores, at most MAX_WRITERS), or
    in blocks of ENTITIES_PER_TASK as tasks on `cluster`."""
    tables.tiles  # noqa: B018 -- computed once here, inherited by the forked writers (or sent with them)
    writer = EntityWriter(site, tables, pages, side_by_side.listings(tables.entities), previous)
    if cluster is not None:
        return _write_on(cluster, writer)
    workers = workers or min(os.cpu_count() or 1, MAX_WRITERS)
    if workers <= 1 or len(tables) < MIN_ENTITIES_PER_WRITER * workers:
        return writer.write_share(0, 1)
    # fork: each writer inherits `writer` (the tables included) through the initialiser, never pickled
    with multiprocessing.get_context("fork").Pool(workers, _start_writer, (writer,)) as pool:
        parts = pool.starmap(_write_share, [(k, workers) for k in range(workers)])
    written = Written()
    for part in parts:
        written.merge(part)
    return written


def _write_on(cluster: Cluster, writer: EntityWriter) -> Written:
    """The entities in blocks of consecutive ones, a task each. The writer (the tables included) goes to the
    workers as a file in the build folder, which each worker maps once (cluster.load_shared: its memory holds
    the rows its blocks read): a worker that joins or replaces a lost one finds it there (data scattered to a
    lost worker is gone with it)."""
    writer.site = writer.site.resolve()  # as the workers see it
    writer.previous = writer.previous.resolve() if writer.previous is not None else None
    shared = writer.site / WRITER_FILE
    save_shared(writer, shared)
    count = len(writer.tables)
    blocks = [(str(shared), k, min(k + ENTITIES_PER_TASK, count)) for k in range(0, count, ENTITIES_PER_TASK)]
    written = Written()
    try:
        for part in progress(
            cluster.map(_write_block, blocks, "write-entities"), "write entities", len(blocks)
        ):
            written.merge(part)
    finally:
        # a worker lives on between builds: not with this one's tables (best effort: a worker lost meanwhile
        # must not hide the run's error); then the file they mapped
        with contextlib.suppress(Exception):
            cluster.each_worker(_forget_loaded)
        shared.unlink()
    return written


def _write_block(shared: str, start: int, stop: int) -> Written:
    """On a worker: entities start…stop-1 (a retry rewrites them whole)."""
    writer = _LOADED.get(shared)
    if writer is None:
        _LOADED.clear()  # one build's tables at a time
        writer = _LOADED[shared] = load_shared(shared)
    written = Written()
    for i in range(start, stop):
        writer.write(i, written)
    return written


def _forget_loaded() -> None:
    _LOADED.clear()


_LOADED: dict[str, EntityWriter] = {}  # on a worker: the writer of the build it writes, by its file
WRITER_FILE = ".writer.pickle"  # in the build folder while a cluster writes it; removed before publishing


_WRITER: EntityWriter | None = None  # in a forked writer: set by its initialiser


def _start_writer(writer: EntityWriter) -> None:
    global _WRITER
    _WRITER = writer


def _write_share(index: int, count: int) -> Written:
    assert _WRITER is not None, "a writer process starts with _start_writer"
    return _WRITER.write_share(index, count)


# ------------------------------------------------------------------------------------------ one entity
@dataclass
class EntityWriter:
    site: Path
    tables: IndicatorTables
    pages: render.Pages
    listings: dict[int, list[int]]  # the side-by-side pages' rows, by the index of the entity that has one
    previous: Path | None = None  # the published build: its identical pages are linked, not written

    def write_share(self, index: int, count: int) -> Written:
        """Every `count`-th entity from `index`."""
        written = Written()
        for i in range(index, len(self.tables), count):
            self.write(i, written)
        return written

    def write(self, i: int, written: Written) -> None:
        """All of entity i's files: CSVs, summary.json, data.js, pages, and its side-by-side page and CSV
        (the platform, a structure)."""
        figures = self.tables.figures(i)
        relative = figures.entity.path
        folder = os.path.join(self.site, relative)
        csv_folder = os.path.join(folder, "csv")
        os.makedirs(csv_folder, exist_ok=True)
        for name, text in entity_csvs(figures).items():
            write_file(os.path.join(csv_folder, name + CSV_STORED_SUFFIX), gzip_bytes(text), "csv", written)
        summary = self.pages.summary_json(figures).encode("utf-8")
        write_file(os.path.join(folder, "summary.json"), summary, "json", written)
        write_file(os.path.join(folder, "data.js"), self.pages.data_script(figures), "js", written)
        previous = os.path.join(self.previous, relative) if self.previous is not None else None
        for name, html in self.pages.of(figures):
            same_page = os.path.join(previous, name) if previous is not None else None
            write_page(os.path.join(folder, name), html.encode("utf-8"), written, same_page)
        if i in self.listings:
            self.write_side_by_side(figures.entity, self.listings[i], folder, written)
        written.entities += 1

    def write_side_by_side(self, owner: Entity, listed: list[int], folder: str, written: Written) -> None:
        page, csv_name, _kind, _words = SIDE_BY_SIDE[owner.kind]
        rows = side_by_side.rows_of(self.tables.tiles, self.tables.entities, listed)
        csv_path = os.path.join(folder, "csv", csv_name + CSV_STORED_SUFFIX)
        write_file(csv_path, gzip_bytes(side_by_side.csv_bytes(rows)), "csv", written)
        html = side_by_side.page_html(self.pages, owner, rows, render.date_words(self.tables.as_of))
        write_page(os.path.join(folder, page), html.encode("utf-8"), written)


def _linked(source: str, target: str | Path) -> bool:
    """A hard link, where the file system allows one (else the page is written). A file already there (a
    retried task wrote it) is replaced, never written through: it may itself be a link to the published
    page."""
    for _attempt in range(2):
        try:
            os.link(source, target)
            return True
        except FileExistsError:
            os.unlink(target)
        except OSError:
            return False
    return False


def _same_bytes(path: str, data: bytes) -> bool:
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size != len(data):
                return False
            return handle.read() == data
    except OSError:
        return False
