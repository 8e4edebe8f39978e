"""A seeded, deterministic synthetic ENT: a directory snapshot and monthly `mongoexport` event files (SPEC 1).

The population (structures, classes, accounts) depends on the seed alone, and each school year's account
turnover (new userIds, activated mostly in September) on (seed, year); each day's events come from a generator
seeded by (seed, day ordinal), so any split of a range into sub-ranges gives the same events.
"""

from __future__ import annotations

import csv
import gzip
import json
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from .constants import DEFAULT_TIMEZONE, PROFILE_CODES

__all__ = [
    "UNKNOWN_CLASS_ID",
    "UNKNOWN_STRUCTURE_ID",
    "DemoInputs",
    "write_demo_inputs",
    "write_directory",
    "write_events",
]

# Profiles, in the order of SPEC 2.3 (without "all"): Teacher, Student, Relative, Personnel, Guest.
_PROFS: tuple[str, ...] = PROFILE_CODES[1:]
_T, _S, _R, _P, _G = range(5)
_KINDS = ("ecole", "college", "lycee")
_E, _C, _L = range(3)

UNKNOWN_STRUCTURE_ID = "s-ecole-hors-annuaire"  # appears in events, not in structures.csv
UNKNOWN_CLASS_ID = "c-jean-moulin-4e-c"  # appears in events, not in classes.csv
SNAPSHOT_DAY = date(2026, 3, 31)  # the demo's reference day: users.csv holds that school year's accounts

# kind, short name, display name, département (first 3 digits of the UAI)
_STRUCTURE_SPECS: tuple[tuple[int, str, str, str], ...] = (
    (_E, "jules-ferry", "École élémentaire Jules Ferry", "075"),
    (_E, "jean-jaures", "École élémentaire Jean Jaurès", "093"),
    (_E, "louise-michel", "École primaire Louise Michel", "094"),
    (_E, "jacques-prevert", "École primaire Jacques Prévert", "092"),
    (_E, "marie-curie", "École élémentaire Marie Curie", "077"),
    (_E, "les-tilleuls", "École élémentaire Les Tilleuls", "078"),
    (_C, "jean-moulin", "Collège Jean Moulin", "075"),
    (_C, "evariste-galois", "Collège Évariste Galois, Créteil", "094"),
    (_C, "simone-veil", "Collège Simone Veil", "093"),
    (_C, "francoise-dolto", "Collège Françoise Dolto", "092"),
    (_C, "pablo-picasso", "Collège Pablo Picasso", "095"),
    (_L, "victor-hugo", "Lycée Victor Hugo", "075"),
    (_L, "marcelin-berthelot", "Lycée Marcelin Berthelot", "094"),
    (_L, "camille-claudel", "Lycée Camille Claudel", "091"),
    (_L, "arts-metiers", 'Lycée "Arts & Métiers" <Pilote>', "093"),
)
_CLASS_NAMES: tuple[tuple[str, ...], ...] = (
    ("CP", "CE1", "CE2", "CM1", "CM2"),
    ("6e A", "6e B", "5e A", "5e B", "4e A", "4e B", "3e A", "3e B"),
    ("2nde A", "2nde B", "1ère A", "1ère B", "Tle A", "Tle B"),
)
_TEACHERS_PER = (8, 30, 40)
_STAFF_PER = (6, 13, 15)
_GUESTS_PER = (3, 6, 7)
_PARENTS_PER_PUPIL = 0.545
_DUAL_PROFILE_USERS = 5  # teachers who are also parents
_TWO_STRUCTURE_TEACHERS = 8

# Accounts: each school year (1 September to 31 August) some accounts are replaced by new ones (pupils who
# leave, new pupils and parents, staff moves): a new userId, activated that year (or never), no events before.
_BASE_YEAR = 2010  # school years before it: every account of generation 0, activated long ago
_BASE_NEVER_SHARE = 0.04
_RENEWAL = np.array([0.12, 0.25, 0.2, 0.12, 0.3])  # per profile (of the account's first role)
# activation of a new account in school year Y: (probability, first day, last day as (year offset, month,
# day), decay in days or 0); the rest never activate
_ACTIVATION_WINDOWS: tuple[tuple[float, tuple[int, int, int], tuple[int, int, int], float], ...] = (
    (0.62, (0, 9, 1), (0, 9, 30), 9.0),
    (0.15, (0, 10, 1), (0, 10, 31), 0.0),
    (0.17, (0, 11, 1), (1, 6, 30), 0.0),
)
_NEVER = 10**9

# Logins per account per ordinary school day, before the account's own activity weight (mean 1).
_VOLUME = 0.87
_BASE_RATE = np.array([0.55, 0.16, 0.09, 0.45, 0.07]) * _VOLUME
_STUDENT_KIND_RATE = (0.45, 1.0, 1.25)
_ACCESS_MEAN = np.array([2.0, 1.5, 1.3, 1.8, 1.1])
_GET_RESOURCE_SHARE = 0.05
_TIMEOUT_SHARE = 0.03

