"""French school holidays of each entity's zone (SPEC 2.6), from the calendar of `vacances-scolaires-france`.

A structure's zone is its académie's: the first three characters of its UAI name its département
(`data/academies.csv`: département → académie → zone, the one copy of that table). Its classes take it; the
platform, structures without a UAI and UAIs outside zones A, B and C (Corsica, overseas) take the build's
default zone: `--holiday-zone`, else the zone of most structures with pages.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

from vacances_scolaires_france import SchoolHolidayDates

from .constants import CLASS, HOLIDAY_ZONES, STRUCTURE
from .model import Entity

log = logging.getLogger(__name__)

ZONES = HOLIDAY_ZONES
ACADEMIES_FILE = Path(__file__).parent / "data" / "academies.csv"
CALENDAR_FROM = date(2000, 1, 1)  # the lake holds no event before 2000 (SPEC 1.1): nor does a page need more


@dataclass(frozen=True)
class Academy:
    uai_prefix: str  # the first three characters of a UAI: "075", "620" (Corse-du-Sud), "974"
    departement: str
    academie: str
    zone: str  # "" outside zones A, B and C


@dataclass(frozen=True)
class Holiday:
    """A run of consecutive days that the calendar marks for a zone under one name."""

    name: str
    first: date
    last: date

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "from": self.first.isoformat(), "to": self.last.isoformat()}


@cache
def academies() -> dict[str, Academy]:
    """The table of data/academies.csv, by UAI prefix."""
    with open(ACADEMIES_FILE, encoding="utf-8", newline="") as handle:
        rows = [Academy(**row) for row in csv.DictReader(handle)]
    return {row.uai_prefix: row for row in rows}


def zone_of_uai(uai: str) -> str | None:
    """The holiday zone (A, B or C) of a UAI's académie; None when it has none (Corsica, overseas) or the
    UAI names no département the table knows."""
    academy = academies().get(uai.strip().upper()[:3])
    return academy.zone if academy is not None and academy.zone else None


def default_zone(structure_uais: Iterable[str]) -> str:
    """The zone of most structures (those whose UAI has one); a tie, or none at all, goes to the first of
    A, B, C."""
    counts = Counter(zone for zone in map(zone_of_uai, structure_uais) if zone is not None)
    return max(ZONES, key=lambda zone: (counts[zone], -ZONES.index(zone)))


@cache
def _package_calendar() -> SchoolHolidayDates:
    return SchoolHolidayDates()  # reads the package's CSV of every day since 1990: 0.08 s, once


@cache
def calendar(zone: str) -> tuple[Holiday, ...]:
    """Every holiday of `zone` in the package's calendar since CALENDAR_FROM, in date order."""
    dates = _package_calendar()
    key = dates.zone_key(zone)
    runs: list[Holiday] = []
    for day, row in sorted(dates.data.items()):
        if day < CALENDAR_FROM or not row[key]:
            continue
        name = row["nom_vacances"]
        if runs and runs[-1].name == name and runs[-1].last == day - timedelta(days=1):
            runs[-1] = Holiday(name, runs[-1].first, day)
        else:
            runs.append(Holiday(name, day, day))
    return tuple(runs)


def public_holidays(year: int) -> set[date]:
    """France's eleven public holidays (jours fériés) of `year`, Easter's by the Gregorian computus."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 -- the computus's own name
    m = (a + 11 * h + 19 * l) // 433
    month = (h + l - 7 * m + 90) // 25
    easter = date(year, month, (h + l - 7 * m + 33 * month + 19) % 32)
    fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]
    moving = [easter + timedelta(days=n) for n in (1, 39, 50)]  # Easter Monday, Ascension, Whit Monday
    return {date(year, mo, da) for mo, da in fixed} | set(moving)


def day_off(day: date, zone: str) -> bool:
    """No school in `zone` that day: a school holiday of the package's calendar, or a public holiday."""
    dates = _package_calendar()
    row = dates.data.get(day)  # the days some zone is on holiday
    return bool(row and row[dates.zone_key(zone)]) or day in public_holidays(day.year)


def calendar_end() -> date:
    """The last day the package's calendar covers."""
    return date(_package_calendar().max_year, 12, 31)


def holidays_over(zone: str, first: date, last: date) -> list[Holiday]:
    """The zone's holidays that overlap [first, last], each clipped to it, in date order."""
    return [
        Holiday(h.name, max(h.first, first), min(h.last, last))
        for h in calendar(zone)
        if h.first <= last and h.last >= first
    ]


@dataclass(frozen=True)
class HolidayZones:
    """Each entity's zone, and each zone's holidays over the build's `12months` period."""

    default: str
    chosen: bool  # the default came from --holiday-zone
    first: date
    last: date
    structure_zones: dict[str, str]  # structure id → zone, for those whose UAI has one

    def of(self, entity: Entity) -> str:
        if entity.kind in (STRUCTURE, CLASS):
            return self.structure_zones.get(entity.structure_id, self.default)
        return self.default

    def periods(self, zone: str) -> tuple[Holiday, ...]:
        return _periods(zone, self.first, self.last)

    def report(self, entities: Iterable[Entity]) -> dict:
        """build.json's `holidays`: the default zone, where it came from, the entities of each zone."""
        counts = Counter(self.of(e) for e in entities)
        return {
            "default_zone": self.default,
            "default_from": "--holiday-zone" if self.chosen else "most structures",
            "entities_by_zone": {zone: counts[zone] for zone in ZONES},
            "calendar_ends": calendar_end().isoformat(),
        }


@cache
def _periods(zone: str, first: date, last: date) -> tuple[Holiday, ...]:
    return tuple(holidays_over(zone, first, last))


def zones_for(entities: list[Entity], chosen: str | None, first: date, last: date) -> HolidayZones:
    """The build's zones: `chosen` (--holiday-zone) or the zone of most structures as the default."""
    structures = [e for e in entities if e.kind == STRUCTURE]
    default = chosen or default_zone(e.uai for e in structures)
    zones = {e.id: zone for e in structures if (zone := zone_of_uai(e.uai)) is not None}
    if last > calendar_end():
        log.warning(
            "the school holiday calendar of vacances-scolaires-france ends on %s: later holidays are not "
            "marked; upgrade the package (pip install -U vacances-scolaires-france)",
            calendar_end(),
        )
    return HolidayZones(default, chosen is not None, first, last, zones)
