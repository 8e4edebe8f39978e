"""`build.py serve`: the local preview applies access.json for the chosen user; the session-check stand-in
answers as nginx's auth_request expects. Both run for real on loopback."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from nginx_helpers import free_port
from test_access import MATRIX, OWN, USERS, an_asset, assert_reader_document, build_access_site

import build
from pipeline.serve import SESSION_COOKIE, URI_HEADER, preview_server, session_check_server

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def access_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_access_site(tmp_path_factory.mktemp("serve"))


def get(port: int, uri: str, headers: dict[str, str] | None = None, method: str = "GET"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, uri, headers=headers or {})
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


def running(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.mark.parametrize("uid", [u[0] for u in USERS])
def test_the_preview_applies_the_rules_for_its_user(access_site: tuple[Path, Path], uid: str) -> None:
    site, directory = access_site
    server = running(preview_server(site, directory, uid, "127.0.0.1", 0))
    try:
        port = server.server_address[1]
        for pattern, readers in MATRIX.items():
            uri = pattern.format(asset=an_asset(site))
            response = get(port, uri)
            assert response.status == (200 if uid in readers else 403), uri
            if response.status == 403:
                assert "Accès refusé" in response.body.decode() and uid in response.body.decode()
    finally:
        server.shutdown()
        server.server_close()


def test_the_preview_serves_the_decided_file_and_no_listing(access_site: tuple[Path, Path]) -> None:
    site, directory = access_site
    server = running(preview_server(site, directory, "teacher-c1", "127.0.0.1", 0))
    try:
        port = server.server_address[1]
        page = get(port, "/structures/s1/classes/c1/index.html")
        assert page.body == (site / "structures/s1/classes/c1/index.html").read_bytes()
        assert get(port, "/structures/s1/classes/c2/../c1/").body == page.body
        assert get(port, "/").body == (site / "index.html").read_bytes()
        moved = get(port, "/structures/s1/classes/c1")
        assert moved.status == 301 and moved.getheader("Location") == "/structures/s1/classes/c1/"
        assert get(port, "/assets/").status == 404  # readable folder, but no listing
        assert get(port, "/structures/s1/classes/c1/csv/").status == 404
        assert get(port, "/structures/s1/classes/c1/none.html").status == 404
        assert get(port, "/structures/s1/classes/c1/index.html", method="HEAD").status == 200
    finally:
        server.shutdown()
        server.server_close()


def test_the_session_check_stand_in(access_site: tuple[Path, Path]) -> None:
    site, directory = access_site
    server = running(session_check_server(site, directory, "127.0.0.1", 0))
    try:
        port = server.server_address[1]

        def status(cookie: str | None, uri: str | None) -> int:
            headers = {"Cookie": cookie} if cookie else {}
            if uri is not None:
                headers[URI_HEADER] = uri
            return get(port, "/statistiques/session-check", headers).status

        assert status(f"{SESSION_COOKIE}=teacher-c1", "/structures/s1/classes/c1/index.html") == 204
        assert status(f"a=b; {SESSION_COOKIE}=teacher-c1", "/structures/s1/index.html") == 403
        assert status(f"{SESSION_COOKIE}=staff-s1", "/structures/s1/index.html") == 204
        assert status(f"{SESSION_COOKIE}=staff-s1", None) == 403  # no path: nothing granted
        assert status(f"{SESSION_COOKIE}=nobody", "/index.html") == 401
        assert status("other=staff-s1", "/index.html") == 401
        assert status(None, "/index.html") == 401
        assert status('bad"cookie', "/index.html") == 401
    finally:
        server.shutdown()
        server.server_close()


def test_the_stand_in_and_the_preview_answer_me_for_their_reader(access_site: tuple[Path, Path]) -> None:
    site, directory = access_site
    check = running(session_check_server(site, directory, "127.0.0.1", 0))
    try:
        port = check.server_address[1]
        for uid in OWN:
            response = get(port, "/statistiques/me", {"Cookie": f"{SESSION_COOKIE}={uid}"})
            assert response.status == 200 and response.getheader("Cache-Control") == "no-store", uid
            assert_reader_document(uid, json.loads(response.body))
        assert get(port, "/statistiques/me").status == 401
    finally:
        check.shutdown()
        check.server_close()
    for uid in ("teacher-2", None):  # the preview as a user, and of the whole site (a super administrator)
        server = running(preview_server(site, directory, uid, "127.0.0.1", 0))
        try:
            document = json.loads(get(server.server_address[1], "/_me").body)
            if uid:
                assert_reader_document(uid, document)
            else:
                assert document == {"version": 1, "super_admin": True, "main": None, "entities": []}
        finally:
            server.shutdown()
            server.server_close()


def test_serve_without_user_lists_users_of_each_kind(access_site: tuple[Path, Path]) -> None:
    site, directory = access_site
    result = CliRunner().invoke(build.cli, ["serve", str(site), "--directory", str(directory)])
    assert result.exit_code == 1
    for uid, kind in [
        ("admin", "SUPER_ADMIN"),
        ("adml-s1", "ADML"),
        ("teacher-c1", "Teacher"),
        ("pupil-c1", "Student"),
    ]:
        assert any(line.split()[:2] == [uid, kind] for line in result.output.splitlines()), result.output
    assert "Error: choose whom to preview as: --user ID" in result.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--user", "staff-s1"], "give --directory DIR, the snapshot folder holding users.csv"),
        (
            ["--directory", "{directory}", "--user", "nobody"],
            "users.csv: no user 'nobody'; run `build.py serve",
        ),
        (
            ["--directory", "{site}", "--user", "staff-s1"],
            "users.csv: missing; the preview needs the accounts",
        ),
    ],
)
def test_serve_errors_say_what_to_do(
    access_site: tuple[Path, Path], arguments: list[str], message: str
) -> None:
    site, directory = access_site
    arguments = [a.format(site=site, directory=directory) for a in arguments]
    result = CliRunner().invoke(build.cli, ["serve", str(site), *arguments])
    assert result.exit_code == 1 and message in result.output, result.output


def test_serve_refuses_a_site_without_access_json(access_site: tuple[Path, Path], tmp_path: Path) -> None:
    _site, directory = access_site
    result = CliRunner().invoke(
        build.cli, ["serve", str(tmp_path), "--directory", str(directory), "--user", "admin"]
    )
    assert result.exit_code == 1
    assert f"{tmp_path / 'access.json'}: missing; build the site with this version" in result.output


def test_build_py_serve_for_real(access_site: tuple[Path, Path]) -> None:
    site, directory = access_site
    port = free_port()
    command = [sys.executable, "build.py", "serve", str(site), "--directory", str(directory)]
    process = subprocess.Popen(
        [*command, "--user", "staff-s1", "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        banner = process.stdout.readline()
        assert f"as staff-s1 (Personnel): http://127.0.0.1:{port}/" in banner
        deadline = time.monotonic() + 10
        while True:
            try:
                response = get(port, "/structures/s1/index.html")
                break
            except OSError:
                assert time.monotonic() < deadline, "build.py serve did not answer within 10 s"
                time.sleep(0.05)
        assert response.status == 200
        assert get(port, "/structures/s2/index.html").status == 403
        assert get(port, "/platform/index.html").status == 403
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_on_a_busy_port_says_so(access_site: tuple[Path, Path]) -> None:
    site, directory = access_site
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        arguments = [
            "serve",
            str(site),
            "--directory",
            str(directory),
            "--user",
            "admin",
            "--port",
            str(port),
        ]
        result = CliRunner().invoke(build.cli, arguments)
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output and "choose another --port" in result.output


def test_serve_has_help() -> None:
    result = CliRunner().invoke(build.cli, ["serve", "--help"])
    assert result.exit_code == 0
    assert all(option in result.output for option in ("--directory", "--user", "--port", "--host"))


def test_the_preview_serves_csv_from_the_stored_gzip_and_the_whole_site_without_a_user(
    access_site: tuple[Path, Path],
) -> None:
    site, _directory = access_site
    stored = (site / "structures/s1/csv/connections-by-day.csv.gz").read_bytes()
    server = running(preview_server(site, None, None, "127.0.0.1", 0))  # a super administrator's view
    try:
        port = server.server_address[1]
        plain = get(port, "/structures/s1/csv/connections-by-day.csv")
        assert plain.status == 200 and plain.body == gzip.decompress(stored)
        assert plain.getheader("Content-Type") == "text/csv; charset=utf-8"
        assert plain.getheader("Content-Encoding") is None
        zipped = get(port, "/structures/s1/csv/connections-by-day.csv", {"Accept-Encoding": "gzip, br"})
        assert zipped.body == stored and zipped.getheader("Content-Encoding") == "gzip"
        for pattern in MATRIX:
            assert get(port, pattern.format(asset=an_asset(site))).status == 200, pattern
        assert get(port, "/structures/s1/csv/nothing.csv").status == 404
    finally:
        server.shutdown()
        server.server_close()
