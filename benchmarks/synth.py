"""A synthetic regional platform, made with vectorised NumPy/Arrow, written straight to each stage's input.

The population (structures, classes, accounts with their profiles, structures and classes) follows the
demo's shares (pipeline/demo_data.py) at any size; each day's events reuse the demo's rhythms: activity per
profile and kind of day (school day, Wednesday, weekend, holidays), hourly shapes, applications per profile
and kind of school. Identities are UUIDs, as on a real ENT, so strings have their real weight.

Outputs:
- `write_directory`: the snapshot `structures.csv` / `classes.csv` (SPEC 1.2);
- `write_lake_days`: `LAKE/events/day=YYYY-MM-DD/part-synth.parquet` in `lake.EVENT_SCHEMA`, one file per
  UTC day;
- `write_export`: one local day as a mongoexport JSON Lines `.json.gz` in the real forms of SPEC 1.1 (mixed
  date forms, `_id` UUID strings and some `{"$oid"}`, `ip`/`ua` and other extra fields, a few bad lines).
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import demo_data as demo
from pipeline import lake as lake_io
from pipeline.lake import EVENT_SCHEMA

TIMEZONE = "Europe/Paris"
PART_NAME = "part-synth.parquet"
DAY_MS = 86_400_000
PROFILES = ("Teacher", "Student", "Relative", "Personnel", "Guest")
T, S, R, P, G = range(5)
KIND_SHARES = np.array([0.5, 0.35, 0.15])  # écoles, collèges, lycées
CLASS_WEIGHT = np.array([9.0, 26.0, 42.0])  # classes per structure, relative, by kind
TEACHERS_PER_CLASS = np.array([1.2, 2.0, 2.4])
STAFF_PER_STRUCTURE = np.array([4, 10, 14])
GUESTS_PER_STRUCTURE = np.array([2, 5, 6])
PARENTS_PER_PUPIL = 0.545
TWO_CHILDREN_SHARE = 0.25
DUAL_PROFILE_SHARE = 0.005  # teachers who are also parents
SECOND_STRUCTURE_SHARE = 0.03  # secondary teachers with a class in a second structure
ACTIVATIONS_PER_ACCOUNT_DAY = 0.0003
EXTRA_TYPES_SHARE = (0.05, 0.03)  # GET_RESOURCE, SESSION_TIMEOUT per login
TYPES = ("LOGIN", "ACCESS", "ACTIVATION", "GET_RESOURCE", "SESSION_TIMEOUT")
LOGIN, ACCESS, ACTIVATION, GET, TIMEOUT = range(5)
MODULES = (*demo.MODULES, "Auth")
AUTH = len(MODULES) - 1
WORKSPACE = MODULES.index("Workspace")
DATE_FORM_P = (0.2, 0.45, 0.1, 0.1, 0.15)  # int, $numberLong, $date Z, $date offset+ms, $date{$numberLong}
OID_SHARE = 0.1
CHUNK = 400_000
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_KIND_LABELS = ("École élémentaire", "Collège", "Lycée")
_PEOPLE = (
    "Jules Ferry",
    "Jean Jaurès",
    "Louise Michel",
    "Jacques Prévert",
    "Marie Curie",
    "Jean Moulin",
    "Évariste Galois",
    "Simone Veil",
    "Françoise Dolto",
    "Pablo Picasso",
    "Victor Hugo",
    "Camille Claudel",
    'Les "Tilleuls"',
    "Arts & Métiers",
    "Condorcet",
    "Colette",
    "Paul Éluard",
    "Rosa Parks",
)
_CLASS_NAMES = (
    ("CP", "CE1", "CE2", "CM1", "CM2"),
    ("6e", "5e", "4e", "3e"),
    ("2nde", "1ère", "Tle"),
)
OFF_DIRECTORY_STRUCTURE = "s-hors-annuaire"
OFF_DIRECTORY_CLASS = "c-hors-annuaire-cm2"


@dataclass(frozen=True)
class Scale:
    name: str
    accounts: int
    structures: int
    classes: int
    events_per_school_day: int


SCALES: dict[str, Scale] = {
    "small": Scale("small", 2_000, 10, 60, 20_000),
    "medium": Scale("medium", 100_000, 300, 6_000, 300_000),
    "regional": Scale("regional", 1_000_000, 3_000, 60_000, 3_000_000),
}


@dataclass
class Population:
    structure_ids: pa.Array  # in the snapshot, then the off-directory one
    structure_kind: np.ndarray
    structure_names: list[str]
    structure_uai: list[str]
    class_ids: pa.Array  # in the snapshot, then the off-directory one
    class_structure: np.ndarray
    class_names: list[str]
    user_ids: pa.Array
    user_extra: pa.Array  # ',"ua":…,"ip":…' per user
    role_user: np.ndarray
    role_prof: np.ndarray
    role_group: np.ndarray  # prof * 3 + kind: module popularity
    role_rate: np.ndarray  # logins per ordinary school day
    role_structures: pa.ListArray  # structure ids per role
    role_classes: pa.ListArray
    role_json: pa.Array  # '"userId":…,"profil":…,"structures":[…],"classes":[…]'

    @property
    def n_users(self) -> int:
        return len(self.user_ids)


# ------------------------------------------------------------------------------------------------ strings
def uuids(rng: np.random.Generator, n: int) -> pa.Array:
    """n random version-4 UUID strings, built as bytes without a Python loop."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.empty((n, 32), dtype=np.uint8)
    hexed[:, 0::2], hexed[:, 1::2] = _HEX[raw >> 4], _HEX[raw & 0x0F]
    chars = np.full((n, 36), ord("-"), dtype=np.uint8)
    for start, stop, out in ((0, 8, 0), (8, 12, 9), (12, 16, 14), (16, 20, 19), (20, 32, 24)):
        chars[:, out : out + stop - start] = hexed[:, start:stop]
    return fixed_width_strings(chars)


