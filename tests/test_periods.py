"""SPEC 2.1: periods, buckets cut by the period's edges, labels, month masks."""

from __future__ import annotations

from datetime import date

from pipeline.periods import Span, bucket_spans, month_masks, period_spans


def test_periods_of_a_reference_day():
    periods = period_spans(date(2026, 3, 31))
    assert periods["month"] == Span(date(2026, 3, 1), date(2026, 3, 1), date(2026, 3, 31))
    assert periods["12months"].first == date(2025, 3, 1)
    assert period_spans(date(2026, 1, 1))["12months"].first == date(2025, 1, 1)


def test_weeks_are_labelled_by_their_monday_and_cut_by_the_period():
    weeks = bucket_spans(period_spans(date(2026, 3, 31))["12months"], "week")
    assert weeks[0] == Span(date(2025, 2, 24), date(2025, 3, 1), date(2025, 3, 2))  # 2025-03-01 is a Saturday
    assert weeks[-1] == Span(date(2026, 3, 30), date(2026, 3, 30), date(2026, 3, 31))
    assert all(w.label.weekday() == 0 for w in weeks)
    assert sum((w.last - w.first).days + 1 for w in weeks) == 396


def test_months_and_days():
    period = period_spans(date(2026, 2, 14))["12months"]
    months = bucket_spans(period, "month")
    assert len(months) == 13 and months[-1] == Span(date(2026, 2, 1), date(2026, 2, 1), date(2026, 2, 14))
    days = bucket_spans(period, "day")
    assert days[0].label == date(2025, 2, 1) and days[-1].label == date(2026, 2, 14)


def test_month_masks_split_a_week_across_months():
    masks = month_masks(Span(date(2026, 3, 30), date(2026, 3, 30), date(2026, 4, 5)))
    assert masks == {date(2026, 3, 1): (1 << 29) | (1 << 30), date(2026, 4, 1): 0b11111}
