"""Access by path: users.csv, access.json, `may_read`, and the shipped nginx configuration run for real
(Debian's /usr/sbin/nginx on loopback, `auth_request` to the session-check stand-in of pipeline.serve)."""

from __future__ import annotations

import csv
import gzip
import json
import re
import subprocess
from datetime import date
from pathlib import Path

import pytest
from conftest import event, write_directory, write_lines
from nginx_helpers import NGINX, SHIPPED_CONF, fetch, running_nginx

from pipeline import ingest
from pipeline.access import ACCESS_FILE, Access, access_document, may_read, site_path
from pipeline.directory import FUNCTIONS, Snapshot, User, entity_set, read_users
from pipeline.exceptions import DirectoryError
from pipeline.site import SiteOptions, build

ASSET_CACHE = "private, max-age=31536000, immutable"  # content-hashed, no figures: kept by the browser

STRUCTURES = [("s1", "0750001A", "Lycée Un"), ("s2", "0750002B", "Collège Deux")]
CLASSES = [("c1", "s1", "2nde A"), ("c2", "s1", "2nde B"), ("c3", "s2", "6e A")]
USERS = [  # id, profile, structures, classes, functions
    ("admin", "Personnel", "s2", "", "SUPER_ADMIN"),
    ("adml-s1", "Teacher", "s1", "c1", "ADML"),
    ("staff-s1", "Personnel", "s1", "", ""),
    ("teacher-c1", "Teacher", "s1", "c1", ""),
    ("parent-c1", "Relative", "s1", "c1", ""),
    ("pupil-c1", "Student", "s1", "c1", ""),
    ("guest-s1", "Guest", "s1", "", ""),
    ("teacher-2", "Teacher", "s2|s1", "c3|c1", ""),  # a class in each of two schools
]
STAFF = {"admin", "adml-s1", "staff-s1", "teacher-c1", "teacher-2"}
S1_READERS = {"admin", "adml-s1", "staff-s1"}
# request URI → the users who may read it (everyone else: 403; no session or an unknown one: 401)
MATRIX: dict[str, set[str]] = {
    "/": STAFF,
    "/index.html": STAFF,
    "/assets/{asset}": STAFF,
    "/platform/index.html": {"admin"},
    "/platform/csv/connections-by-day.csv": {"admin"},
    "/build.json": {"admin"},
    "/access.json": {"admin"},
    "/structures/s1/index.html": S1_READERS,
    "/structures/s1/": S1_READERS,
    "/structures/s1/summary.json": S1_READERS,
    "/structures/s1/csv/connections-by-day.csv": S1_READERS,
    "/structures/%73%31/index.html": S1_READERS,  # s1, percent-encoded
    "/structures/s2/index.html": {"admin"},
    "/structures/s2/csv/top_apps-month.csv": {"admin"},
    "/structures/s1/%2e%2e/s2/index.html": {"admin"},  # = structures/s2/
    "/structures/s1/classes/c1/..%2f..%2f..%2fs2/index.html": {"admin"},  # = structures/s2/
    "/structures/s1/../s2/index.html": {"admin"},
    "/structures/s1/classes/c1/index.html": S1_READERS | {"teacher-c1", "teacher-2"},
    "/structures/s1/classes/c1/csv/connections-by-month.csv": S1_READERS | {"teacher-c1", "teacher-2"},
    "/structures/s1/classes/c2/index.html": S1_READERS,
    "/structures/s2/classes/c3/index.html": {"admin", "teacher-2"},
    # side by side (SPEC 3.5): every structure's figures, for super administrators; a structure's classes,
    # in the structure's folder (not its classes' teachers)
    "/platform/structures.html": {"admin"},
    "/platform/csv/structures.csv": {"admin"},
    "/structures/s1/classes.html": S1_READERS,
    "/structures/s1/csv/classes.csv": S1_READERS,
    "/structures/s2/classes.html": {"admin"},
}