MODULES: tuple[str, ...] = (
    "Conversation",
    "Blog",
    "Workspace",
    "Timetable",
    "Actualites",
    "Pronote",
    "Cas-Pronote",
    "Cahier de textes",
    "Mediacentre",
    "Agenda",
    "Schoolbook",
    "Wiki",
)
_CONNECTORS = frozenset({"Pronote", "Cas-Pronote", "Mediacentre"})
_MODULE_WEIGHTS = {  # per profile, in MODULES order
    _T: (22, 6, 18, 6, 4, 12, 1, 14, 6, 5, 4, 2),
    _S: (12, 4, 10, 14, 3, 22, 8, 12, 8, 3, 2, 2),
    _R: (18, 10, 2, 8, 10, 25, 2, 6, 0.5, 4, 15, 0.5),
    _P: (30, 4, 15, 8, 15, 8, 1, 1, 1, 15, 3, 2),
    _G: (15, 25, 10, 5, 25, 0.5, 0.5, 0.5, 1, 10, 1, 10),
}
_MODULE_KIND_FACTOR = {  # primary schools: no Pronote, more Schoolbook and Blog
    _E: (1, 2.5, 1, 0.5, 1, 0.03, 0.03, 0.3, 0.5, 1, 3, 1.5),
    _C: (1,) * 12,
    _L: (1, 0.6, 1.2, 1, 1, 1.1, 1.1, 1, 1.2, 1, 0.3, 1),
}

# Hourly shapes (local time), per profile and kind of day: school day, Wednesday, weekend or holiday.
# In hundredths, hours 0 to 23.
_HOURS = {
    _T: (
        "20 10 5 5 5 30 200 800 600 300 300 350 600 400 300 300 450 700 700 600 700 600 300 100",
        "20 10 5 5 5 30 200 800 600 300 300 350 500 150 100 100 150 400 600 600 700 600 300 100",
        "30 10 5 5 5 10 30 80 200 350 450 450 250 250 350 400 450 500 600 600 700 650 350 120",
    ),
    _S: (
        "20 10 5 5 5 20 200 700 500 250 300 300 500 400 250 300 500 800 900 800 700 450 200 80",
        "20 10 5 5 5 20 200 700 500 250 300 300 400 100 80 80 120 450 700 700 600 400 200 80",
        "40 20 5 5 5 5 20 60 150 300 450 500 350 300 400 450 450 500 600 600 650 500 300 120",
    ),
    _R: (
        "20 10 5 5 5 30 100 400 300 150 120 120 350 250 120 120 200 400 700 800 900 800 400 120",
        "20 10 5 5 5 30 100 400 300 150 120 120 300 100 60 60 100 300 600 800 900 800 400 120",
        "30 10 5 5 5 5 20 80 200 300 350 350 250 200 250 300 300 350 500 600 750 700 400 120",
    ),
    _P: (
        "5 2 2 2 2 10 80 400 900 700 600 500 300 500 600 500 400 300 150 80 60 40 20 10",
        "5 2 2 2 2 10 80 400 900 700 600 500 300 250 250 200 150 120 80 50 40 30 20 10",
        "5 2 2 2 2 5 20 80 200 300 300 250 150 150 200 200 150 150 120 100 100 80 40 10",
    ),
    _G: (
        "10 5 2 2 2 10 50 200 400 400 400 400 350 300 400 400 400 400 450 450 450 350 150 50",
        "10 5 2 2 2 10 50 200 400 400 400 400 300 200 200 200 250 300 400 450 450 350 150 50",
        "20 5 2 2 2 5 20 80 200 300 350 350 250 250 300 300 300 350 400 400 400 350 200 60",
    ),
}
_WEEKDAY_FACTOR = np.array(  # Monday first, per profile
    [
        (1.0, 1.0, 0.9, 1.0, 0.9, 0.3, 0.45),
        (1.0, 1.0, 0.85, 1.0, 0.85, 0.3, 0.4),
        (1.0, 1.0, 0.95, 1.0, 0.85, 0.35, 0.4),
        (1.0, 1.0, 0.9, 1.0, 0.85, 0.06, 0.05),
        (1.0, 1.0, 1.0, 1.0, 0.9, 0.4, 0.4),
    ]
)
_HOLIDAY_FACTOR = np.array([0.25, 0.12, 0.15, 0.3, 0.4])
_SUMMER_FACTOR = np.array([0.06, 0.04, 0.04, 0.12, 0.2])
_LATE_AUGUST_FACTOR = np.array([0.3, 0.08, 0.1, 0.5, 0.2])
_RENTREE_BOOST = 1.3
_LATE_JUNE_FACTOR = np.array([0.8, 0.6, 0.8, 0.9, 1.0])

