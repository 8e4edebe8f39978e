"""The indicator arithmetic (SPEC 2.4): pure functions of NumPy arrays, each testable alone and portable to
any engine. Profile 0 of a profile axis is "Tous"."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from .constants import CHANGE_NEW


def sum_into(shape: tuple[int, ...], index: Sequence[np.ndarray], values: np.ndarray) -> np.ndarray:
    """A dense int64 array of `shape` holding the sums of `values` at their `index` (one array per axis)."""
    flat = np.ravel_multi_index(tuple(index), shape) if len(values) else np.zeros(0, dtype=np.int64)
    sums = np.bincount(flat, weights=values, minlength=int(np.prod(shape)))
    return np.rint(sums).astype(np.int64).reshape(shape)  # float64 sums of integers are exact below 2**53


def with_tous(by_profile: np.ndarray, axis: int = 1) -> np.ndarray:
    """Event counts with profile 0 (Tous) set to the sum of the profiles: each event has one profile."""
    tous = [slice(None)] * by_profile.ndim
    tous[axis] = 0
    rest = list(tous)
    rest[axis] = slice(1, None)
    by_profile[tuple(tous)] = by_profile[tuple(rest)].sum(axis=axis)
    return by_profile


def group_counts(cells: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum `counts` per distinct cell code; (cells, sums) sorted by cell."""
    unique, inverse = np.unique(cells, return_inverse=True)
    return unique, np.bincount(inverse, weights=counts, minlength=len(unique)).round().astype(np.int64)


def ratio_hundredths(connections: np.ndarray, visitors: np.ndarray) -> np.ndarray:
    """connections ÷ visitors in hundredths, rounded half up exactly (integers only); -1 where no visitor."""
    c = connections.astype(np.int64)
    v = visitors.astype(np.int64)
    out = np.full(c.shape, -1, dtype=np.int64)
    has = v > 0
    out[has] = (200 * c[has] + v[has]) // (2 * v[has])
    return out


def ratio_value(connections: int, visitors: int) -> float | None:
    """One ratio as a tile and summary.json give it: two decimals (exactly k/100), None with no visitor."""
    hundredths = int(ratio_hundredths(np.array([connections]), np.array([visitors]))[0])
    return None if hundredths < 0 else hundredths / 100


def visits_per_visitor(connections: np.ndarray, visitors: np.ndarray) -> np.ndarray:
    """The ratio as floats of two decimals (exactly k/100), NaN where no visitor."""
    hundredths = ratio_hundredths(connections, visitors)
    return np.where(hundredths < 0, np.nan, hundredths / 100)


def rebucket(by_day: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sum consecutive day rows [day, …] into buckets starting at the day offsets `starts` (which tile
    the days in order, the first at 0)."""
    return np.add.reduceat(by_day, starts, axis=0)


def top_labels(counts: np.ndarray) -> np.ndarray:
    """Per row of `counts` [row, slot], the slot of the largest count, the earliest on ties; -1 where all
    are zero."""
    return np.where(counts.sum(axis=1) > 0, np.argmax(counts, axis=1), -1)


def app_order(
    entity: np.ndarray, profile: np.ndarray, module: np.ndarray, count: np.ndarray, names: list[str]
) -> np.ndarray:
    """The order of access rows by entity, profile, count (most first), then module name."""
    by_name = np.argsort(np.argsort(np.array(names, dtype=object))) if names else np.zeros(0, int)
    return np.lexsort((by_name[module] if len(module) else module, -count, profile, entity))


def change_percent(now: tuple[int, int], before: tuple[int, int]) -> int | str | None:
    """SPEC 2.5's change from `before` to `now`, each a (numerator, denominator) pair (a count over 1, a
    ratio's two counts): (now − before) ÷ before × 100 rounded half away from zero, exactly; CHANGE_NEW
    when before is 0 and now is not; None when both are 0 or either ratio is empty (denominator 0)."""
    (a, b), (c, d) = now, before
    if b == 0 or d == 0:
        return None
    if c == 0:
        return None if a == 0 else CHANGE_NEW
    percent = Fraction(100 * (a * d - b * c), b * c)  # (a/b ÷ c/d − 1) × 100
    whole = math.floor(abs(percent) + Fraction(1, 2))
    return whole if percent >= 0 else -whole
