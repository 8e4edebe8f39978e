"""The chart specifications (vega-altair → Vega-Lite), built once per build; pages give them only data.

Every chart reads the named dataset `rows` (the page script fills it from the entity's `data.js`):
`t` bucket start (UTC ms) and `t2` next bucket start for time series, `s` slot or weekday, `a` app,
`p` profile code, `l` profile label, `o` profile order, `v` value, `d` the tooltip text (detail by profile).
Hour and weekday charts also read `peak` (`s`, `v`, `label`: the highlighted slot) and the param `peakSlot`.
The param `hidden` lists the profile codes the legend has switched off.
"""

from __future__ import annotations

from typing import Any

import altair as alt

from .constants import GROUPINGS, HOUR_SLOTS, PROFILES, WEEKDAYS

ROWS = "rows"
PEAK = "peak"
HEIGHT = 320
APP_STEP = 26
AXIS_FORMATS = {"day": None, "week": None, "month": "%b %Y"}
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Ubuntu, sans-serif"
TEXT_COLOUR = "#1f2933"
MUTED_COLOUR = "#52606d"
GRID_COLOUR = "#e4e7eb"

_HIDDEN = alt.param(name="hidden", value=[])
_NOT_HIDDEN = "indexof(hidden, datum.p) < 0"


def _colour(profiles=PROFILES) -> alt.Color:
    return alt.Color(
        "l:N",
        scale=alt.Scale(domain=[p.label for p in profiles], range=[p.colour for p in profiles]),
        sort=[p.label for p in profiles],
        legend=None,
    )


def _time_axis(grouping: str) -> alt.X:
    axis = alt.Axis(title=None, labelOverlap=True, grid=False)
    if AXIS_FORMATS[grouping]:
        axis = alt.Axis(title=None, labelOverlap=True, grid=False, format=AXIS_FORMATS[grouping])
    return alt.X("t:T", scale=alt.Scale(type="utc"), axis=axis)


def _value_axis(title: str | None = None) -> alt.Y:
    return alt.Y("v:Q", axis=alt.Axis(title=title, format=",~f", tickMinStep=1), stack=None)


def lines(grouping: str) -> alt.LayerChart:
    """One line per profile and Tous (connections, unique visitors, visits per visitor)."""
    base = alt.Chart(alt.NamedData(ROWS)).encode(x=_time_axis(grouping), y=_value_axis(), color=_colour())
    line = base.mark_line(strokeWidth=2).encode(detail="p:N")
    size = 14 if grouping == "day" else 46
    points = base.mark_point(filled=True, size=size, opacity=1).encode(tooltip="d:N")
    return (line + points).add_params(_HIDDEN).transform_filter(_NOT_HIDDEN)


def bars(grouping: str) -> alt.Chart:
    """Bars of one profile over time (activated accounts); `t2` closes each bucket."""
    return (
        alt.Chart(alt.NamedData(ROWS))
        .mark_bar(stroke="#ffffff", strokeWidth=1 if grouping != "day" else 0)
        .encode(
            x=_time_axis(grouping),
            x2="t2:T",
            y=_value_axis(),
            y2=alt.datum(0),
            color=_colour(),
            tooltip="d:N",
        )
        .add_params(_HIDDEN)
    )


def apps() -> alt.Chart:
    """Horizontal bars of the apps of one profile, most used first (height: APP_STEP a bar)."""
    return (
        alt.Chart(alt.NamedData(ROWS))
        .mark_bar(cornerRadiusEnd=3)
        .encode(
            y=alt.Y(
                "a:N",
                sort=alt.EncodingSortField("r", order="ascending"),
                axis=alt.Axis(title=None, labelLimit=220),
            ),
            x=alt.X("v:Q", axis=alt.Axis(title=None, format=",~f", tickMinStep=1)),
            color=_colour(),
            tooltip="d:N",
        )
        .add_params(_HIDDEN)
    )


def slots(kind: str) -> alt.LayerChart:
    """Stacked bars by profile over the 24 hour slots or the 7 weekdays; the peak is labelled and bold."""
    domain = list(HOUR_SLOTS if kind == "hours" else WEEKDAYS)
    peak_test = "datum.s === peakSlot"
    x = alt.X(
        "s:N",
        sort=domain,
        scale=alt.Scale(domain=domain),
        axis=alt.Axis(
            title=None,
            labelAngle=-45 if kind == "hours" else 0,
            labelFontWeight=alt.ExprRef("datum.value === peakSlot ? 'bold' : 'normal'"),
        ),
    )
    stacked = (
        alt.Chart(alt.NamedData(ROWS))
        .mark_bar()
        .encode(
            x=x,
            y=alt.Y("v:Q", stack="zero", axis=alt.Axis(title=None, format=",~f", tickMinStep=1)),
            color=_colour(PROFILES[1:]),
            order=alt.Order("o:Q"),
            opacity=alt.condition(peak_test, alt.value(1), alt.value(0.55)),
            tooltip="d:N",
        )
        .transform_filter(_NOT_HIDDEN)
    )
    label = (
        alt.Chart(alt.NamedData(PEAK))
        .mark_text(dy=-9, fontSize=13, fontWeight="bold", color=TEXT_COLOUR)
        .encode(x=x, y=alt.Y("v:Q"), text="label:N")
    )
    return (stacked + label).add_params(_HIDDEN, alt.param(name="peakSlot", value=""))


def _configure(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    return (
        chart.properties(
            width="container", height=HEIGHT, autosize=alt.AutoSizeParams(type="fit-x", contains="padding")
        )
        .configure(font=FONT, background="transparent")
        .configure_view(stroke=None)
        .configure_axis(
            labelColor=MUTED_COLOUR,
            titleColor=MUTED_COLOUR,
            gridColor=GRID_COLOUR,
            domainColor="#9aa5b1",
            tickColor="#9aa5b1",
            labelFontSize=12,
        )
    )


def chart_specs() -> dict[str, dict[str, Any]]:
    """Every chart kind's Vega-Lite specification, keyed as the page script asks for them."""
    charts: dict[str, alt.TopLevelMixin] = {}
    for grouping in GROUPINGS:
        charts[f"lines-{grouping}"] = lines(grouping)
        charts[f"bars-{grouping}"] = bars(grouping)
    charts["apps"] = apps()
    charts["hours"] = slots("hours")
    charts["weekdays"] = slots("weekdays")
    specs = {}
    for key, chart in charts.items():
        specs[key] = _configure(chart).to_dict(validate=True)
    return specs
