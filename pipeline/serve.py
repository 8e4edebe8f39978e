"""Two small HTTP servers over the access rules of `pipeline.access` (SITE/access.json):

- the preview (`build.py serve SITE --directory DIR --user ID`): serves SITE as the ENT's proxy would for
  one user of the directory snapshot's `users.csv`, 403 for what that user may not read; `build.py serve
  SITE` alone serves the whole site, as a super administrator would read it. CSV files are served from
  their stored `.csv.gz` as the shipped nginx serves them;
- the session-check stand-in (`python -m pipeline.serve session-check …`): what nginx's `auth_request`
  asks in the tests and in a local trial of `deploy/nginx/statistiques.conf`. It answers 204 when the
  session's user may read `X-Original-URI`, 401 without a known session, 403 otherwise. Its "session" is
  the cookie `oneSessionId` holding a user id, so it is for loopback tests only: in production the ENT's own
  session check plays this role (README "Access"). It also answers the reader's question `GET /_me` (their
  own structures and classes, `reader_document`), which the preview answers too.
"""

from __future__ import annotations

import argparse
import gzip
import io
import ipaddress
import json
import logging
import sys
from functools import partial
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

from .access import ADML, SUPER_ADMIN, Access, may_read, site_path
from .directory import USERS_FILE, Snapshot, User, read_snapshot, read_users
from .exceptions import StatistiquesError

log = logging.getLogger(__name__)

SESSION_COOKIE = "oneSessionId"  # the ENT's session cookie; the stand-in reads a user id in it
URI_HEADER = "X-Original-URI"  # set by nginx (deploy/nginx/statistiques.conf) on the auth subrequest
ME_URL = "/_me"  # the reader's own entities, asked by the pages (site_src/app.js)
CHECK_ME_PATH = "/statistiques/me"  # where nginx's `location = /_me` sends that question to the session check
READER_VERSION = 1
KINDS = ("SUPER_ADMIN", "ADML", "Personnel", "Teacher", "Relative", "Student", "Guest")


def kind_of(user: User) -> str:
    """SUPER_ADMIN, ADML or the profile: how the rules see the user, for listings and messages."""
    if SUPER_ADMIN in user.functions:
        return SUPER_ADMIN
    if ADML in user.functions:
        return ADML
    return user.profile


def load_users(directory: Path | None) -> dict[str, User]:
    if directory is None:
        raise StatistiquesError(
            f"no users to preview as: give --directory DIR, the snapshot folder holding {USERS_FILE}"
        )
    users = read_users(directory)
    if users is None:
        raise StatistiquesError(
            f"{Path(directory) / USERS_FILE}: missing; the preview needs the accounts "
            '(header id,profile,structures,classes,functions; README "Access")'
        )
    return users


def sample_users(users: dict[str, User], per_kind: int = 3) -> str:
    """A few users of each kind, as lines to print: id, kind, structures, classes."""
    lines = ["Users of the directory, a few of each kind (preview as one with --user ID):"]
    for kind in KINDS:
        chosen = [u for u in users.values() if kind_of(u) == kind][:per_kind]
        for user in chosen:
            where = " ".join(sorted(user.structures)) or "-"
            classes = " ".join(sorted(user.classes)[:4]) + (" …" if len(user.classes) > 4 else "")
            lines.append(
                f"  {user.id:<20} {kind:<11} structures: {where}"
                + (f"; classes: {classes}" if classes else "")
            )
    return "\n".join(lines)


def reader_document(user: User, access: Access, snapshot: Snapshot | None) -> dict:
    """The answer to `GET /_me` (README "Access"): the entity folders that are the reader's own (their
    structures, then their classes, in users.csv's order) among those the access rules let them read, with
    their names for the switcher; `main`, the summary the root index opens: the first of them, none for a
    super administrator (the whole index is theirs)."""
    structures = snapshot.structures if snapshot else {}
    classes = snapshot.classes if snapshot else {}
    own: list[dict] = []
    for structure_id in user.structures:
        path = f"structures/{structure_id}/"
        if path in access.folders and may_read(user, "/" + path, access):
            name = structures.get(structure_id, {}).get("name") or structure_id
            own.append({"kind": "structure", "path": path, "name": name})
    for class_id in user.classes:
        path = access.class_folders.get(class_id)
        if path is not None and may_read(user, "/" + path, access):
            known = classes.get(class_id, {})
            structure_id = known.get("structure_id", path.split("/")[1])
            structure = structures.get(structure_id, {}).get("name") or structure_id
            own.append(
                {"kind": "class", "path": path, "name": known.get("name") or class_id, "structure": structure}
            )
    return {
        "version": READER_VERSION,
        "super_admin": SUPER_ADMIN in user.functions,
        "main": own[0]["path"] if own and SUPER_ADMIN not in user.functions else None,
        "entities": own,
    }


def _send_json(handler: BaseHTTPRequestHandler, document: dict) -> None:
    body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    handler.send_response(HTTPStatus.OK)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Cache-Control", "no-store")
    handler.end_headers()
    handler.wfile.write(body)


# The preview ------------------------------------------------------------------------------------------
class PreviewServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        site: Path,
        access: Access,
        user: User,
        snapshot: Snapshot | None = None,
    ):
        self.site = Path(site)
        self.access = access
        self.user = user
        self.snapshot = snapshot
        super().__init__(address, partial(_PreviewHandler, directory=str(self.site)))

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


