"""Who may read which path of the site (access by path): `access.json` and the one function that decides.

The site is served behind the ENT's authenticating proxy, one folder per entity, so reading is decided by
path. The rules, as the ENT has them:

- super administrators (function SUPER_ADMIN) read everything;
- a structure's local administrators (function ADML) and its staff (profile Personnel) read the
  structure's folder and the folders of its classes;
- a teacher (profile Teacher) reads the folders of their own classes (and, if ADML, as above);
- parents (Relative), pupils (Student) and guests (Guest) read nothing;
- the root `index.html` (names and links of the structures, no figures: SPEC 3.1) and `assets/` (no data)
  are read by every user who may read some folder: Teacher, Personnel, ADML (and SUPER_ADMIN);
- `platform/`, `build.json`, `access.json` and any path not listed: super administrators only.

`access_document` writes these rules down per folder, from the entities alone (no list of users: a grant
names a profile, a function, a structure or a class). `may_read` evaluates that document for one user and
one request path; the preview server (`build.py serve`) and the session-check stand-in both call it, and the
ENT's own session check must implement the same evaluation (README "Access").
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

from .directory import User
from .exceptions import StatistiquesError
from .model import CLASS, PLATFORM, STRUCTURE, Entity

ACCESS_FILE = "access.json"
VERSION = 1
SUPER_ADMIN = "SUPER_ADMIN"
ADML = "ADML"
EVERYWHERE: tuple[dict[str, str], ...] = ({"function": SUPER_ADMIN},)
# readers of the entry page and the assets: whoever may read at least one entity folder
SIGNED_IN_STAFF: tuple[dict[str, str], ...] = (
    {"profile": "Teacher"},
    {"profile": "Personnel"},
    {"function": ADML},
)
RULES_NOTE = (
    "A request path is percent-decoded once and its dot segments resolved; it is then decided by the exact "
    "file listed in `paths` or else by the longest listed folder (a key ending in /) that contains it. "
    "A grant lets a user read when every condition it names holds: profile = the user's profile, "
    "function in the user's functions, structure in the user's structures, class in the user's classes. "
    "`everywhere` grants apply to every path; a path with no listed file or folder has only those."
)


class AccessError(StatistiquesError):
    """access.json is missing or not one this version can read."""


def _structure_grants(structure_id: str) -> list[dict[str, str]]:
    return [
        {"function": ADML, "structure": structure_id},
        {"profile": "Personnel", "structure": structure_id},
    ]


def access_document(entities: list[Entity]) -> dict:
    """The rules of every folder of the site (written as SITE/access.json)."""
    paths: dict[str, dict] = {
        "index.html": {"kind": "entry", "allow": [dict(g) for g in SIGNED_IN_STAFF]},
        "assets/": {"kind": "assets", "allow": [dict(g) for g in SIGNED_IN_STAFF]},
    }
    for entity in entities:
        folder = entity.path + "/"
        if entity.kind == PLATFORM:
            paths[folder] = {"kind": "platform", "allow": []}
        elif entity.kind == STRUCTURE:
            paths[folder] = {
                "kind": "structure",
                "structure": entity.id,
                "allow": _structure_grants(entity.id),
            }
        elif entity.kind == CLASS:
            paths[folder] = {
                "kind": "class",
                "structure": entity.structure_id,
                "class": entity.id,
                "allow": [
                    *_structure_grants(entity.structure_id),
                    {"profile": "Teacher", "class": entity.id},
                ],
            }
    return {
        "version": VERSION,
        "rules": RULES_NOTE,
        "everywhere": [dict(g) for g in EVERYWHERE],
        "paths": paths,
    }


def access_json(entities: list[Entity]) -> str:
    """`access_document` as JSON text, one path per line (readable, and small at regional scale)."""
    document = access_document(entities)
    compact = {"ensure_ascii": False, "separators": (",", ":")}
    head = json.dumps({k: v for k, v in document.items() if k != "paths"}, **compact)
    lines = [f"{json.dumps(path)}:{json.dumps(rule, **compact)}" for path, rule in document["paths"].items()]
    return head[:-1] + ',\n"paths":{\n' + ",\n".join(lines) + "\n}}\n"


def site_path(request_uri: str) -> str | None:
    """The site-relative path a request names, as nginx resolves it: the query dropped, percent-decoded
    once, empty and `.` segments dropped, `..` applied. A folder keeps its trailing `/`; the root is
    `index.html`. None when the path leaves the site or cannot be read (no file answers it)."""
    raw = request_uri.split("?", 1)[0].split("#", 1)[0]
    if not raw.startswith("/"):
        return None  # an absolute-form or malformed target: decided for nobody
    try:
        decoded = unquote(raw, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return None
    if "\x00" in decoded:
        return None
    parts: list[str] = []
    segments = decoded.split("/")
    for segment in segments:
        if segment in ("", "."):
            continue
        if segment == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(segment)
    if not parts:
        return "index.html"
    folder = segments[-1] in ("", ".", "..")
    return "/".join(parts) + ("/" if folder else "")


class Access:
    """A loaded access document: finds the grants of a path, decides for a user."""

    def __init__(self, document: dict, source: str = ACCESS_FILE):
        if not isinstance(document, dict) or document.get("version") != VERSION:
            raise AccessError(
                f"{source}: not an access document of version {VERSION}; rebuild the site with this version"
            )
        self.everywhere: list[dict] = list(document.get("everywhere", []))
        self.files: dict[str, list[dict]] = {}
        self.folders: dict[str, list[dict]] = {}
        self.class_folders: dict[str, str] = {}  # class id → its folder
        for path, rule in document.get("paths", {}).items():
            (self.folders if path.endswith("/") else self.files)[path] = list(rule.get("allow", []))
            if rule.get("kind") == "class":
                self.class_folders[rule.get("class")] = path

    @classmethod
    def load(cls, site: Path) -> Access:
        path = Path(site) / ACCESS_FILE
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise AccessError(
                f"{path}: missing; build the site with this version (it writes access.json)"
            ) from None
        except (OSError, ValueError) as error:
            raise AccessError(f"{path}: unreadable ({error}); build the site again") from error
        return cls(document, str(path))

    def grants(self, path: str) -> list[dict]:
        """The grants of a normalised site path (see `site_path`), `everywhere` not included."""
        if path in self.files:
            return self.files[path]
        # the folder itself, then each parent; `a/b` may be the folder `a/b/` (nginx adds the slash)
        cut = len(path) if path.endswith("/") else len(path) + 1
        candidate = path if path.endswith("/") else path + "/"
        while cut > 0:
            folder = candidate[:cut]
            if folder in self.folders:
                return self.folders[folder]
            cut = candidate.rfind("/", 0, cut - 1) + 1
        return []

    def may_read(self, user: User | None, request_uri: str) -> bool:
        return may_read(user, request_uri, self)


def _holds(grant: dict, user: User) -> bool:
    for condition, value in grant.items():
        if condition == "profile":
            held = user.profile == value
        elif condition == "function":
            held = value in user.functions
        elif condition == "structure":
            held = value in user.structures
        elif condition == "class":
            held = value in user.classes
        else:
            return False  # a condition this version does not know never grants
        if not held:
            return False
    return bool(grant)


def may_read(user: User | None, request_uri: str, access: Access) -> bool:
    """Whether `user` (None: no session) may read the path `request_uri` names (raw, as sent)."""
    if user is None:
        return False
    path = site_path(request_uri)
    if path is None:
        return False
    return any(_holds(g, user) for g in access.everywhere) or any(
        _holds(g, user) for g in access.grants(path)
    )
