"""The chart specifications (vega-altair → Vega-Lite), built once per build; pages give them only data.

Every chart reads the named dataset `rows` (the page script fills it from the entity's `data.js`):
`t` bucket start (UTC ms) and `t2` next bucket start for time series, `s` slot or weekday, `a` app,
`p` profile code, `l` profile label, `o` profile order, `v` value, `d` the tooltip text (detail by profile),
`partial` whether a time series' bucket holds only some of its days (the period's first or last week or
month).
Bar charts over time also read `peak` (`t`, `t2`, `v`, `label`: the highest bars).
Charts by day and by week also read `holidays` (`t`, `t2`, `d`: a school holiday's band and its words).
Hour and weekday charts also read `peak` (`s`, `v`, `label`: the highlighted slots, every one tied at the
top) and the param `peakSlots`.
The param `hidden` lists the profile codes the legend has switched off.
"""

from __future__ import annotations

from typing import Any

import altair as alt

from .constants import (
    GROUPINGS,
    HOLIDAY_COLOUR,
    HOLIDAY_GROUPINGS,
    HOUR_SLOTS,
    PROFILES,
    RUN_ALERT_COLOUR,
    RUN_COLOUR,
    RUN_STAGES,
    WEEKDAYS,
)

ROWS = "rows"
PEAK = "peak"
HOLIDAYS = "holidays"
HEIGHT = 320
NARROW_CHART = 480  # px: below, slot and weekday labels are abbreviated
AXIS_FORMATS = {"day": None, "week": None, "month": "%b %Y"}
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Ubuntu, sans-serif"
TEXT_COLOUR = "#1f2933"
MUTED_COLOUR = "#52606d"
GRID_COLOUR = "#e4e7eb"

_HIDDEN = alt.param(name="hidden", value=[])
_NOT_HIDDEN = "indexof(hidden, datum.p) < 0"


def _profile_scale(attribute: str, profiles=PROFILES) -> alt.Scale:
    """Each profile's label mapped to one of its attributes (colour, shade, shape)."""
    return alt.Scale(domain=[p.label for p in profiles], range=[getattr(p, attribute) for p in profiles])


def _colour(profiles=PROFILES, shade: bool = False) -> alt.Color:
    """Each profile's SPEC colour (bar fills), or its shade (lines and points: 3:1 on white)."""
    return alt.Color(
        "l:N",
        scale=_profile_scale("shade" if shade else "colour", profiles),
        sort=[p.label for p in profiles],
        legend=None,
    )


def _outline(profiles=PROFILES) -> alt.Stroke:
    """An outline in its profile's shade: a bar's or point's edge reaches 3:1 on white whatever its fill."""
    return alt.Stroke("l:N", scale=_profile_scale("shade", profiles), legend=None)


def _shape() -> alt.Shape:
    return alt.Shape("l:N", scale=_profile_scale("shape"), legend=None)


# Thirteen months hold the same month twice: a month's label always says its year ("mars 2025"); a tick
# inside a month (a detail of a few weeks) says its day ("16 mars")
_DAY_LABEL = "utcdate(datum.value) === 1 ? utcFormat(datum.value, '%b %Y') : utcFormat(datum.value, '%e %b')"


def _time_axis(grouping: str, field: str = "t") -> alt.X:
    if AXIS_FORMATS[grouping]:
        axis = alt.Axis(title=None, labelOverlap=True, grid=False, format=AXIS_FORMATS[grouping])
    else:
        axis = alt.Axis(title=None, labelOverlap=True, grid=False, labelExpr=_DAY_LABEL)
    scale = alt.Scale(type="utc")
    if grouping == "day":  # the window the page chooses (marks outside it are clipped)
        scale = alt.Scale(type="utc", domainMin=alt.ExprRef(DAY_FROM), domainMax=alt.ExprRef(DAY_TO))
    return alt.X(f"{field}:T", scale=scale, axis=axis)


DAY_FROM, DAY_TO = "dayFrom", "dayTo"  # params of the day charts: the shown window, UTC ms


def _window_params(grouping: str) -> list[alt.Parameter]:
    return [alt.param(name=DAY_FROM, value=0), alt.param(name=DAY_TO, value=0)] if grouping == "day" else []


# Counts get whole-number ticks. Vega's tickMinStep alone still gives 0 / 0,5 / 1 on a domain of [0, 1]
# (seen in Chromium and vl-convert): a tick between two integers is not drawn, nor labelled, nor gridded.
_WHOLE = "datum.value % 1 ? 0 : 1"
_COUNT_AXIS = alt.Axis(
    title=None,
    format=",~f",
    tickMinStep=1,
    labelExpr="datum.value % 1 ? '' : datum.label",
    tickOpacity=alt.ExprRef(_WHOLE),
    gridOpacity=alt.ExprRef(_WHOLE),
)


def _value_axis() -> alt.Y:
    return alt.Y("v:Q", axis=_COUNT_AXIS, stack=None)


