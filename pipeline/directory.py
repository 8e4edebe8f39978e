"""The directory snapshot (SPEC 1.2) → the entities that get pages (SPEC 2.2, 3.1)."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from .constants import ID_ALPHABET_PATTERN, PLATFORM_NAME
from .exceptions import DirectoryError
from .model import CLASS, PLATFORM, STRUCTURE, Entity

_VALID_ID = re.compile(ID_ALPHABET_PATTERN).fullmatch
FILES = {"structures.csv": ("id", "uai", "name"), "classes.csv": ("id", "structure_id", "name")}


@dataclass
class Snapshot:
    structures: dict[str, dict[str, str]]  # id → {uai, name}
    classes: dict[str, dict[str, str]]  # id → {structure_id, name}


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
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise DirectoryError(
                f"{path}, line 1: header lacks {', '.join(missing)}; it must be `{','.join(columns)}`"
            )
        rows = []
        for row in reader:
            line = reader.line_num
            values = {c: (row.get(c) or "").strip() for c in columns}
            for id_column in ("id", "structure_id"):
                if id_column in values and not _VALID_ID(values[id_column]):
                    raise DirectoryError(
                        f"{path}, line {line}: {id_column} {values[id_column]!r} has a character outside "
                        "A-Z a-z 0-9 _ -; fix or remove that row"
                    )
            rows.append(values)
    return rows


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
        structures_not_in_snapshot=sorted(structures_seen - set(snapshot.structures)),
        classes_not_in_snapshot=sorted(classes_seen - set(snapshot.classes)),
    )