def write_users(
    folder: Path, rows=USERS, header=("id", "profile", "structures", "classes", "functions")
) -> Path:
    with open(folder / "users.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return folder / "users.csv"


def build_access_site(folder: Path) -> tuple[Path, Path]:
    """A tiny site of two structures and three classes, and its directory with users.csv."""
    documents = [
        event(structures=["s1"], classes=["c1"], user="teacher-c1"),
        event(structures=["s1"], classes=["c2"], user="pupil-c2", profile="Student"),
        event(structures=["s2"], classes=["c3"], user="pupil-c3", profile="Student"),
        event("ACCESS", structures=["s2"], user="u9", module="Blog"),
    ]
    lake = folder / "lake"
    ingest.run([write_lines(folder / "events.json", documents)], lake)
    directory = write_directory(folder / "directory", STRUCTURES, CLASSES)
    write_users(directory)
    site = folder / "site"
    build(SiteOptions(lake, directory, site, date(2026, 3, 31)))
    return site, directory


@pytest.fixture(scope="module")
def access_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_access_site(tmp_path_factory.mktemp("access"))


def an_asset(site: Path) -> str:
    return sorted(p.name for p in (site / "assets").iterdir())[0]


# users.csv --------------------------------------------------------------------------------------------
def test_users_csv_is_read_with_its_lists_and_functions(tmp_path: Path) -> None:
    assert read_users(tmp_path) is None  # optional: no file, no users
    write_users(
        tmp_path,
        [("u-1", "Teacher", "s1|s2", " c1 | c3 ", "ADML|SUPER_ADMIN"), ("u-2", "Student", "", "", "")],
    )
    users = read_users(tmp_path)
    assert users == {
        "u-1": User("u-1", "Teacher", ("s1", "s2"), ("c1", "c3"), frozenset(FUNCTIONS)),
        "u-2": User("u-2", "Student"),
    }


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            ("u 1", "Teacher", "s1", "", ""),
            r"line 3: id 'u 1' has a character outside .*; fix or remove that row",
        ),
        (
            ("u-1", "Teacher", "s1", "", ""),
            r"line 3: user 'u-1' is already on line 2; keep one row per account",
        ),
        (
            ("u-3", "Director", "s1", "", ""),
            r"line 3: profile 'Director' is not one of Teacher, Student, .*write",
        ),
        (
            ("u-3", "Teacher", "s1,s2", "", ""),
            r"line 3: structures item 's1,s2' has a character .*separated by '\|'",
        ),
        (("u-3", "Teacher", "s1", "c1||c2", ""), r"line 3: classes item '' has a character"),
        (("u-3", "Personnel", "s1", "", "ADMIN_LOCAL"), r"line 3: function 'ADMIN_LOCAL' is unknown; .*ADML"),
    ],
)
def test_a_bad_users_row_names_the_file_the_line_and_the_fix(tmp_path: Path, row, message) -> None:
    path = write_users(tmp_path, [("u-1", "Teacher", "s1", "c1", ""), row])
    with pytest.raises(DirectoryError, match=re.escape(str(path)) + ", " + message):
        read_users(tmp_path)


def test_a_users_header_without_a_column_is_refused(tmp_path: Path) -> None:
    path = write_users(tmp_path, [("u-1", "Teacher")], header=("id", "profile"))
    with pytest.raises(DirectoryError, match=re.escape(f"{path}, line 1: header lacks structures, classes")):
        read_users(tmp_path)


# access.json and may_read -----------------------------------------------------------------------------
def small_access() -> Access:
    snapshot = Snapshot(
        {sid: {"uai": uai, "name": name} for sid, uai, name in STRUCTURES},
        {cid: {"structure_id": sid, "name": name} for cid, sid, name in CLASSES},
    )
    return Access(access_document(entity_set(snapshot, {"s-seen"}, set()).entities))


def user(profile: str, structures=(), classes=(), functions=()) -> User:
    return User("u", profile, tuple(structures), tuple(classes), frozenset(functions))


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("/", "index.html"),
        ("/index.html?x=1#top", "index.html"),
        ("/structures/s1", "structures/s1"),
        ("/structures/s1/", "structures/s1/"),
        ("//structures/./s1//csv/a.csv", "structures/s1/csv/a.csv"),
        ("/structures/s1/../s2/", "structures/s2/"),
        ("/structures/s1/%2E%2E/s2/index.html", "structures/s2/index.html"),
        ("/structures/s1/..%2Fs2/index.html", "structures/s2/index.html"),
        ("/structures/s1/classes/..", "structures/s1/"),
        ("/structures/s1/%253Fx", "structures/s1/%3Fx"),  # decoded once, as nginx does
        ("/..", None),
        ("/structures/../../etc/passwd", None),
        ("/%2e%2e/etc/passwd", None),
        ("/a%00b", None),
        ("/%ff", None),
        ("http://other/structures/s1/", None),
        ("structures/s1/", None),
    ],
)
def test_site_path_resolves_as_nginx_does(uri: str, path: str | None) -> None:
    assert site_path(uri) == path