def _holiday_bands(grouping: str) -> list[alt.Chart]:
    """The school holidays of the entity's zone (SPEC 2.6), shaded behind the series, by day and by week.
    The legend does not filter them: hiding every profile leaves the holidays in view. Named `holidays`
    (its marks: `holidays_marks`); screen readers get them from the table and the chart's description."""
    if grouping not in HOLIDAY_GROUPINGS:
        return []
    band = (
        alt.Chart(alt.NamedData(HOLIDAYS), name=HOLIDAYS)
        .mark_rect(color=HOLIDAY_COLOUR, opacity=0.5, clip=True, aria=False)
        .encode(x=_time_axis(grouping), x2="t2:T", tooltip="d:N")
    )
    return [band]


def lines(grouping: str) -> alt.LayerChart:
    """One line per profile and Tous (connections, unique visitors, visits per visitor)."""
    base = (
        alt.Chart(alt.NamedData(ROWS))
        .transform_filter(_NOT_HIDDEN)  # on each layer: each names its data, which a layer's filter misses
        .encode(x=_time_axis(grouping), y=_value_axis(), color=_colour(shade=True))
    )
    line = base.mark_line(strokeWidth=2, invalid="break-paths-filter-domains", clip=True).encode(detail="p:N")
    size = 18 if grouping == "day" else 52
    # a partial bucket (the period's first or last week or month) has hollow points
    points = base.mark_point(filled=True, size=size, opacity=1, strokeWidth=1.5, clip=True).encode(
        shape=_shape(),
        fill=alt.condition("datum.partial", alt.value("#ffffff"), _colour(shade=True)),
        stroke=_outline(),
        tooltip="d:N",
    )
    # the pointer anywhere in a bucket's column (not only on its small symbols) shows the bucket's tooltip
    # and a rule; one column per bucket, from its first row, whichever series are hidden, centred on the
    # bucket's points and cut at the first and last (the time axis keeps its extent)
    hover = alt.selection_point(name="hover", on="pointerover", clear="pointerout", fields=["t"], empty=False)
    columns = (
        alt.Chart(alt.NamedData(ROWS))
        .transform_filter("datum.o === 0")
        .transform_joinaggregate(first="min(t)", last="max(t)")
        .transform_calculate(
            left="max(datum.t - (datum.t2 - datum.t) / 2, datum.first)",
            right="min(datum.t + (datum.t2 - datum.t) / 2, datum.last)",
        )
        .mark_rect(opacity=0, aria=False, clip=True)  # the points describe the figures to screen readers
        .encode(x=_time_axis(grouping, "left"), x2="right:T", tooltip="d:N")
        .add_params(hover)
    )
    rule = (
        alt.Chart(alt.NamedData(ROWS))
        .transform_filter(_NOT_HIDDEN)
        .transform_filter(hover)
        .mark_rule(color=MUTED_COLOUR, strokeDash=[4, 3], aria=False, clip=True)
        .encode(x=_time_axis(grouping))
    )
    layers = [*_holiday_bands(grouping), columns, line, rule, points]
    return alt.layer(*layers).add_params(_HIDDEN, *_window_params(grouping))


def bars(grouping: str) -> alt.LayerChart:
    """Bars of one profile over time (activated accounts); `t2` closes each bucket. The highest bars
    (`peak`: `t`, `t2`, `v`, `label`) are labelled."""
    bar = (
        alt.Chart(alt.NamedData(ROWS))
        .mark_bar(strokeWidth=1, clip=True)
        .encode(
            x=_time_axis(grouping),
            x2="t2:T",
            y=_value_axis(),
            y2=alt.datum(0),
            color=_colour(),
            stroke=_outline(),
            fillOpacity=alt.condition("datum.partial", alt.value(0.35), alt.value(1)),  # partial: pale
            tooltip="d:N",
        )
    )
    label = (
        alt.Chart(alt.NamedData(PEAK))
        .transform_calculate(middle="(datum.t + datum.t2) / 2")
        .mark_text(dy=-9, fontSize=13, fontWeight="bold", color=TEXT_COLOUR, clip=True)
        .encode(x=_time_axis(grouping, "middle"), y=_value_axis(), text="label:N")
    )
    return alt.layer(*_holiday_bands(grouping), bar, label).add_params(_HIDDEN, *_window_params(grouping))


def apps() -> alt.Chart:
    """Horizontal bars of the apps of one profile, most used first (height: APP_STEP a bar); the most used
    (`topApps`, all those tied) have their names in bold."""
    return (
        alt.Chart(alt.NamedData(ROWS))
        .mark_bar(cornerRadiusEnd=3, strokeWidth=1)
        .encode(
            stroke=_outline(),
            y=alt.Y(
                "a:N",
                sort=alt.EncodingSortField("r", order="ascending"),
                axis=alt.Axis(
                    title=None,
                    labelLimit=220,
                    labelFontWeight=alt.ExprRef("indexof(topApps, datum.value) >= 0 ? 'bold' : 'normal'"),
                ),
            ),
            x=alt.X("v:Q", axis=_COUNT_AXIS),
            color=_colour(),
            tooltip="d:N",
        )
        .add_params(_HIDDEN, alt.param(name="topApps", value=[]))
    )