_ETYPES = ("LOGIN", "ACCESS", "ACTIVATION", "GET_RESOURCE", "SESSION_TIMEOUT")
_LOGIN, _ACCESS, _ACTIVATION, _GET, _TIMEOUT = range(5)
_AUTH = -1  # module index meaning "Auth"
_WORKSPACE = MODULES.index("Workspace")
# special rows: 0 normal, 1 unknown profil, 2 ACCESS without module, 3 truncated line, 4 structure twice
_DIRECTOR, _NO_MODULE, _TRUNCATED, _TWICE = 1, 2, 3, 4
_DUPLICATE_DAYS = (5, 19)  # day of the month with a duplicated line
_SPECIAL_DAYS = {11: _DIRECTOR, 17: _NO_MODULE, 23: _TRUNCATED, 8: _TWICE}
# date forms: int, $numberLong, $date Z (whole seconds), $date with offset and ms, $date {$numberLong}
_DATE_FORM_P = (0.2, 0.45, 0.1, 0.1, 0.15)
_OID_SHARE = 0.1

_UAS = tuple(
    json.dumps(ua)
    for ua in (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.4",
        "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
        "Mozilla/5.0 (Linux; Android 14; SM-A546B) AppleWebKit/537.36 Chrome/124.0 Mobile",
        "ENT-Mobile/3.2 (Android 13; okhttp/4.12)",
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
    )
)
_REFERERS = {
    _LOGIN: ',"referer":"https://ent.example.fr/auth/login"',
    _ACCESS: ',"referer":"https://ent.example.fr/welcome"',
}


@dataclass(frozen=True)
class DemoInputs:
    """What `write_demo_inputs` wrote: the event exports and the directory snapshot folder."""

    event_files: list[Path]  # mongoexport JSON Lines files, gzipped: events-YYYY-MM.json.gz
    directory: Path  # folder with structures.csv and classes.csv (SPEC 1.2), and users.csv


@dataclass(frozen=True)
class _Structure:
    id: str
    uai: str
    name: str
    kind: int
    short: str
    classes: tuple[tuple[str, str], ...]  # (id, name)


@dataclass(frozen=True)
class _Population:
    structures: tuple[_Structure, ...]
    user_extra: tuple[str, ...]  # ',"ua":…,"ip":…'
    user_prof: np.ndarray  # profile of the user's first role
    base_activation: np.ndarray  # generation 0: 1 (long ago) or _NEVER
    primary_role: np.ndarray  # per user
    role_user: np.ndarray
    role_prof: np.ndarray
    role_group: np.ndarray  # prof * 3 + kind, for module popularity
    role_rate: np.ndarray
    role_frag: tuple[tuple[str, str], ...]  # two variants of ',"profil":…,"structures":…[,"classes":…]'
    role_groups: tuple[str, ...]  # ',"groups":[…]' or ""
    role_structs: tuple[tuple[str, ...], ...]
    role_classes: tuple[tuple[str, ...], ...] = ()


# Calendar ---------------------------------------------------------------------------------------------------
def _easter(year: int) -> date:
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=64)
def _public_holidays(year: int) -> frozenset[date]:
    e = _easter(year)
    fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]
    movable = [e + timedelta(days=1), e + timedelta(days=39), e + timedelta(days=40), e + timedelta(days=50)]
    return frozenset([date(year, m, d) for m, d in fixed] + movable)  # Ascension Friday: the usual "pont"


def _saturday_between(year: int, month: int, first: int) -> date:
    d = date(year, month, first)
    return d + timedelta(days=(5 - d.weekday()) % 7)


@lru_cache(maxsize=64)
def _school_holidays(year: int) -> tuple[tuple[date, date], ...]:
    """Zone C holidays (approximately) starting in `year`: [first day, day classes resume)."""
    spans = []
    for month, first in ((2, 15), (4, 12), (10, 15), (12, 18)):
        start = _saturday_between(year, month, first)
        spans.append((start, start + timedelta(days=16)))
    summer = _saturday_between(year, 7, 1)
    rentree = date(year, 9, 1)
    while rentree.weekday() >= 5:
        rentree += timedelta(days=1)
    spans.append((summer, rentree))
    return tuple(spans)


def _holiday(day: date) -> str:
    """'summer', 'school', 'public' or ''."""
    for start, end in _school_holidays(day.year) + _school_holidays(day.year - 1):
        if start <= day < end:
            return "summer" if start.month == 7 else "school"
    return "public" if day in _public_holidays(day.year) else ""


def _day_factors(day: date) -> tuple[np.ndarray, int]:
    """Activity of each profile on `day` relative to an ordinary school day, and the kind of day (hours)."""
    hol = _holiday(day)
    weekday = 6 if hol == "public" else day.weekday()
    f = _WEEKDAY_FACTOR[:, weekday].copy()
    if hol == "summer":
        f *= _LATE_AUGUST_FACTOR if (day.month == 8 and day.day >= 22) else _SUMMER_FACTOR
    elif hol == "school":
        f *= _HOLIDAY_FACTOR
    elif day.month == 9 and day.day <= 14:
        f *= _RENTREE_BOOST
    elif day.month == 6 and day.day >= 15:
        f *= _LATE_JUNE_FACTOR
    kind = 2 if (hol or weekday >= 5) else (1 if weekday == 2 else 0)
    return f, kind


