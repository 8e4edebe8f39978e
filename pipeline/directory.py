"""The directory snapshot (SPEC 1.2) → the entities that get pages (SPEC 2.2, 3.1)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .constants import ENT_PROFILES, ID_ALPHABET_PATTERN, PLATFORM_NAME, PROFILE_CODES
from .exceptions import DirectoryError
from .model import CLASS, PLATFORM, STRUCTURE, Entity

_VALID_ID = re.compile(ID_ALPHABET_PATTERN).fullmatch
FILES = {"structures.csv": ("id", "uai", "name"), "classes.csv": ("id", "structure_id", "name")}
# Optional (access by path, README "Access"): the accounts, for the session-check stand-in and `serve`.
USERS_FILE = "users.csv"
USER_COLUMNS = ("id", "profile", "structures", "classes", "functions")
FUNCTIONS = ("ADML", "SUPER_ADMIN")  # the ENT's local administrator and super administrator functions
LIST_SEPARATOR = "|"


@dataclass
class Snapshot:
    structures: dict[str, dict[str, str]]  # id → {uai, name}
    classes: dict[str, dict[str, str]]  # id → {structure_id, name}


@dataclass(frozen=True, slots=True)
class User:
    """One account of `users.csv`: what the access rules (pipeline/access.py) look at."""

    id: str
    profile: str  # Teacher, Student, Relative, Personnel or Guest (SPEC 2.3)
    structures: tuple[str, ...] = ()  # in users.csv's order: the first is the main one (GET /_me)
    classes: tuple[str, ...] = ()
    functions: frozenset[str] = frozenset()  # among FUNCTIONS


@dataclass
class EntitySet:
    entities: list[Entity]  # platform first, then structures by name, then classes by structure and name
    structures_not_in_snapshot: list[str] = field(default_factory=list)
    classes_not_in_snapshot: list[str] = field(default_factory=list)


def read_snapshot(folder: Path) -> Snapshot:
    tables = {name: _read_csv(folder / name, columns) for name, columns in FILES.items()}
    structures = {row["id"]: {"uai": row["uai"], "name": row["name"]} for row in tables["structures.csv"]}
    classes = {
        row["id"]: {"structure_id": row["structure_id"], "name": row["name"]} for row in tables["classes.csv"]
    }
    return Snapshot(structures, classes)


def _read_csv(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        raise DirectoryError(f"{path}: missing; the directory snapshot needs {' and '.join(FILES)}")
    rows = []
    first_line: dict[str, int] = {}
    for line, values in _csv_rows(path, columns):
        for id_column in ("id", "structure_id"):
            if id_column in values:
                _check_id(f"{path}, line {line}", id_column, values[id_column])
        if values["id"] in first_line:
            raise DirectoryError(
                f"{path}, line {line}: id {values['id']!r} is already on line {first_line[values['id']]}; "
                "keep one row per id"
            )
        first_line[values["id"]] = line
        rows.append(values)
    return rows


def _csv_rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, stripped values of `columns`) of each row, once the header is known to have them."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise DirectoryError(
                f"{path}, line 1: header lacks {', '.join(missing)}; it must be `{','.join(columns)}`"
            )
        for row in reader:
            yield reader.line_num, {c: (row.get(c) or "").strip() for c in columns}


def _check_id(where: str, column: str, value: str) -> None:
    if not _VALID_ID(value):
        raise DirectoryError(
            f"{where}: {column} {value!r} has a character outside A-Z a-z 0-9 _ -; fix or remove that row"
        )


def read_users(folder: Path) -> dict[str, User] | None:
    """`folder/users.csv` (header `id,profile,structures,classes,functions`, lists `|`-separated), or None
    when the snapshot has none. Every value is checked; an error names the file, the line and the fix."""
    path = Path(folder) / USERS_FILE
    if not path.is_file():
        return None
    users: dict[str, User] = {}
    lines: dict[str, int] = {}
    for line, values in _csv_rows(path, USER_COLUMNS):
        where = f"{path}, line {line}"
        _check_id(where, "id", values["id"])
        if values["id"] in lines:
            raise DirectoryError(
                f"{where}: user {values['id']!r} is already on line {lines[values['id']]}; "
                "keep one row per account"
            )
        if values["profile"] not in ENT_PROFILES:
            raise DirectoryError(
                f"{where}: profile {values['profile']!r} is not one of {', '.join(PROFILE_CODES[1:])}; "
                "write the account's ENT profile"
            )
        structures = _id_list(values["structures"], "structures", where)
        classes = _id_list(values["classes"], "classes", where)
        functions = _list(values["functions"])
        unknown = [f for f in functions if f not in FUNCTIONS]
        if unknown:
            raise DirectoryError(
                f"{where}: function {unknown[0]!r} is unknown; functions holds "
                f"{' and/or '.join(FUNCTIONS)}, separated by {LIST_SEPARATOR!r}, or nothing"
            )
        lines[values["id"]] = line
        users[values["id"]] = User(
            values["id"],
            values["profile"],
            tuple(structures),
            tuple(classes),
            frozenset(functions),
        )
    return users


def _list(text: str) -> list[str]:
    return [item.strip() for item in text.split(LIST_SEPARATOR)] if text else []


def _id_list(text: str, column: str, where: str) -> list[str]:
    items = _list(text)
    for item in items:
        if not _VALID_ID(item):
            raise DirectoryError(
                f"{where}: {column} item {item!r} has a character outside A-Z a-z 0-9 _ -; write ids "
                f"separated by {LIST_SEPARATOR!r} (e.g. `s1{LIST_SEPARATOR}s2`), or nothing"
            )
    return items


def entity_set(snapshot: Snapshot, structures_seen: set[str], classes_seen: set[str]) -> EntitySet:
    """The platform, every structure of the snapshot or seen in events, every class of the snapshot."""
    platform = Entity(PLATFORM, "", PLATFORM_NAME, "platform", structure_name=PLATFORM_NAME)
    structure_ids = set(snapshot.structures) | structures_seen
    structure_ids |= {c["structure_id"] for c in snapshot.classes.values()}
    structures = {}
    for sid in structure_ids:
        known = snapshot.structures.get(sid)
        name = known["name"] if known and known["name"] else sid
        structures[sid] = Entity(
            STRUCTURE,
            sid,
            name,
            f"structures/{sid}",
            structure_id=sid,
            structure_name=name,
            uai=known["uai"] if known else "",
            in_snapshot=known is not None,
        )
    classes = []
    for cid, info in snapshot.classes.items():
        parent = structures[info["structure_id"]]
        name = info["name"] or cid
        classes.append(
            Entity(
                CLASS,
                cid,
                name,
                f"{parent.path}/classes/{cid}",
                structure_id=parent.id,
                structure_name=parent.name,
                uai=parent.uai,
                class_name=name,
            )
        )
    ordered_structures = sorted(structures.values(), key=lambda e: (e.name.casefold(), e.id))
    ordered_classes = sorted(
        classes, key=lambda e: (e.structure_name.casefold(), e.structure_id, e.name, e.id)
    )
    return EntitySet(
        [platform, *ordered_structures, *ordered_classes],
        # with pages but not in structures.csv: seen in events, or the structure of a class of classes.csv
        structures_not_in_snapshot=sorted(structure_ids - set(snapshot.structures)),
        classes_not_in_snapshot=sorted(classes_seen - set(snapshot.classes)),
    )