class _PreviewHandler(SimpleHTTPRequestHandler):
    server: PreviewServer

    def do_GET(self) -> None:
        if self.path.split("?")[0] == ME_URL:
            _send_json(self, reader_document(self.server.user, self.server.access, self.server.snapshot))
            return
        super().do_GET()

    def send_head(self):
        user = self.server.user
        path = site_path(self.path)
        if path is None or not may_read(user, self.path, self.server.access):
            self.send_error(
                HTTPStatus.FORBIDDEN,
                "Accès refusé",
                f"{user.id} ({kind_of(user)}) may not read this path under the ENT's rules (access.json).",
            )
            return None
        self.path = "/" + quote(path)
        stored = self.server.site / (path + ".gz")
        if path.endswith(".csv") and stored.is_file():
            return self._send_stored_csv(stored)
        return super().send_head()  # serves exactly the path that was decided

    def _send_stored_csv(self, stored: Path) -> io.BytesIO:
        """csv/<name>.csv from its stored csv/<name>.csv.gz, as the shipped nginx does: as is to a client
        that accepts gzip, decompressed to one that does not (SPEC 3.2)."""
        body = stored.read_bytes()
        accepts_gzip = "gzip" in self.headers.get("Accept-Encoding", "").lower()
        if not accepts_gzip:
            body = gzip.decompress(body)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/csv; charset=utf-8")
        if accepts_gzip:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def list_directory(self, path):
        self.send_error(HTTPStatus.NOT_FOUND, "No index.html here")
        return None

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:
        log.info("%s %s", self.address_string(), format % args)


WHOLE_SITE_READER = User("super-administrateur (aperçu)", "Personnel", functions=frozenset({SUPER_ADMIN}))


def preview_server(
    site: Path, directory: Path | None, user_id: str | None, host: str = "127.0.0.1", port: int = 8000
) -> PreviewServer:
    """A preview of `site` for `user_id` of `directory/users.csv`, or of the whole site as a super
    administrator when `user_id` is None; bound (not yet serving)."""
    access = Access.load(site)
    snapshot = None  # the names of the reader's own entities (GET /_me): a super administrator has none
    if user_id is None:
        user = WHOLE_SITE_READER
    else:
        user = load_users(directory).get(user_id)
        if user is None:
            raise StatistiquesError(
                f"{Path(directory) / USERS_FILE}: no user {user_id!r}; run `build.py serve {site} "
                f"--directory {directory}` without --user to list some"
            )
        snapshot = read_snapshot(directory)
    if not _is_loopback(host):
        log.warning("serving on %s: anyone who reaches this port reads the site as %s", host, user.id)
    try:
        return PreviewServer((host, port), site, access, user, snapshot)
    except OSError as error:
        raise StatistiquesError(
            f"cannot listen on {host}:{port} ({error.strerror}); choose another --port"
        ) from error


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


# The session-check stand-in ---------------------------------------------------------------------------
class SessionCheckServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        access: Access,
        users: dict[str, User],
        snapshot: Snapshot | None = None,
    ):
        self.access = access
        self.users = users
        self.snapshot = snapshot
        super().__init__(address, _SessionCheckHandler)


class _SessionCheckHandler(BaseHTTPRequestHandler):
    server: SessionCheckServer

    def do_GET(self) -> None:
        user = self.server.users.get(_session_user(self.headers.get("Cookie", "")) or "")
        if self.path.split("?")[0] == CHECK_ME_PATH and user is not None:
            _send_json(self, reader_document(user, self.server.access, self.server.snapshot))
            return
        uri = self.headers.get(URI_HEADER)
        if user is None:
            status = HTTPStatus.UNAUTHORIZED
        elif uri is None or not may_read(user, uri, self.server.access):
            status = HTTPStatus.FORBIDDEN
        else:
            status = HTTPStatus.NO_CONTENT
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    do_HEAD = do_GET

    def log_message(self, format: str, *args) -> None:
        log.info("%s %s", self.address_string(), format % args)


def _session_user(cookie_header: str) -> str | None:
    try:
        morsel = SimpleCookie(cookie_header).get(SESSION_COOKIE)
    except CookieError:
        return None
    return morsel.value if morsel else None


def session_check_server(
    site: Path, directory: Path, host: str = "127.0.0.1", port: int = 8090
) -> SessionCheckServer:
    access = Access.load(site)
    users = load_users(directory)
    try:
        return SessionCheckServer((host, port), access, users, read_snapshot(directory))
    except OSError as error:
        raise StatistiquesError(
            f"cannot listen on {host}:{port} ({error.strerror}); choose another --port"
        ) from error


def main(argv: list[str] | None = None) -> int:
    """`python -m pipeline.serve session-check --site SITE --directory DIR [--host H] [--port P]`."""
    parser = argparse.ArgumentParser(prog="python -m pipeline.serve", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("session-check", help="the stand-in of the ENT's session check, for nginx")
    check.add_argument("--site", type=Path, required=True, help="the built site (its access.json)")
    check.add_argument("--directory", type=Path, required=True, help=f"the snapshot folder with {USERS_FILE}")
    check.add_argument("--host", default="127.0.0.1")
    check.add_argument("--port", type=int, default=8090)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    try:
        server = session_check_server(args.site, args.directory, args.host, args.port)
    except StatistiquesError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    print(f"Session check (stand-in) on http://{args.host}:{server.server_address[1]}/", file=sys.stderr)
    serve_until_interrupted(server)
    return 0


def serve_until_interrupted(server: ThreadingHTTPServer) -> None:
    """Serve until Ctrl-C, then close the socket."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