def hex_strings(rng: np.random.Generator, n: int, width: int) -> pa.Array:
    chars = _HEX[rng.integers(0, 16, size=(n, width), dtype=np.uint8)]
    return fixed_width_strings(chars)


def fixed_width_strings(chars: np.ndarray) -> pa.Array:
    n, width = chars.shape
    offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int32) * width).tobytes())
    return pa.StringArray.from_buffers(n, offsets, pa.py_buffer(np.ascontiguousarray(chars).tobytes()))


def join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def list_array(offsets: np.ndarray, values: pa.Array) -> pa.ListArray:
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


def json_list(lists: pa.ListArray) -> pa.Array:
    """Each list of ids as its compact JSON text: ["a","b"]."""
    quoted = join('"', lists.flatten(), '"')
    joined = pc.binary_join(pa.ListArray.from_arrays(lists.offsets, quoted), ",")
    return join("[", joined, "]")


# -------------------------------------------------------------------------------------------- population
def split_counts(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to `weights` summing exactly to `total` (largest remainders)."""
    exact = weights / weights.sum() * total
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(counts - exact)[: total - counts.sum()]] += 1
    return counts


def make_population(scale: Scale, seed: int = 7) -> Population:
    rng = np.random.default_rng([seed, 101])
    kinds = np.repeat(np.arange(3), split_counts(scale.structures, KIND_SHARES))
    kinds = rng.permutation(kinds)
    per_structure = split_counts(scale.classes, CLASS_WEIGHT[kinds] * rng.uniform(0.7, 1.3, len(kinds)))
    per_structure = np.maximum(per_structure, 1)
    class_structure = np.repeat(np.arange(len(kinds)), per_structure)
    class_kind = kinds[class_structure]
    roles = _roles(scale, rng, kinds, class_structure, class_kind)
    return _assemble(scale, rng, kinds, class_structure, class_kind, roles)


def _roles(scale: Scale, rng, kinds, class_structure, class_kind) -> dict[str, list[np.ndarray]]:
    """Role rows as parallel arrays: prof, kind, structure, classes (offsets into a flat class list)."""
    n_struct, n_class = len(kinds), len(class_structure)
    teachers = rng.poisson(TEACHERS_PER_CLASS[class_kind])  # per class, hosted by its structure
    teachers_per_structure = np.bincount(class_structure, teachers, n_struct).astype(np.int64)
    staff = STAFF_PER_STRUCTURE[kinds]
    guests = GUESTS_PER_STRUCTURE[kinds]
    others = int(teachers_per_structure.sum() + staff.sum() + guests.sum())
    n_pupils = max(n_class, int((scale.accounts - others) / (1 + PARENTS_PER_PUPIL)))
    pupil_class = np.sort(rng.choice(n_class, size=n_pupils, p=_normalised(rng.uniform(0.8, 1.2, n_class))))
    rows: dict[str, list] = {
        "prof": [],
        "kind": [],
        "struct": [],
        "class_off": [],
        "class_val": [],
        "user": [],
    }
    counter = [0]

    def add(prof, kind, struct, class_lists, users=None):
        n = len(prof)
        users = np.arange(counter[0], counter[0] + n) if users is None else users
        counter[0] = max(counter[0], int(users.max()) + 1) if n else counter[0]
        rows["prof"].append(prof)
        rows["kind"].append(kind)
        rows["struct"].append(struct)
        rows["class_off"].append(np.array([len(c) for c in class_lists]))
        rows["class_val"].append(np.concatenate([np.asarray(c, np.int64) for c in class_lists] or [[]]))
        rows["user"].append(users)

    n_p = len(pupil_class)
    add(np.full(n_p, S), class_kind[pupil_class], class_structure[pupil_class], list(pupil_class[:, None]))
    add(*_teachers(rng, class_structure, class_kind, teachers))
    for prof, counts in ((P, staff), (G, guests)):
        struct = np.repeat(np.arange(n_struct), counts)
        add(np.full(len(struct), prof), kinds[struct], struct, [[]] * len(struct))
    parents = _parents(rng, pupil_class, class_structure, int(n_p * PARENTS_PER_PUPIL))
    add(np.full(len(parents[0]), R), class_kind[[c[0] for c in parents[1]]], parents[0], parents[1])
    first_teacher = n_p
    dual = rng.choice(int(teachers.sum()), size=int(teachers.sum() * DUAL_PROFILE_SHARE), replace=False)
    children = rng.integers(0, n_p, size=len(dual))
    add(
        np.full(len(dual), R),
        class_kind[pupil_class[children]],
        class_structure[pupil_class[children]],
        list(pupil_class[children][:, None]),
        users=dual + first_teacher,
    )
    return rows


def _teachers(rng, class_structure, class_kind, teachers):
    """Each teacher teaches the class it was drawn for and one to four more of the same structure."""
    home = np.repeat(np.arange(len(class_structure)), teachers)
    struct = class_structure[home]
    first_class = np.searchsorted(class_structure, np.arange(class_structure.max() + 1))
    size = np.bincount(class_structure, minlength=class_structure.max() + 1)
    extra = np.minimum(rng.integers(1, 5, len(home)), size[struct] - 1)
    class_lists = []
    picks = rng.integers(0, 1 << 30, size=(len(home), 4))
    second = rng.random(len(home)) < SECOND_STRUCTURE_SHARE
    for i, (h, s, e) in enumerate(zip(home.tolist(), struct.tolist(), extra.tolist())):
        chosen = [h] + [int(first_class[s] + picks[i, j] % size[s]) for j in range(e)]
        if second[i] and class_kind[h] > 0:
            chosen.append(int(picks[i, 0] % len(class_structure)))
        class_lists.append(list(dict.fromkeys(chosen)))
    return np.full(len(home), T), class_kind[home], struct, class_lists


def _parents(rng, pupil_class, class_structure, n_parents):
    """One or two children per parent (the second mostly in the same structure)."""
    first = rng.choice(len(pupil_class), size=n_parents, replace=False)
    two = rng.random(n_parents) < TWO_CHILDREN_SHARE
    near = np.clip(first + rng.integers(-30, 31, n_parents), 0, len(pupil_class) - 1)
    anywhere = rng.integers(0, len(pupil_class), n_parents)
    second = np.where(rng.random(n_parents) < 0.6, near, anywhere)
    lists = [
        [int(pupil_class[a])] + ([int(pupil_class[b])] if t and pupil_class[b] != pupil_class[a] else [])
        for a, b, t in zip(first.tolist(), second.tolist(), two.tolist())
    ]
    return class_structure[pupil_class[first]], lists


def _normalised(w: np.ndarray) -> np.ndarray:
    return w / w.sum()


def _assemble(scale, rng, kinds, class_structure, class_kind, rows) -> Population:
    prof = np.concatenate(rows["prof"]).astype(np.int64)
    kind = np.concatenate(rows["kind"]).astype(np.int64)
    struct = np.concatenate(rows["struct"]).astype(np.int64)
    n_classes_per_role = np.concatenate(rows["class_off"]).astype(np.int64)
    class_values = np.concatenate(rows["class_val"]).astype(np.int64)
    role_user = np.concatenate(rows["user"]).astype(np.int64)
    n_users = int(role_user.max()) + 1
    n_struct = len(kinds)
    # a few accounts of a school missing from the snapshot, and of a class created after it
    off = rng.choice(np.nonzero(n_classes_per_role)[0], size=2, replace=False)
    struct[off[0]] = n_struct
    structure_ids = pa.concat_arrays([uuids(rng, n_struct), pa.array([OFF_DIRECTORY_STRUCTURE])])
    class_ids = pa.concat_arrays([uuids(rng, len(class_structure)), pa.array([OFF_DIRECTORY_CLASS])])
    class_offsets = np.concatenate([[0], np.cumsum(n_classes_per_role)])
    class_values[class_offsets[off[1]]] = len(class_structure)
    # a structure per role, plus the structures of its other classes (teachers, parents)
    role_of_class = np.repeat(np.arange(len(prof)), n_classes_per_role)
    class_struct = np.append(class_structure, class_structure[0])[class_values]
    pairs = np.unique(
        np.stack(
            [np.concatenate([np.arange(len(prof)), role_of_class]), np.concatenate([struct, class_struct])],
            axis=1,
        ),
        axis=0,
    )
    struct_offsets = np.concatenate([[0], np.cumsum(np.bincount(pairs[:, 0], minlength=len(prof)))])
    role_structures = list_array(struct_offsets, structure_ids.take(pa.array(pairs[:, 1])))
    role_classes = list_array(class_offsets, class_ids.take(pa.array(class_values)))
    user_ids = uuids(rng, n_users)
    weight = rng.gamma(0.9, 1 / 0.9, size=len(prof))
    kind_rate = np.where(prof == S, np.array(demo._STUDENT_KIND_RATE)[kind], 1.0)
    rate = demo._BASE_RATE[prof] * weight * kind_rate
    per_login = 1 + demo._ACCESS_MEAN[prof] + sum(EXTRA_TYPES_SHARE)
    rate *= scale.events_per_school_day / float((rate * per_login).sum())
    return Population(
        structure_ids=structure_ids,
        structure_kind=np.append(kinds, 0),
        structure_names=_structure_names(kinds),
        structure_uai=[demo._uai(f"{75 + i % 20:03d}", i % 10_000) for i in range(n_struct)],
        class_ids=class_ids,
        class_structure=class_structure,
        class_names=_class_names(class_structure, class_kind),
        user_ids=user_ids,
        user_extra=_user_extra(rng, n_users),
        role_user=role_user,
        role_prof=prof,
        role_group=prof * 3 + kind,
        role_rate=rate,
        role_structures=role_structures,
        role_classes=role_classes,
        role_json=_role_json(user_ids.take(pa.array(role_user)), prof, role_structures, role_classes),
    )


def _structure_names(kinds: np.ndarray) -> list[str]:
    return [f"{_KIND_LABELS[k]} {_PEOPLE[i % len(_PEOPLE)]} n°{i + 1}" for i, k in enumerate(kinds.tolist())]


def _class_names(class_structure: np.ndarray, class_kind: np.ndarray) -> list[str]:
    first = np.searchsorted(class_structure, class_structure)
    rank = np.arange(len(class_structure)) - first
    names = []
    for r, k in zip(rank.tolist(), class_kind.tolist()):
        levels = _CLASS_NAMES[k]
        names.append(f"{levels[r % len(levels)]} {chr(65 + (r // len(levels)) % 26)}")
    return names


def _user_extra(rng, n_users: int) -> pa.Array:
    uas = pa.array([f',"ua":{ua}' for ua in demo._UAS]).take(
        pa.array(rng.integers(0, len(demo._UAS), n_users))
    )
    nets = pa.array(["203.0.113.", "198.51.100."]).take(pa.array(rng.integers(0, 2, n_users)))
    octets = pa.array(rng.integers(1, 255, n_users)).cast(pa.string())
    return join(uas, ',"ip":"', nets, octets, '"')


def _role_json(
    users: pa.Array, prof: np.ndarray, structures: pa.ListArray, classes: pa.ListArray
) -> pa.Array:
    profil = pa.array([f',"profil":"{p}","structures":' for p in PROFILES]).take(pa.array(prof))
    return join('"userId":"', users, '"', profil, json_list(structures), ',"classes":', json_list(classes))


# ------------------------------------------------------------------------------------------------ directory
def write_directory(pop: Population, folder: Path) -> Path:
    """structures.csv and classes.csv of the snapshot (the off-directory structure and class left out)."""
    folder.mkdir(parents=True, exist_ok=True)
    n_struct = len(pop.structure_names)
    sids = pop.structure_ids.to_pylist()[:n_struct]
    with open(folder / "structures.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "uai", "name"])
        writer.writerows(zip(sids, pop.structure_uai, pop.structure_names))
    cids = pop.class_ids.to_pylist()[: len(pop.class_names)]
    with open(folder / "classes.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "structure_id", "name"])
        writer.writerows(zip(cids, (sids[s] for s in pop.class_structure.tolist()), pop.class_names))
    return folder


# --------------------------------------------------------------------------------------------------- events
@dataclass
class DayEvents:
    """One local day's events as parallel arrays, sorted by time."""

    ts: np.ndarray
    etype: np.ndarray
    role: np.ndarray
    module: np.ndarray
    session: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)


