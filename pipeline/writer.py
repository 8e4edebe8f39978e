"""Stage 4: the indicator tables → the site's files.

Two steps, in this order: `write_shared` writes what every page shares (assets, the root index, access.json)
and returns the page renderer; `write_entities` then writes every entity's files, over forked writers. One
function, `EntityWriter.write`, writes all of an entity's files: its CSV exports (precompressed, SPEC 3.2),
summary.json, data.js and its eight pages. A page whose bytes equal the published build's is hard-linked
from it instead of written again (its text holds nothing that changes from night to night).

A recycled build folder (pipeline.publish: the spare, a former site) is written over: each file is rewritten
in place, and what the new site no longer has is removed, an entity's files by its writer (`prune`), the
rest once every entity is written (`prune_folders`).
"""

from __future__ import annotations

import contextlib
import gzip
import multiprocessing
import os
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from isal import igzip

from . import assets, render, runs_page, side_by_side
from .access import ACCESS_FILE, access_json
from .cluster import Cluster, load_shared, save_shared
from .constants import CSV_STORED_SUFFIX, RUNS_CSV, RUNS_DATA, RUNS_PAGE, RUNS_TITLE, SIDE_BY_SIDE
from .csv_export import entity_csvs
from .holidays import HolidayZones
from .indicator_tables import IndicatorTables
from .model import STRUCTURE, Entity
from .progress import progress

# ISA-L at level 1: a structure's 18 CSV files (954 KB) in 0.44 ms, 16.7× smaller; zlib level 1 took 2.1 ms
# for 15.3×, level 6 6.2 ms for 18.6× (measured on the demo). mtime 0: the same text gives the same bytes.
GZIP_LEVEL = 1
ROOT_INDEX = "index.html"
ROOT_FILES = (ROOT_INDEX, ACCESS_FILE, "build.json")  # build.json: written by the site stage, last
ENTITY_FOLDERS = ("csv", "classes")  # an entity's subfolders (a structure's classes: see prune_folders)
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

    def render_report(self, seconds: float, setup_seconds: float, recycled: bool) -> dict[str, float | int]:
        return {
            "recycled": recycled,  # written over the spare build (pipeline.publish)
            "pages_written": self.pages,
            "pages_linked": self.linked,
            "pages_per_second": round(self.pages / seconds, 1) if seconds else 0.0,
            "html_bytes_per_entity": round(self.html_bytes / self.entities) if self.entities else 0,
            "setup_seconds": round(setup_seconds, 3),
        }


_REWRITE = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


def write_file(path: str | Path, data: bytes, kind: str, written: Written) -> None:
    """Create the file, or rewrite it in place (plain os calls: a site is ~28 files per entity, pathlib's
    cost shows). In place, not truncated first: on ext4, rewriting 176,000 files of 3 KB took 0.43 s (0.55 s
    of system time) where O_TRUNC took 4.1 s (2.3 s): it frees the blocks, then allocates new ones. A
    file that is also another's (a page hard-linked from the served build) is replaced, never written
    through."""
    fd = os.open(path, _REWRITE, 0o666)
    try:
        status = os.fstat(fd)
        if status.st_nlink > 1:
            os.close(fd)
            fd = -1
            os.unlink(path)
            fd = os.open(path, _REWRITE | os.O_EXCL, 0o666)
        elif status.st_size > len(data):
            os.ftruncate(fd, len(data))
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        if fd != -1:
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


def prune(folder: str | Path, files: Iterable[str], folders: Iterable[str] = ()) -> None:
    """Remove from `folder` (in a recycled build) every file not named in `files` and every folder not named
    in `folders`."""
    files, folders = set(files), set(folders)
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in folders:
                    shutil.rmtree(entry.path)
            elif entry.name not in files:
                os.unlink(entry.path)


def gzip_bytes(data: bytes) -> bytes:
    return igzip.compress(data, GZIP_LEVEL, mtime=0)


# ------------------------------------------------------------------------------------------- the steps
def write_shared(
    site: Path, entities: list[Entity], holidays: HolidayZones, written: Written
) -> render.Pages:
    """The assets (content-hashed names), the root index and access.json; the pages' renderer."""
    folder = site / "assets"
    folder.mkdir(parents=True, exist_ok=True)
    names = {}
    for logical, text in assets.asset_texts(entities).items():
        names[logical] = assets.asset_name(logical, text)
        data = text.encode("utf-8")
        kind = logical.rpartition(".")[2]
        write_file(folder / names[logical], data, kind, written)
        # served as is to browsers that accept gzip (nginx's gzip_static): the Vega runtime's 900 KB cross
        # the network as 306 KB. Written once a build, so compressed at the best level.
        write_file(folder / (names[logical] + ".gz"), gzip.compress(data, 9, mtime=0), kind, written)
    write_file(site / ACCESS_FILE, access_json(entities).encode("utf-8"), "json", written)
    write_page(site / ROOT_INDEX, render.root_index(entities, names).encode("utf-8"), written)
    return render.Pages(entities, names, holidays)