# Population -------------------------------------------------------------------------------------------------
def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "-".join("".join(c if c.isalnum() else " " for c in ascii_text).split())


def _uai(dept: str, number: int) -> str:
    digits = f"{dept}{number:04d}"
    return digits + "ABCDEFGHJKLMNPRSTUVWXYZ"[int(digits) % 23]


def _cdf(weights: np.ndarray) -> np.ndarray:
    c = np.cumsum(weights, axis=-1)
    return c / c[..., -1:]


def _sample(cdf_rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    u = rng.random(len(cdf_rows))
    return np.minimum((u[:, None] >= cdf_rows).sum(axis=1), cdf_rows.shape[1] - 1)


_HOUR_CDF = _cdf(np.array([[row.split() for row in _HOURS[p]] for p in range(5)], dtype=float))  # (5, 3, 24)
_MODULE_CDF = _cdf(
    np.array(
        [[np.multiply(_MODULE_WEIGHTS[p], _MODULE_KIND_FACTOR[k]) for k in range(3)] for p in range(5)],
        dtype=float,
    )
).reshape(15, len(MODULES))


def _structures(rng: np.random.Generator) -> tuple[_Structure, ...]:
    numbers = rng.choice(np.arange(1, 10000), size=len(_STRUCTURE_SPECS), replace=False)
    out = []
    for (kind, short, name, dept), number in zip(_STRUCTURE_SPECS, numbers.tolist(), strict=True):
        classes = tuple((f"c-{short}-{_slug(c)}", c) for c in _CLASS_NAMES[kind])
        out.append(_Structure(f"s-{_KINDS[kind]}-{short}", _uai(dept, number), name, kind, short, classes))
    return tuple(out)


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@lru_cache(maxsize=4)
def _population(seed: int) -> _Population:
    rng = np.random.default_rng([seed, 0])
    structures = _structures(rng)
    # role rows: [user, prof, kind, structures, classes, groups, weight factor]
    roles: list[list] = []
    n_users = 0

    def add(
        prof: int,
        kind: int,
        structs: list[str],
        classes: list[str],
        groups: list[str],
        w: float = 1.0,
        user: int | None = None,
    ) -> int:
        nonlocal n_users
        if user is None:
            user, n_users = n_users, n_users + 1
        roles.append([user, prof, kind, structs, classes, groups, w])
        return user

    pupils: list[tuple[str, str, int]] = []  # (structure id, class id, kind)
    for s in structures:
        for cid, _name in s.classes:
            for _ in range(int(rng.integers(20, 28))):
                add(_S, s.kind, [s.id], [cid], [f"g-eleves-{cid[2:]}"], _STUDENT_KIND_RATE[s.kind])
                pupils.append((s.id, cid, s.kind))
    for _ in range(6):  # pupils of a class created after the snapshot
        add(_S, _C, ["s-college-jean-moulin"], [UNKNOWN_CLASS_ID], [], _STUDENT_KIND_RATE[_C])
        pupils.append(("s-college-jean-moulin", UNKNOWN_CLASS_ID, _C))
    teachers: list[int] = []
    for s in structures:
        class_ids = [c for c, _ in s.classes]
        n_teachers = _TEACHERS_PER[s.kind] + int(rng.integers(-2, 3))
        for _ in range(n_teachers):
            k = int(rng.integers(2, min(5, len(class_ids)) + 1))
            chosen = sorted(rng.choice(len(class_ids), size=k, replace=False).tolist())
            teachers.append(len(roles))
            add(_T, s.kind, [s.id], [class_ids[i] for i in chosen], [f"g-profs-{s.short}"])
        for _ in range(_STAFF_PER[s.kind] + int(rng.integers(-1, 2))):
            add(_P, s.kind, [s.id], [], [f"g-personnels-{s.short}"])
        for _ in range(_GUESTS_PER[s.kind] + int(rng.integers(-1, 2))):
            add(_G, s.kind, [s.id], [], [])
    # a few teachers also teach one or two classes in a second structure of the secondary
    secondary = [s for s in structures if s.kind != _E]
    for r in rng.choice([t for t in teachers if roles[t][2] != _E], _TWO_STRUCTURE_TEACHERS, replace=False):
        other = [s for s in secondary if s.id != roles[r][3][0]]
        s = other[int(rng.integers(len(other)))]
        extra = rng.choice(len(s.classes), size=int(rng.integers(1, 3)), replace=False)
        roles[r][3] = roles[r][3] + [s.id]
        roles[r][4] = roles[r][4] + [s.classes[i][0] for i in sorted(extra.tolist())]
    # the off-directory school: a teacher and two pupils
    off_class = "c-hors-annuaire-cm2"
    steady = [len(roles), len(roles) + 1, len(roles) + 2]  # no random activity weight: always a few events
    add(_T, _E, [UNKNOWN_STRUCTURE_ID], [off_class], [], 0.4)
    for _ in range(2):
        add(_S, _E, [UNKNOWN_STRUCTURE_ID], [off_class], [], 0.8)
    # parents: one or two children, sometimes in two structures
    n_parents = round(len(pupils) * _PARENTS_PER_PUPIL)
    first = rng.choice(len(pupils), size=n_parents, replace=False)
    by_structure: dict[str, list[int]] = {}
    for i, p in enumerate(pupils):
        by_structure.setdefault(p[0], []).append(i)

    def parent_of(children: list[int], user: int | None = None, w: float = 1.0) -> None:
        structs = list(dict.fromkeys(pupils[c][0] for c in children))
        classes = list(dict.fromkeys(pupils[c][1] for c in children))
        kind = min(pupils[c][2] for c in children)
        add(_R, kind, structs, classes, [], w * (1.2 if kind == _E else 1.0), user)

    for c in first.tolist():
        children = [c]
        if rng.random() < 0.25:
            if rng.random() < 0.6:
                pool = by_structure[pupils[c][0]]
            else:
                pool = [i for i in range(len(pupils)) if pupils[i][0] != pupils[c][0]]
            other = pool[int(rng.integers(len(pool)))]
            if other != c:
                children.append(other)
        parent_of(children)
    # users with two profiles: teachers who are also parents
    for r in rng.choice(teachers, _DUAL_PROFILE_USERS, replace=False).tolist():
        roles[r][6] *= 0.75
        parent_of([int(rng.integers(len(pupils)))], user=roles[r][0], w=0.8)

    role_user = np.array([r[0] for r in roles])
    role_prof = np.array([r[1] for r in roles])
    role_kind = np.array([r[2] for r in roles])
    weight = rng.gamma(0.9, 1 / 0.9, size=len(roles))
    weight[steady] = 1.0
    role_rate = _BASE_RATE[role_prof] * np.array([r[6] for r in roles]) * weight
    primary_role = np.full(n_users, -1)
    for i in range(len(roles) - 1, -1, -1):
        primary_role[role_user[i]] = i
    octets = rng.integers(1, 255, size=n_users).tolist()
    nets = rng.integers(0, 2, size=n_users).tolist()
    uas = rng.integers(0, len(_UAS), size=n_users).tolist()
    user_extra = tuple(
        f',"ua":{_UAS[u]},"ip":"{("203.0.113", "198.51.100")[n]}.{o}"'
        for u, n, o in zip(uas, nets, octets, strict=True)
    )
    base_activation = np.where(rng.random(n_users) < _BASE_NEVER_SHARE, _NEVER, 1)
    frags = []
    for _user, prof, _kind, structs, classes, _groups, _w in roles:
        head = f',"profil":"{_PROFS[prof]}","structures":{_compact(structs)}'
        if classes:
            with_classes = f'{head},"classes":{_compact(classes)}'
            frags.append((with_classes, with_classes))
        else:
            frags.append((f'{head},"classes":[]', head))
    return _Population(
        structures=structures,
        user_extra=user_extra,
        user_prof=role_prof[primary_role],
        base_activation=base_activation,
        primary_role=primary_role,
        role_user=role_user,
        role_prof=role_prof,
        role_group=role_prof * 3 + role_kind,
        role_rate=role_rate,
        role_frag=tuple(frags),
        role_groups=tuple(f',"groups":{_compact(r[5])}' if r[5] else "" for r in roles),
        role_structs=tuple(tuple(r[3]) for r in roles),
        role_classes=tuple(tuple(r[4]) for r in roles),
    )


@dataclass(frozen=True)
class _Accounts:
    """The accounts of one school year: each user slot's generation and activation day."""

    generation: np.ndarray
    activation_ord: np.ndarray  # ordinal of the activation day; 1 long ago; _NEVER if none


def _activation_days(rng: np.random.Generator, year: int, n: int) -> np.ndarray:
    probs = [w[0] for w in _ACTIVATION_WINDOWS]
    window = rng.choice(len(probs) + 1, size=n, p=[*probs, 1 - sum(probs)])
    out = np.full(n, _NEVER, dtype=np.int64)
    for i, (_p, (y0, m0, d0), (y1, m1, d1), decay) in enumerate(_ACTIVATION_WINDOWS):
        first, last = date(year + y0, m0, d0), date(year + y1, m1, d1)
        days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
        w = np.array([_day_factors(d)[0][_S] + 0.05 for d in days])
        if decay:
            w = w * np.exp(-np.arange(len(days)) / decay)
        members = np.nonzero(window == i)[0]
        chosen = rng.choice(len(days), size=len(members), p=w / w.sum())
        out[members] = np.array([d.toordinal() for d in days])[chosen]
    return out


@lru_cache(maxsize=256)
def _accounts(seed: int, year: int) -> _Accounts:
    pop = _population(seed)
    if year < _BASE_YEAR:
        return _Accounts(np.zeros(len(pop.user_prof), dtype=np.int64), pop.base_activation)
    prev = _accounts(seed, year - 1)
    rng = np.random.default_rng([seed, 1, year])
    renew = rng.random(len(prev.generation)) < _RENEWAL[pop.user_prof]
    activation = _activation_days(rng, year, len(prev.generation))
    return _Accounts(prev.generation + renew, np.where(renew, activation, prev.activation_ord))


def _user_id(seed_key: int, slot: int, generation: int) -> str:
    """A distinct 32-bit id per (slot, generation): a bijective mix of slot * 64 + generation."""
    m = 0xFFFFFFFF
    y = ((slot << 6 | (generation & 63)) * 0x9E3779B1 + seed_key) & m
    y ^= y >> 15
    y = (y * 0x2C1B3C6D) & m
    y ^= y >> 12
    y = (y * 0x297A2D39) & m
    y ^= y >> 15
    return f"u-{y:08x}"


def _user_ids(seed: int, accounts: _Accounts) -> list[str]:
    """The userId of each user slot in a school year's accounts."""
    key = (seed * 0x5BD1E995 + 0x1B873593) & 0xFFFFFFFF
    return [_user_id(key, u, g) for u, g in enumerate(accounts.generation.tolist())]


@lru_cache(maxsize=8)
def _school_year(seed: int, year: int) -> tuple[_Accounts, tuple[tuple[str, str], ...]]:
    """The accounts of school year `year` and each role's two JSON fragments, userId included."""
    pop = _population(seed)
    acc = _accounts(seed, year)
    ids = _user_ids(seed, acc)
    frags = tuple(
        (f'"userId":"{ids[u]}"{a}', f'"userId":"{ids[u]}"{b}')
        for u, (a, b) in zip(pop.role_user.tolist(), pop.role_frag, strict=True)
    )
    return acc, frags


# Events -----------------------------------------------------------------------------------------------------
def _hour_starts(day: date, tz: ZoneInfo) -> np.ndarray:
    """Epoch ms of each local hour's start (nonexistent hours: zoneinfo's fold=0 rule), then the day's end."""
    starts = [int(datetime(day.year, day.month, day.day, h, tzinfo=tz).timestamp() * 1000) for h in range(24)]
    nxt = day + timedelta(days=1)
    starts.append(int(datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).timestamp() * 1000))
    return np.array(starts, dtype=np.int64)