def _sample_rows(cdf: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each row, an index drawn from the distribution cdf[group] (inverse CDF, per group)."""
    out = np.empty(len(groups), dtype=np.int64)
    u = rng.random(len(groups))
    for g in np.unique(groups).tolist():
        picked = groups == g
        out[picked] = np.minimum(np.searchsorted(cdf[g], u[picked], side="right"), cdf.shape[-1] - 1)
    return out


def day_events(pop: Population, day: date, seed: int = 7, timezone: str = TIMEZONE) -> DayEvents:
    """The events of one local day: logins per role (Poisson), their apps, activations, other types."""
    tz = ZoneInfo(timezone)
    rng = np.random.default_rng([seed, day.toordinal()])
    factors, day_kind = demo._day_factors(day)
    bounds = demo._hour_starts(day, tz)
    n = rng.poisson(pop.role_rate * factors[pop.role_prof])
    act_role = rng.integers(0, len(n), rng.poisson(pop.n_users * ACTIVATIONS_PER_ACCOUNT_DAY * factors[S]))
    act_ts = _times(rng, bounds, _sample_rows(demo._HOUR_CDF[:, day_kind], pop.role_prof[act_role], rng))
    login_role = np.concatenate([np.repeat(np.arange(len(n)), n), act_role])
    login_ts = np.concatenate(
        [
            _times(
                rng,
                bounds,
                _sample_rows(demo._HOUR_CDF[:, day_kind], pop.role_prof[login_role[: n.sum()]], rng),
            ),
            act_ts + rng.integers(5_000, 120_000, len(act_ts)),
        ]
    )
    session = rng.integers(1_000, 100_000, len(login_role))
    k = np.minimum(rng.poisson(demo._ACCESS_MEAN[pop.role_prof[login_role]]), 8)
    acc_login = np.repeat(np.arange(len(login_role)), k)
    acc_ts = login_ts[acc_login] + demo._grouped_cumsum(rng.integers(3_000, 420_000, len(acc_login)), k)
    acc_module = _sample_rows(demo._MODULE_CDF, pop.role_group[login_role[acc_login]], rng)
    get = np.nonzero(rng.random(len(login_role)) < EXTRA_TYPES_SHARE[0])[0]
    timeout = np.nonzero(rng.random(len(login_role)) < EXTRA_TYPES_SHARE[1])[0]
    parts = [
        (login_ts, LOGIN, login_role, AUTH, session),
        (act_ts, ACTIVATION, act_role, AUTH, np.zeros(len(act_ts), np.int64)),
        (acc_ts, ACCESS, login_role[acc_login], acc_module, session[acc_login]),
        (
            login_ts[get] + rng.integers(10_000, 1_200_000, len(get)),
            GET,
            login_role[get],
            WORKSPACE,
            session[get],
        ),
        (
            login_ts[timeout] + rng.integers(1_800_000, 5_400_000, len(timeout)),
            TIMEOUT,
            login_role[timeout],
            AUTH,
            session[timeout],
        ),
    ]
    ts = np.clip(np.concatenate([p[0] for p in parts]), bounds[0], bounds[-1] - 1)
    order = np.argsort(ts, kind="stable")
    columns = [
        np.concatenate([np.broadcast_to(np.asarray(p[i]), len(p[0])) for p in parts]) for i in (1, 2, 3, 4)
    ]
    return DayEvents(ts[order], *(c[order] for c in columns))


def _times(rng: np.random.Generator, bounds: np.ndarray, hours: np.ndarray) -> np.ndarray:
    return bounds[hours] + rng.integers(0, 3_600_000, len(hours))


def lake_table(pop: Population, events: DayEvents, rng: np.random.Generator) -> pa.Table:
    role = pa.array(events.role)
    columns = [
        uuids(rng, len(events)),
        pa.array(TYPES).take(pa.array(events.etype)),
        pa.array(MODULES).take(pa.array(events.module)),
        pa.array(events.ts, pa.int64()),
        pop.user_ids.take(pa.array(pop.role_user[events.role])),
        pa.array(PROFILES).take(pa.array(pop.role_prof[events.role])),
        pop.role_structures.take(role),
        pop.role_classes.take(role),
    ]
    return pa.Table.from_arrays(columns, schema=EVENT_SCHEMA)


def write_lake_days(pop: Population, lake: Path, days: list[date], seed: int = 7) -> dict[str, int]:
    """The events of local `days` into `lake` as one part file per UTC day; returns events per local day."""
    per_day: dict[str, int] = {}
    pending: dict[int, list[pa.Table]] = {}
    for day in sorted(days):
        events = day_events(pop, day, seed)
        per_day[day.isoformat()] = len(events)
        table = lake_table(pop, events, np.random.default_rng([seed, day.toordinal(), 1]))
        utc_day = events.ts // DAY_MS
        for number in np.unique(utc_day).tolist():
            pending.setdefault(number, []).append(table.filter(pa.array(utc_day == number)))
        for number in [d for d in pending if d < day.toordinal() - 719_163]:  # UTC days now complete
            _write_utc_day(lake, number, pending.pop(number))
    for number in list(pending):
        _write_utc_day(lake, number, pending.pop(number))
    return per_day


def _write_utc_day(lake: Path, number: int, tables: list[pa.Table]) -> None:
    day = date(1970, 1, 1) + timedelta(days=number)
    folder = lake / "events" / f"day={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    lake_io.write_table(pa.concat_tables(tables), folder / PART_NAME)


# ------------------------------------------------------------------------------------------------ mongoexport
def export_lines(
    pop: Population, events: DayEvents, rng: np.random.Generator, tz: str = TIMEZONE
) -> pa.Array:
    """The events as mongoexport JSON lines (each ending with a newline), in the forms of SPEC 1.1."""
    n = len(events)
    ident = pc.if_else(
        pa.array(rng.random(n) < OID_SHARE),
        join('{"$oid":"', hex_strings(rng, n, 24), '"}'),
        join('"', uuids(rng, n), '"'),
    )
    etype = pa.array([f',"event-type":"{t}"' for t in TYPES]).take(pa.array(events.etype))
    module = pa.array(
        [f',"module":"{m}"' + (',"connector-type":"Cas"' if m in demo._CONNECTORS else "") for m in MODULES]
    ).take(pa.array(events.module))
    role = pa.array(events.role)
    extra = pc.if_else(
        pa.array(rng.random(n) < 0.7), pop.user_extra.take(pa.array(pop.role_user[events.role])), ""
    )
    session = pc.if_else(
        pa.array(rng.random(n) < 0.5), join(',"sessionId":', pa.array(events.session).cast(pa.string())), ""
    )
    return join(
        '{"_id":',
        ident,
        etype,
        module,
        ',"date":',
        _dates(events.ts, rng, tz),
        ",",
        pop.role_json.take(role),
        extra,
        session,
        "}\n",
    )


def _dates(ts: np.ndarray, rng: np.random.Generator, tz: str) -> pa.Array:
    millis = pa.array(ts, pa.int64())
    text = millis.cast(pa.string())
    utc_seconds = millis.cast(pa.timestamp("ms", tz="UTC")).cast(pa.timestamp("s", tz="UTC"), safe=False)
    local = pc.strftime(millis.cast(pa.timestamp("ms", tz=tz)), format="%Y-%m-%dT%H:%M:%S%z")
    forms = [
        text,
        join('{"$numberLong":"', text, '"}'),
        join('{"$date":"', pc.strftime(utc_seconds, format="%Y-%m-%dT%H:%M:%SZ"), '"}'),
        join('{"$date":"', pc.utf8_replace_slice(local, start=-2, stop=-2, replacement=":"), '"}'),
        join('{"$date":{"$numberLong":"', text, '"}}'),
    ]
    return pc.choose(pa.array(rng.choice(5, size=len(ts), p=DATE_FORM_P).astype(np.int8)), *forms)


def bad_lines(good: list[str]) -> list[str]:
    """The defects of real exports: a cut line, an unknown profil, an ACCESS without module, a line twice,
    a structure listed twice (valid: counted once), a date before 2000 and a line that is not JSON."""
    docs = [json.loads(line) for line in good[:6]]
    docs[1]["profil"] = "Director"
    docs[2]["event-type"] = "ACCESS"
    docs[2].pop("module", None)
    docs[3]["structures"] = docs[3]["structures"][:1] + docs[3]["structures"]
    docs[4]["date"] = {"$date": "1999-12-31T23:00:00Z"}
    fixed = [json.dumps(d, ensure_ascii=False, separators=(",", ":")) + "\n" for d in docs[1:5]]
    return [
        good[0][: len(good[0]) * 3 // 5] + "\n",
        *fixed,
        good[5],
        "mongoexport: connected to: localhost\n",
    ]


def write_export(pop: Population, day: date, path: Path, seed: int = 7, bad_share: float = 0.0) -> int:
    """One local day's events as a gzipped mongoexport file; returns the number of lines written.

    `bad_share`: the fraction of lines spoilt on top of the few defects every export has (`spoil`)."""
    events = day_events(pop, day, seed)
    rng = np.random.default_rng([seed, day.toordinal(), 2])
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = 0
    with gzip.open(path, "wb", compresslevel=1) as out:
        for number, chunk in enumerate(_chunks(events)):
            text = spoil(export_lines(pop, chunk, rng), bad_share, rng)
            out.write(_bytes(text))
            lines += len(text)
            if number == 0 and len(text) >= 6:
                for line in bad_lines(text.slice(0, 6).to_pylist()):
                    out.write(line.encode("utf-8"))
                    lines += 1
    return lines


SPOILERS = (  # (pattern, replacement) on a line: each makes a reject of its own reason
    (r'"profil":"[A-Za-z]+"', '"profil":"Director"'),  # unknown_profile
    (r'"date":[^,]+,', '"date":{"$date":"1999-12-31T23:00:00Z"},'),  # date_before_2000
    (r'"userId":"[^"]*",', ""),  # missing_user_id (every line of the benchmark has a user)
    (r'"structures":\[', '"structures":["bad id",'),  # bad_id
    (r"\}\n$", ',"x":\n'),  # not_json
)


def spoil(lines: pa.Array, share: float, rng: np.random.Generator) -> pa.Array:
    """`share` of the lines, drawn at random, made into rejects of the kinds of SPOILERS, in turn."""
    picked = np.flatnonzero(rng.random(len(lines)) < share)
    if not len(picked):
        return lines
    kinds = np.arange(len(picked)) % len(SPOILERS)
    values = np.asarray(lines.to_pylist(), dtype=object)
    for kind, (pattern, replacement) in enumerate(SPOILERS):
        rows = picked[kinds == kind]
        chosen = pa.array(values[rows], pa.string())
        spoilt = pc.replace_substring_regex(chosen, pattern, replacement, max_replacements=1)
        values[rows] = spoilt.to_pylist()
    return pa.array(values, pa.string())


def _chunks(events: DayEvents) -> Iterator[DayEvents]:
    for start in range(0, len(events), CHUNK):
        picked = slice(start, start + CHUNK)
        yield DayEvents(
            events.ts[picked],
            events.etype[picked],
            events.role[picked],
            events.module[picked],
            events.session[picked],
        )


def _bytes(text: pa.Array) -> memoryview:
    """The concatenated characters of a string array (its data buffer between its first and last offsets)."""
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)[text.offset : text.offset + len(text) + 1]
    return memoryview(text.buffers()[2])[offsets[0] : offsets[-1]]