def slots(kind: str) -> alt.LayerChart:
    """Stacked bars by profile over the 24 hour slots or the 7 weekdays; the peak is labelled and bold."""
    domain = list(HOUR_SLOTS if kind == "hours" else WEEKDAYS)
    peak_test = "indexof(peakSlots, datum.s) >= 0"
    x = alt.X(
        "s:N",
        sort=domain,
        scale=alt.Scale(domain=domain),
        axis=alt.Axis(
            title=None,
            labelAngle=-45 if kind == "hours" else 0,
            labelFontWeight=alt.ExprRef("indexof(peakSlots, datum.value) >= 0 ? 'bold' : 'normal'"),
            # on a narrow chart (a phone) "Mercredi" reads "Mer", and one hour in three is labelled, "09h"
            labelExpr=f"width >= {NARROW_CHART} ? datum.label : "
            + ("toNumber(slice(datum.label, 0, 2)) % 3 ? '' : " if kind == "hours" else "")
            + "slice(datum.label, 0, 3)",
        ),
    )
    stacked = (
        alt.Chart(alt.NamedData(ROWS))
        .mark_bar(strokeWidth=1)
        .encode(
            x=x,
            stroke=_outline(PROFILES[1:]),
            y=alt.Y("v:Q", stack="zero", axis=_COUNT_AXIS),
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
        .encode(x=x, y=alt.Y("v:Q", axis=_COUNT_AXIS), text="label:N")
    )
    return (stacked + label).add_params(_HIDDEN, alt.param(name="peakSlots", value=[]))


def _run_day() -> alt.X:
    """The runs page's time axis: each run's day D, a tick a day."""
    tick_a_day = alt.TimeIntervalStep(interval="day", step=1)
    axis = alt.Axis(title=None, format="%e %b", labelOverlap=True, grid=False, tickCount=tick_a_day)
    return alt.X("t:T", scale=alt.Scale(type="utc"), axis=axis)


def run_events() -> alt.LayerChart:
    """The runs page: the events of each run's day D (bars from `t` to `t2`, red when `low`) and the usual
    level of its weekday (`u`: a stroke across the bar; none while too few days compare)."""
    x = _run_day()
    bars = (
        alt.Chart(alt.NamedData(ROWS))
        .mark_bar(clip=True)
        .encode(
            x=x,
            x2="t2:T",
            y=alt.Y("v:Q", axis=_COUNT_AXIS),
            y2=alt.datum(0),
            color=alt.condition("datum.low", alt.value(RUN_ALERT_COLOUR), alt.value(RUN_COLOUR)),
            tooltip="d:N",
        )
    )
    usual = (
        alt.Chart(alt.NamedData(ROWS))
        .transform_filter("isValid(datum.u)")
        .mark_rule(color=TEXT_COLOUR, strokeWidth=2, clip=True)
        .encode(x=x, x2="t2:T", y="u:Q", tooltip="d:N")
    )
    return alt.layer(bars, usual)


def run_seconds() -> alt.Chart:
    """The runs page: each run's seconds per stage (`stage`), stacked from `y0` to `y1`, by day D."""
    labels = [label for label, _colour in RUN_STAGES.values()]
    return (
        alt.Chart(alt.NamedData(ROWS))
        .mark_bar(clip=True)
        .encode(
            x=_run_day(),
            x2="t2:T",
            y=alt.Y("y1:Q", axis=alt.Axis(title="secondes", format=",~f")),
            y2="y0:Q",
            color=alt.Color(
                "stage:N",
                scale=alt.Scale(domain=labels, range=[colour for _label, colour in RUN_STAGES.values()]),
                legend=alt.Legend(title=None, orient="bottom", columns=4),
            ),
            tooltip="d:N",
        )
    )


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


def chart_specs(validate: bool = False) -> dict[str, dict[str, Any]]:
    """Every chart kind's Vega-Lite specification, keyed as the page script asks for them.

    The specifications are the same at every build: the tests check them against Vega-Lite's schema
    (`validate=True`), which a build skips: jsonschema's 0.1 s of a build's serial set-up (0.42 → 0.31 s)."""
    charts: dict[str, alt.TopLevelMixin] = {}
    for grouping in GROUPINGS:
        charts[f"lines-{grouping}"] = lines(grouping)
        charts[f"bars-{grouping}"] = bars(grouping)
    charts["apps"] = apps()
    charts["hours"] = slots("hours")
    charts["weekdays"] = slots("weekdays")
    charts["runs-events"] = run_events()
    charts["runs-seconds"] = run_seconds()
    specs = {}
    for key, chart in charts.items():
        specs[key] = _configure(chart).to_dict(validate=validate)
    return specs
