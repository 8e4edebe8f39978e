"""Calendar arithmetic of SPEC 2.1: the reference day, the timezone, periods, buckets and day masks."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .constants import PERIOD_12MONTHS, PERIOD_MONTH, YEAR_BEFORE_DAYS
from .exceptions import StatistiquesError


class Span(NamedTuple):
    """Days first..last inclusive; `label` is the bucket's name (its first calendar day: day, Monday, 1st)."""

    label: date
    first: date
    last: date


def check_timezone(timezone: str) -> None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise StatistiquesError(
            f"unknown timezone {timezone!r}; give an IANA name such as Europe/Paris"
        ) from error


def default_as_of(timezone: str) -> date:
    """Yesterday, in the platform's timezone."""
    return datetime.now(ZoneInfo(timezone)).date() - timedelta(days=1)


def utc_days_of(day: date, timezone: str) -> list[date]:
    """The UTC days that a local day overlaps (one or two)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(), zone).astimezone(ZoneInfo("UTC"))
    end = (datetime.combine(day + timedelta(days=1), time(), zone) - timedelta(milliseconds=1)).astimezone(
        ZoneInfo("UTC")
    )
    return [start.date() + timedelta(days=i) for i in range((end.date() - start.date()).days + 1)]


def add_months(month_start: date, months: int) -> date:
    index = month_start.year * 12 + month_start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_spans(as_of: date) -> dict[str, Span]:
    """`month`: the 1st of D's month to D; `12months`: the 1st of the month twelve months before, to D."""
    month_start = as_of.replace(day=1)
    year_start = add_months(month_start, -12)
    return {
        PERIOD_MONTH: Span(month_start, month_start, as_of),
        PERIOD_12MONTHS: Span(year_start, year_start, as_of),
    }


def window_days(as_of: date) -> list[date]:
    """Every day of the longest period (`12months`): what a build reads."""
    year = period_spans(as_of)[PERIOD_12MONTHS]
    return days_between(year.first, year.last)


def year_before(span: Span) -> Span:
    """The span 52 weeks earlier (SPEC 2.5): the same weekdays, whatever leap day lies between."""
    shift = timedelta(days=YEAR_BEFORE_DAYS)
    return Span(span.label - shift, span.first - shift, span.last - shift)


def history_days(as_of: date) -> list[date]:
    """What the aggregate layer keeps up to date: the window and the year before it, from the 1st of the
    month where the `12months` period shifted back 52 weeks starts (whole months: they are rolled up)."""
    earliest = year_before(period_spans(as_of)[PERIOD_12MONTHS]).first.replace(day=1)
    return days_between(earliest, as_of)


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def bucket_spans(period: Span, grouping: str) -> list[Span]:
    """The period's buckets; the first and last are cut by the period's edges, labels are not."""
    if grouping == "day":
        return [Span(d, d, d) for d in days_between(period.first, period.last)]
    spans = []
    if grouping == "week":
        label = period.first - timedelta(days=period.first.weekday())
        step = lambda d: d + timedelta(days=7)
    elif grouping == "month":
        label = period.first.replace(day=1)
        step = lambda d: add_months(d, 1)
    else:
        raise AssertionError(f"unknown grouping {grouping!r}")
    while label <= period.last:
        following = step(label)
        spans.append(Span(label, max(label, period.first), min(following - timedelta(days=1), period.last)))
        label = following
    return spans


def month_masks(span: Span) -> dict[date, int]:
    """For each calendar month the span touches, the bit mask of its days (bit d-1 for day d)."""
    masks: dict[date, int] = {}
    for day in days_between(span.first, span.last):
        month = day.replace(day=1)
        masks[month] = masks.get(month, 0) | (1 << (day.day - 1))
    return masks


def months_of(span: Span) -> list[date]:
    return sorted(month_masks(span))
