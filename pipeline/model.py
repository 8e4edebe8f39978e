"""The shapes passed between the indicator stage and the writers (CSV, pages)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from .constants import CLASS, PLATFORM, PROFILE_CODES, STRUCTURE

__all__ = ["CLASS", "PLATFORM", "STRUCTURE", "Comparison", "Entity", "EntityFigures", "Series"]


@dataclass(frozen=True)
class Entity:
    """One page folder of the site: the platform, a structure or a class."""

    kind: str  # PLATFORM | STRUCTURE | CLASS
    id: str  # "" for the platform
    name: str  # the display name (the id when the snapshot does not know it)
    path: str  # folder relative to the site root, also the entity's key
    structure_id: str = ""  # own id for a structure, parent's for a class
    structure_name: str = ""  # "Plateforme" for the platform
    uai: str = ""
    class_name: str = ""
    in_snapshot: bool = True


@dataclass(frozen=True)
class Series:
    """One indicator of one entity by one grouping: bucket labels (their first calendar day) and values
    [bucket, profile], profiles in `constants.PROFILE_CODES` order. Counts are integers; a ratio is a float
    of two decimals (exactly k/100), NaN where there is no visitor."""

    labels: list[date]
    values: np.ndarray

    def rows(self) -> list[tuple[date, dict[str, float | int | None]]]:
        """(label, {profile: value}) per bucket, as Python numbers, None for an empty ratio."""
        return [
            (label, {p: (None if v != v else v) for p, v in zip(PROFILE_CODES, row)})
            for label, row in zip(self.labels, self.values.tolist())
        ]


@dataclass(frozen=True)
class Comparison:
    """A tile's figure over its period 52 weeks earlier (SPEC 2.5), and the change to now."""

    value: int | float | None  # None: the history does not reach `first`, or an empty ratio
    first: date
    last: date
    change: int | str | None  # a whole percentage, CHANGE_NEW, or None


@dataclass
class EntityFigures:
    """Every figure of one entity, ready to write: what the CSVs, summary.json and pages show.

    Profiles are the codes of `constants.PROFILE_CODES` ("all" for Tous), always in that order.
    """

    entity: Entity
    as_of: date
    period_starts: dict[str, date]  # "month" / "12months" → first day; both end at as_of
    # tiles[indicator_id] = value (int, float, str or None for no data)
    tiles: dict[str, object]
    # series[indicator_id][grouping]: the bucket labels and values [bucket, profile]
    series: dict[str, dict[str, Series]]
    # apps[period][profile] = [(module, count), ...] most used first, then by name
    apps: dict[str, dict[str, list[tuple[str, int]]]]
    # hours[period][profile] = 24 counts; weekdays[period][profile] = 7 counts (Monday first)
    hours: dict[str, dict[str, list[int]]]
    weekdays: dict[str, dict[str, list[int]]]
    # distinct visitors over whole periods (never sums of buckets): totals[period][profile]
    visitors: dict[str, dict[str, int]] = field(default_factory=dict)
    # before[indicator_id]: the tiles of constants.COMPARED over their period a year before
    before: dict[str, Comparison] = field(default_factory=dict)