def _grouped_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    cs = np.cumsum(values)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return cs - cs[starts] + values[starts]


def _day_lines(pop: _Population, day: date, seed: int, tz: ZoneInfo) -> list[str]:
    rng = np.random.default_rng([seed, day.toordinal()])
    factors, day_kind = _day_factors(day)
    bounds = _hour_starts(day, tz)
    ordinal = day.toordinal()
    accounts, frags = _school_year(seed, day.year if day.month >= 9 else day.year - 1)
    active = accounts.activation_ord[pop.role_user] <= ordinal
    lam = pop.role_rate * factors[pop.role_prof] * active
    n = rng.poisson(lam)
    login_role = np.repeat(np.arange(len(lam)), n)
    hours = _sample(_HOUR_CDF[pop.role_prof[login_role], day_kind], rng)
    login_ts = bounds[hours] + rng.integers(0, 3_600_000, size=len(hours))
    # activations of the day, each followed by the account's first login
    act_users = np.nonzero(accounts.activation_ord == ordinal)[0]
    act_role = pop.primary_role[act_users]
    act_hours = _sample(_HOUR_CDF[pop.role_prof[act_role], day_kind], rng)
    act_ts = bounds[act_hours] + rng.integers(0, 3_600_000, size=len(act_hours))
    login_role = np.concatenate([login_role, act_role])
    login_ts = np.concatenate([login_ts, act_ts + rng.integers(5_000, 120_000, size=len(act_ts))])
    n_login = len(login_role)
    session = rng.integers(1_000, 100_000, size=n_login)
    # applications opened in each session
    k = np.minimum(rng.poisson(_ACCESS_MEAN[pop.role_prof[login_role]]), 8)
    acc_login = np.repeat(np.arange(n_login), k)
    acc_ts = login_ts[acc_login] + _grouped_cumsum(rng.integers(3_000, 420_000, size=len(acc_login)), k)
    acc_mod = _sample(_MODULE_CDF[pop.role_group[login_role[acc_login]]], rng)
    # kept but unused types
    get_login = np.nonzero(rng.random(n_login) < _GET_RESOURCE_SHARE)[0]
    get_ts = login_ts[get_login] + rng.integers(10_000, 1_200_000, size=len(get_login))
    to_login = np.nonzero(rng.random(n_login) < _TIMEOUT_SHARE)[0]
    to_ts = login_ts[to_login] + rng.integers(1_800_000, 5_400_000, size=len(to_login))
    # one realistic defect on some days of the month
    special_kind = _SPECIAL_DAYS.get(day.day, 0)
    sp_login = rng.integers(0, max(n_login, 1), size=1 if (special_kind and n_login) else 0)
    sp_ts = login_ts[sp_login] + rng.integers(1_000, 600_000, size=len(sp_login))

    parts = [
        (login_ts, _LOGIN, login_role, np.full(n_login, _AUTH), session, 0),
        (act_ts, _ACTIVATION, act_role, np.full(len(act_role), _AUTH), np.zeros(len(act_role), np.int64), 0),
        (acc_ts, _ACCESS, login_role[acc_login], acc_mod, session[acc_login], 0),
        (get_ts, _GET, login_role[get_login], np.full(len(get_login), _WORKSPACE), session[get_login], 0),
        (to_ts, _TIMEOUT, login_role[to_login], np.full(len(to_login), _AUTH), session[to_login], 0),
        (
            sp_ts,
            _ACCESS if special_kind == _NO_MODULE else _LOGIN,
            login_role[sp_login],
            np.full(len(sp_login), _AUTH),
            session[sp_login],
            special_kind,
        ),
    ]
    ts = np.concatenate([p[0] for p in parts]).astype(np.int64)
    etype = np.concatenate([np.full(len(p[0]), p[1]) for p in parts])
    role = np.concatenate([p[2] for p in parts])
    module = np.concatenate([p[3] for p in parts])
    sess = np.concatenate([p[4] for p in parts])
    special = np.concatenate([np.full(len(p[0]), p[5]) for p in parts])
    ts = np.clip(ts, bounds[0], bounds[-1] - 1)
    order = np.argsort(ts, kind="stable")
    lines = _format(
        pop, frags, rng, tz, ts[order], etype[order], role[order], module[order], sess[order], special[order]
    )
    if day.day in _DUPLICATE_DAYS and lines:
        j = int(rng.integers(len(lines)))
        if lines[j].endswith("}"):  # never the truncated line
            lines.insert(min(len(lines), j + 1 + int(rng.integers(0, 40))), lines[j])
    return lines