URIS = [
    "/",
    "/assets/app.js",
    "/platform/",
    "/build.json",
    "/access.json",
    "/anything",
    "/structures/",
    "/structures/s1/",
    "/structures/s1/classes/",
    "/structures/s1/classes/c1/",
    "/structures/s1/classes/c1/index.html",
    "/structures/s1/classes/c2/csv/x.csv",
    "/structures/s2/index.html",
    "/structures/s2/classes/c3/",
    "/structures/s-seen/index.html",
]


@pytest.mark.parametrize(
    ("reader", "readable"),
    [
        (user("Teacher", ["s1"], ["c1"]), ["/", "/assets/", "/structures/s1/classes/c1/"]),
        (
            user("Teacher", ["s1", "s2"], ["c1", "c3"]),
            ["/", "/assets/", "/structures/s1/classes/c1/", "/structures/s2/classes/c3/"],
        ),
        (user("Teacher", ["s1"], []), ["/", "/assets/"]),
        (user("Personnel", ["s1"]), ["/", "/assets/", "/structures/s1/"]),
        (user("Personnel", ["s-seen"]), ["/", "/assets/", "/structures/s-seen/"]),
        (
            user("Teacher", ["s1"], ["c3"], ["ADML"]),
            ["/", "/assets/", "/structures/s1/", "/structures/s2/classes/c3/"],
        ),
        (user("Relative", [], [], ["SUPER_ADMIN"]), URIS),
        (user("Relative", ["s1"], ["c1"]), []),
        (user("Student", ["s1"], ["c1"]), []),
        (user("Guest", ["s1"]), []),
        (user("Relative", ["s1"], ["c1"], ["ADML"]), ["/", "/assets/", "/structures/s1/"]),
    ],
)
def test_the_rules_by_kind_of_user(reader: User, readable: list[str]) -> None:
    """`readable`: URIs read exactly, or (ending in /, not the root) with everything below them."""
    access = small_access()
    for uri in URIS:
        expected = any(uri == r or (r != "/" and r.endswith("/") and uri.startswith(r)) for r in readable)
        assert may_read(reader, uri, access) is expected, uri
    assert may_read(None, "/", access) is False


def test_traversal_and_encoding_never_widen_access() -> None:
    access = small_access()
    teacher = user("Teacher", ["s1"], ["c1"])
    staff = user("Personnel", ["s1"])
    for uri in [
        "/structures/s1/classes/c1/../../../s2/index.html",
        "/structures/s1/classes/c1/%2e%2e/%2e%2e/%2e%2e/s2/",
        "/structures/s1/classes/c1/..%2f..%2f..%2fs2/",
        "/structures/s1/classes/c1/../c2/index.html",
        "/structures/s1/classes/c1/%2e%2e%2fc2/index.html",
        "/structures/s1/classes/c1/../../index.html",
        "/structures/s1/classes/c1/../../../../platform/",
        "/structures/s1/classes/c1/../../../../../etc/passwd",
        "/structures/s1/classes/c1%2f..%2f..%2f..%2fs2/",
    ]:
        assert not may_read(teacher, uri, access), uri
    assert may_read(teacher, "/structures/s1/classes/%63%31/index.html", access)
    assert may_read(teacher, "/structures/s1/classes/c2/../c1/csv/a.csv", access)
    assert not may_read(staff, "/structures/s1/%2e%2e/s2/index.html", access)
    assert not may_read(staff, "/structures/s1/../../platform/index.html", access)
    assert may_read(staff, "/structures/s2/../s1/index.html", access)