def prune_folders(site: Path, entities: list[Entity], pages: render.Pages) -> None:
    """In a recycled build, once every file is written: remove what the former site had and this one has
    not, but for the entities' own files (their writer prunes them): files at the root and in assets/, the
    folders of structures and classes that have no pages any more."""
    prune(site / "assets", [n for name in pages.assets.values() for n in (name, name + ".gz")])
    paths = {entity.path for entity in entities}
    inside: defaultdict[str, set[str]] = defaultdict(set)  # folder → the entity folders found in it
    for path in paths:
        parts = path.split("/")
        for depth in range(len(parts)):
            inside["/".join(parts[:depth])].add(parts[depth])
    prune(site, ROOT_FILES, inside.pop("") | {"assets"})
    for folder, names in inside.items():
        if folder not in paths:  # "structures", a structure's "classes"
            prune(site / folder, (), names)
    for entity in entities:  # a structure whose classes all went: their folder
        if entity.kind == STRUCTURE and f"{entity.path}/classes" not in inside:
            shutil.rmtree(site / entity.path / "classes", ignore_errors=True)


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
    recycled: bool = False,
) -> Written:
    """Every entity's files, over `workers` forked processes (default: the cores, at most MAX_WRITERS), or
    in blocks of ENTITIES_PER_TASK as tasks on `cluster`. `recycled`: `site` holds a former site, whose
    entity files this site no longer has are removed."""
    tables.tiles  # noqa: B018 -- computed once here, inherited by the forked writers (or sent with them)
    writer = EntityWriter(site, tables, pages, side_by_side.listings(tables.entities), previous, recycled)
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
    writer.write_all(range(start, stop), written)
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
    recycled: bool = False  # the site folder holds a former site: what an entity no longer has is removed

    def write_share(self, index: int, count: int) -> Written:
        """Every `count`-th entity from `index`."""
        written = Written()
        self.write_all(range(index, len(self.tables), count), written)
        return written

    def write_all(self, indices: range, written: Written) -> None:
        """Entities `indices`, in order. In a recycled build, the files of the next one are read ahead
        while this one is written: a file of less than a page whose page is no longer in memory is read by
        the kernel before it is rewritten (medium site, caches dropped: write 10.4-12.6 s, 9.6-9.8 s with
        the read ahead)."""
        for k, i in enumerate(indices):
            if self.recycled and k + 1 < len(indices):
                _read_ahead(os.path.join(self.site, self.tables.entities[indices[k + 1]].path))
            self.write(i, written)

    def write(self, i: int, written: Written) -> None:
        """All of entity i's files: CSVs, summary.json, data.js, pages, and its side-by-side page and CSV
        (the platform, a structure)."""
        figures = self.tables.figures(i)
        relative = figures.entity.path
        folder = os.path.join(self.site, relative)
        csv_folder = os.path.join(folder, "csv")
        os.makedirs(csv_folder, exist_ok=True)
        csv_names = []
        for name, text in entity_csvs(figures).items():
            csv_names.append(name + CSV_STORED_SUFFIX)
            write_file(os.path.join(csv_folder, csv_names[-1]), gzip_bytes(text), "csv", written)
        summary = self.pages.summary_json(figures).encode("utf-8")
        write_file(os.path.join(folder, "summary.json"), summary, "json", written)
        write_file(os.path.join(folder, "data.js"), self.pages.data_script(figures), "js", written)
        names = ["summary.json", "data.js"]
        previous = os.path.join(self.previous, relative) if self.previous is not None else None
        for name, html in self.pages.of(figures):
            same_page = os.path.join(previous, name) if previous is not None else None
            write_page(os.path.join(folder, name), html.encode("utf-8"), written, same_page)
            names.append(name)
        if i in self.listings:
            page, csv_name = self.write_side_by_side(figures.entity, self.listings[i], folder, written)
            names.append(page)
            csv_names.append(csv_name)
        if self.recycled:
            prune(folder, names, ENTITY_FOLDERS)
            prune(csv_folder, csv_names)
        written.entities += 1

    def write_side_by_side(
        self, owner: Entity, listed: list[int], folder: str, written: Written
    ) -> tuple[str, str]:
        """The page comparing the entities `owner` lists, and its CSV; their file names."""
        page, csv_name, _kind, _words = SIDE_BY_SIDE[owner.kind]
        rows = side_by_side.rows_of(self.tables.tiles, self.tables.entities, listed)
        csv_name += CSV_STORED_SUFFIX
        csv_data = gzip_bytes(side_by_side.csv_bytes(rows))
        write_file(os.path.join(folder, "csv", csv_name), csv_data, "csv", written)
        html = side_by_side.page_html(self.pages, owner, rows, render.date_words(self.tables.as_of))
        write_page(os.path.join(folder, page), html.encode("utf-8"), written)
        return page, csv_name


def _read_ahead(folder: str) -> None:
    """Ask the kernel to read the files of `folder` and its `csv/` into memory, without waiting for it."""
    for sub in (folder, os.path.join(folder, "csv")):
        try:
            with os.scandir(sub) as entries:
                for entry in entries:
                    if entry.is_file(follow_symlinks=False):
                        fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                        try:
                            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
                        finally:
                            os.close(fd)
        except OSError:  # an entity new tonight (no folder); a hint never fails the build
            pass


def _linked(source: str, target: str | Path) -> bool:
    """A hard link, where the file system allows one (else the page is written). A file already there (a
    retried task wrote it, a recycled build held it) is kept when it is `source` itself (a page that has
    not changed for two nights), else replaced, never written through."""
    for _attempt in range(2):
        try:
            os.link(source, target)
            return True
        except FileExistsError:
            if os.path.samefile(source, target):
                return True
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