def _format(
    pop: _Population,
    frags: tuple[tuple[str, str], ...],
    rng: np.random.Generator,
    tz: ZoneInfo,
    ts: np.ndarray,
    etype: np.ndarray,
    role: np.ndarray,
    module: np.ndarray,
    session: np.ndarray,
    special: np.ndarray,
) -> list[str]:
    n = len(ts)
    bits = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64).tolist()
    oid = (rng.random(n) < _OID_SHARE).tolist()
    form = rng.choice(5, size=n, p=_DATE_FORM_P).tolist()
    variant = rng.integers(0, 2, size=n).tolist()
    flags = rng.random((n, 4)).tolist()  # ua/ip, groups, referer, sessionId
    module_parts = [
        f',"module":"{m}"' + (',"connector-type":"Cas"' if m in _CONNECTORS else "") for m in MODULES
    ]
    module_parts.append(',"module":"Auth"')  # index -1
    lines = []
    for t, e, r, m, s, sp, (hi, lo), o, fm, v, fl in zip(
        ts.tolist(),
        etype.tolist(),
        role.tolist(),
        module.tolist(),
        session.tolist(),
        special.tolist(),
        bits,
        oid,
        form,
        variant,
        flags,
        strict=True,
    ):
        if o:
            ident = f'{{"$oid":"{t // 1000:08x}{lo:016x}"}}'
        else:
            ident = f'"{uuid.UUID(int=(hi << 64) | lo, version=4)}"'
        if fm == 0:
            when = str(t)
        elif fm == 1:
            when = f'{{"$numberLong":"{t}"}}'
        elif fm == 2:
            when = f'{{"$date":"{datetime.fromtimestamp(t // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")}Z"}}'
        elif fm == 3:
            iso = datetime.fromtimestamp(t / 1000, tz).isoformat(timespec="milliseconds")
            when = f'{{"$date":"{iso}"}}'
        else:
            when = f'{{"$date":{{"$numberLong":"{t}"}}}}'
        frag = frags[r][v]
        if sp == _DIRECTOR:
            frag = frag.replace(f'"profil":"{_PROFS[pop.role_prof[r]]}"', '"profil":"Director"')
        elif sp == _TWICE:
            frag = frag.replace(
                '"structures":[', '"structures":[' + _compact(pop.role_structs[r][0]) + ",", 1
            )
        if fl[1] < 0.25:
            frag += pop.role_groups[r]
        mod = "" if sp == _NO_MODULE else module_parts[m]
        tail = pop.user_extra[pop.role_user[r]] if fl[0] < 0.7 else ""
        if e <= _ACCESS:
            if fl[2] < 0.3:
                tail += _REFERERS[e]
            if fl[3] < 0.5:
                tail += f',"sessionId":{s}'
        elif e == _GET:
            tail += ',"resource-type":"document"'
        line = f'{{"_id":{ident},"event-type":"{_ETYPES[e]}"{mod},"date":{when},{frag}{tail}}}'
        if sp == _TRUNCATED:
            line = line[: len(line) * 3 // 5]
        lines.append(line)
    return lines


# Writers ----------------------------------------------------------------------------------------------------
def _write_gz(path: Path, lines: list[str]) -> None:
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    path.write_bytes(gzip.compress(data, compresslevel=1, mtime=0))


def write_directory(out: Path, seed: int = 7, as_of: date = SNAPSHOT_DAY) -> Path:
    """Write `out/structures.csv`, `out/classes.csv` (SPEC 1.2) and `out/users.csv` (the accounts of
    `as_of`'s school year, README "Access"); return `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pop = _population(seed)
    with open(out / "structures.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "uai", "name"])
        w.writerows([s.id, s.uai, s.name] for s in pop.structures)
    with open(out / "classes.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "structure_id", "name"])
        w.writerows([cid, s.id, name] for s in pop.structures for cid, name in s.classes)
    _write_users(out / "users.csv", pop, seed, as_of)
    return out


def _write_users(path: Path, pop: _Population, seed: int, as_of: date) -> None:
    """Each account of the school year with its first role's profile, structures and classes (a teacher
    who is also a parent is listed as the teacher), and the functions of a few: in every structure one
    Personnel is ADML, in every école the director (a teacher) too; one Personnel is SUPER_ADMIN."""
    ids = _user_ids(seed, _accounts(seed, as_of.year if as_of.month >= 9 else as_of.year - 1))
    roles = pop.primary_role.tolist()
    prof = pop.role_prof.tolist()
    rng = np.random.default_rng([seed, 2])  # its own stream: the population and the events stay as they were
    functions: dict[int, str] = {}
    for s in pop.structures:
        for p, kinds in ((_P, (_E, _C, _L)), (_T, (_E,))):
            if s.kind in kinds:
                members = [u for u, r in enumerate(roles) if prof[r] == p and pop.role_structs[r][0] == s.id]
                functions[members[int(rng.integers(len(members)))]] = "ADML"
    staff = [u for u, r in enumerate(roles) if prof[r] == _P and u not in functions]
    functions[staff[int(rng.integers(len(staff)))]] = "SUPER_ADMIN"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "profile", "structures", "classes", "functions"])
        for u, r in enumerate(roles):
            structures, classes = "|".join(pop.role_structs[r]), "|".join(pop.role_classes[r])
            w.writerow([ids[u], _PROFS[prof[r]], structures, classes, functions.get(u, "")])


def write_events(
    out: Path, first_day: date, last_day: date, seed: int = 7, timezone: str = DEFAULT_TIMEZONE
) -> list[Path]:
    """Write the events of [first_day, last_day] (local days): one file per month, or one day's file.

    A single day goes to events-YYYY-MM-DD.json.gz, a longer range to events-YYYY-MM.json.gz (its days only).
    """
    if last_day < first_day:
        raise ValueError(f"last_day {last_day} is before first_day {first_day}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tz = ZoneInfo(timezone)
    pop = _population(seed)
    if first_day == last_day:
        path = out / f"events-{first_day.isoformat()}.json.gz"
        _write_gz(path, _day_lines(pop, first_day, seed, tz))
        return [path]
    paths = []
    day = first_day
    while day <= last_day:
        month_lines: list[str] = []
        month = (day.year, day.month)
        while day <= last_day and (day.year, day.month) == month:
            month_lines.extend(_day_lines(pop, day, seed, tz))
            day += timedelta(days=1)
        path = out / f"events-{month[0]:04d}-{month[1]:02d}.json.gz"
        _write_gz(path, month_lines)
        paths.append(path)
    return paths


def write_demo_inputs(out: Path, first_day: date, last_day: date, seed: int = 7) -> DemoInputs:
    """Write a whole demo input set: `out/directory` (snapshot) and `out/exports` (event files)."""
    out = Path(out)
    directory = write_directory(out / "directory", seed, as_of=last_day)
    files = write_events(out / "exports", first_day, last_day, seed)
    return DemoInputs(event_files=files, directory=directory)


def _expected_accounts(seed: int = 7) -> dict[str, int]:
    """Accounts per profile (a user with two profiles counts in both): for tests and the curious."""
    pop = _population(seed)
    pairs = set(zip(pop.role_user.tolist(), pop.role_prof.tolist(), strict=True))
    return {code: sum(1 for _u, p in pairs if p == i) for i, code in enumerate(_PROFS)}