def test_unknown_or_empty_grants_never_grant() -> None:
    document = access_document([])
    document["paths"]["odd/"] = {"allow": [{}, {"profile": "Teacher", "clearance": "high"}]}
    access = Access(document)
    assert not may_read(user("Teacher", ["s1"], ["c1"]), "/odd/x.html", access)
    document["version"] = 2
    with pytest.raises(Exception, match="not an access document of version 1; rebuild the site"):
        Access(document)


def test_the_site_writes_access_json_for_every_folder(access_site: tuple[Path, Path]) -> None:
    site, _directory = access_site
    document = json.loads((site / ACCESS_FILE).read_text(encoding="utf-8"))
    folders = {p.parent.relative_to(site).as_posix() + "/" for p in site.rglob("summary.json")}
    assert folders == {
        k for k, v in document["paths"].items() if v["kind"] in ("platform", "structure", "class")
    }
    assert document["everywhere"] == [{"function": "SUPER_ADMIN"}]
    assert document["paths"]["platform/"]["allow"] == []
    assert document["paths"]["structures/s1/"] == {
        "kind": "structure",
        "structure": "s1",
        "allow": [{"function": "ADML", "structure": "s1"}, {"profile": "Personnel", "structure": "s1"}],
    }
    assert document["paths"]["structures/s2/classes/c3/"]["allow"] == [
        {"function": "ADML", "structure": "s2"},
        {"profile": "Personnel", "structure": "s2"},
        {"profile": "Teacher", "class": "c3"},
    ]
    report = json.loads((site / "build.json").read_text(encoding="utf-8"))
    assert report["files_written"] == sum(1 for p in site.rglob("*") if p.is_file())


def test_every_file_of_the_site_under_the_rules(access_site: tuple[Path, Path]) -> None:
    site, directory = access_site
    access = Access.load(site)
    users = read_users(directory)
    files = ["/" + p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()]
    shared = {f for f in files if f == "/index.html" or f.startswith("/assets/")}
    in_s1 = {f for f in files if f.startswith("/structures/s1/")}
    in_c1 = {f for f in files if f.startswith("/structures/s1/classes/c1/")}
    expected = {
        "admin": set(files),
        "adml-s1": shared | in_s1,
        "staff-s1": shared | in_s1,
        "teacher-c1": shared | in_c1,
        "parent-c1": set(),
        "pupil-c1": set(),
        "guest-s1": set(),
    }
    assert in_c1 and in_s1 - in_c1 and shared
    for uid, readable in expected.items():
        assert {f for f in files if may_read(users[uid], f, access)} == readable, uid


# nginx, for real --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def nginx(access_site: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory):
    site, directory = access_site
    with running_nginx(site, directory, tmp_path_factory.mktemp("nginx")) as port:
        yield port


def test_nginx_applies_access_json_for_each_kind_of_user(nginx: int, access_site: tuple[Path, Path]) -> None:
    site, _directory = access_site
    asset = an_asset(site)
    failures = []
    for pattern, readers in MATRIX.items():
        uri = pattern.format(asset=asset)
        for uid, *_ in USERS:
            response = fetch(nginx, uri, uid)
            expected = 200 if uid in readers else 403
            if response.status != expected:
                failures.append((uid, uri, response.status, expected))
            cache = ASSET_CACHE if response.status == 200 and uri.startswith("/assets/") else "no-store"
            assert response.getheader("Cache-Control") == cache, (uid, uri, response.status)
        for uid in (None, "nobody-known"):
            status = fetch(nginx, uri, uid).status
            if status != 401:
                failures.append((uid, uri, status, 401))
    assert not failures, failures


# GET /_me: the reader's own entities, main first (README "Access")
OWN = {  # user → the folders GET /_me lists, main first
    "admin": ["structures/s2/"],  # a super administrator's main page is the whole index: no main
    "adml-s1": ["structures/s1/", "structures/s1/classes/c1/"],
    "staff-s1": ["structures/s1/"],
    "teacher-c1": ["structures/s1/classes/c1/"],
    "teacher-2": ["structures/s2/classes/c3/", "structures/s1/classes/c1/"],  # not their schools: not theirs
    "parent-c1": [],
    "pupil-c1": [],
    "guest-s1": [],
}


def assert_reader_document(uid: str, document: dict) -> None:
    folders = OWN[uid]
    assert document["version"] == 1 and document["super_admin"] == (uid == "admin"), uid
    assert [e["path"] for e in document["entities"]] == folders, uid
    assert document["main"] == (folders[0] if folders and uid != "admin" else None), uid
    names = {e["path"]: (e["kind"], e["name"], e.get("structure")) for e in document["entities"]}
    expected = {
        "structures/s1/": ("structure", "Lycée Un", None),
        "structures/s2/": ("structure", "Collège Deux", None),
        "structures/s1/classes/c1/": ("class", "2nde A", "Lycée Un"),
        "structures/s2/classes/c3/": ("class", "6e A", "Collège Deux"),
    }
    assert names == {path: expected[path] for path in folders}, uid


def test_nginx_sends_me_to_the_session_check_for_the_reader(nginx: int) -> None:
    for uid in OWN:
        response = fetch(nginx, "/_me", uid)
        assert response.status == 200, uid
        assert response.getheader("Content-Type") == "application/json; charset=utf-8"
        assert response.getheader("Cache-Control") == "no-store"
        assert response.getheader("Content-Security-Policy")  # the server's headers, as on every answer
        assert_reader_document(uid, json.loads(response.body))
    assert fetch(nginx, "/_me").status == 401
    assert fetch(nginx, "/_me", "nobody-known").status == 401
    assert fetch(nginx, "/_me", "admin", method="POST").status == 403


GZIP = {"Accept-Encoding": "gzip"}


def test_nginx_serves_the_files_themselves(nginx: int, access_site: tuple[Path, Path]) -> None:
    site, _directory = access_site
    page = fetch(nginx, "/structures/s1/classes/c1/index.html", "teacher-c1")
    assert page.status == 200
    assert page.body == (site / "structures/s1/classes/c1/index.html").read_bytes()
    stored = (site / "structures/s1/csv/connections-by-day.csv.gz").read_bytes()
    assert not (site / "structures/s1/csv/connections-by-day.csv").exists()  # stored compressed only
    plain = fetch(nginx, "/structures/s1/csv/connections-by-day.csv", "staff-s1")  # no Accept-Encoding
    assert plain.status == 200 and plain.body == gzip.decompress(stored)
    assert plain.body.startswith('\ufeff"Établissement";'.encode())
    assert plain.getheader("Content-Encoding") is None
    assert plain.getheader("Content-Type") == "text/csv; charset=utf-8"
    zipped = fetch(nginx, "/structures/s1/csv/connections-by-day.csv", "staff-s1", headers=GZIP)
    assert zipped.status == 200 and zipped.body == stored and zipped.getheader("Content-Encoding") == "gzip"
    assert zipped.getheader("Content-Type") == "text/csv; charset=utf-8"
    assert "Accept-Encoding" in zipped.getheader("Vary", "")
    assert fetch(nginx, "/structures/s1/csv/connections-by-day.csv", "teacher-c1", headers=GZIP).status == 403
    assert fetch(nginx, "/structures/s1", "staff-s1").status == 301  # nginx adds the folder's slash
    assert fetch(nginx, "/structures/s1/nothing.html", "staff-s1").status == 404
    assert fetch(nginx, "/structures/s2/nothing.html", "staff-s1").status == 403  # existence is not told
    assert fetch(nginx, "/_auth", "admin").status == 404  # the check is internal
    assert fetch(nginx, "/assets/", "admin").status in (403, 404)  # no listings
    assert fetch(nginx, "/structures/s1/index.html", "admin", method="POST").status == 403
    assert fetch(nginx, "/structures/s1/index.html", "staff-s1", method="HEAD").status == 200


@pytest.mark.skipif(not NGINX.is_file(), reason=f"{NGINX} is absent: apt-get install nginx-light")
def test_the_shipped_configuration_is_valid_as_shipped(tmp_path: Path) -> None:
    mime = "include /etc/nginx/mime.types;" if Path("/etc/nginx/mime.types").is_file() else ""
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nevents {{}}\nhttp {{ {mime} include {SHIPPED_CONF}; }}\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [
            str(NGINX),
            "-t",
            "-p",
            str(tmp_path),
            "-e",
            f"{tmp_path}/error.log",
            "-c",
            str(tmp_path / "nginx.conf"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
