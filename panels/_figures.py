"""Figure builders: DataFrame → plotly Figure. Pure, no I/O, tested alone (tests/test_figures.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import plotly.graph_objects as go

from ioc.config import Metric
from ioc.i18n import DEFAULT_TZ, format_value, normalize_lang, t, to_local
from ioc.queries import resolution_for
from ioc.status import STATUS_COLORS, chart_levels

LINE_COLOR = "#0d6efd"
AXIS_COLOR = "#6c757d"
GRID_COLOR = "rgba(128, 128, 128, 0.18)"
FONT_FAMILY = "'Be Vietnam Pro', system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
CHART_HEIGHT = 220

# dcc.Graph(config=GRAPH_CONFIG): no mode bar, no plotly logo, nothing fetched from outside.
GRAPH_CONFIG = {
    "displayModeBar": False,
    "displaylogo": False,
    "responsive": True,
    "scrollZoom": False,
    "showTips": False,
}

def pick_bucket(window: timedelta, cadence: timedelta | None = None, points: int = 72) -> timedelta:
    """A round bucket giving about `points` points over `window`, never finer than the metric's cadence
    (ioc.queries.resolution_for decides; the bucket also decides whether rollups are read)."""
    end = datetime(2000, 1, 1)
    return resolution_for(end - window, end, points, cadence)


def hline(y: float, color: str, name: str, text: str = "", dash: str = "dash",
          position: str = "top left") -> tuple[dict, dict]:
    """A horizontal line across the plot at `y` and its label, as layout dicts (shape, annotation)."""
    left = position.endswith("left")
    shape = {"type": "line", "xref": "x domain", "x0": 0, "x1": 1, "yref": "y", "y0": y, "y1": y, "name": name,
             "line": {"dash": dash, "color": color, "width": 1.5}}
    label = {"text": text, "xref": "x domain", "x": 0 if left else 1, "yref": "y", "y": y, "showarrow": False,
             "xanchor": "left" if left else "right", "yanchor": "bottom" if position.startswith("top") else "top",
             "font": {"size": 10, "color": color}, "name": name}
    return shape, label


def add_layout_items(spec: dict, shapes: list[dict] = (), annotations: list[dict] = ()) -> dict:
    """Append shapes and annotations to a figure spec (a {"data", "layout"} dict)."""
    layout = spec["layout"]
    layout["shapes"] = [*layout.get("shapes", []), *shapes]
    layout["annotations"] = [*layout.get("annotations", []), *annotations]
    return spec


def _local_naive(values: pd.Series | pd.DatetimeIndex, tz: str) -> pd.DatetimeIndex:
    """UTC instants as local wall-clock times without offset (plotly shows them as given)."""
    index = pd.DatetimeIndex(pd.to_datetime(values, utc=True))
    return index.tz_convert(tz).tz_localize(None)


def _local_point(ts: datetime, tz: str) -> datetime:
    return to_local(ts, tz).replace(tzinfo=None)


def series_figure(
    df: pd.DataFrame | None,
    metric: Metric,
    lang: str | None = "vi",
    tz: str = DEFAULT_TZ,
    start: datetime | None = None,
    end: datetime | None = None,
    height: int = CHART_HEIGHT,
    stale: bool = False,
    scope: str = "province",
) -> go.Figure:
    """A line of `df` (columns bucket: UTC Timestamp, value: float) in local time.

    Warning and critical thresholds are horizontal dashed lines; an empty or all-NaN frame gives
    a figure with a "no data" note instead of an error. `start`/`end` (UTC) fix the x range, so a
    feed that stopped shows as a gap at the right edge rather than a line that looks current;
    `stale` (old data, or a late feed) also writes "stale" in the corner.
    """
    return go.Figure(series_spec(df, metric, lang, tz, start, end, height, stale, scope))


def series_spec(
    df: pd.DataFrame | None,
    metric: Metric,
    lang: str | None = "vi",
    tz: str = DEFAULT_TZ,
    start: datetime | None = None,
    end: datetime | None = None,
    height: int = CHART_HEIGHT,
    stale: bool = False,
    scope: str = "province",
) -> dict:
    """series_figure as a plain {"data", "layout"} dict, for pages drawing many charts: dcc.Graph takes
    it as is, where building a go.Figure validates every property (~15 ms a chart)."""
    lang = normalize_lang(lang)
    traces: list[dict] = []
    shapes: list[dict] = []
    annotations: list[dict] = []
    data = df if df is not None else pd.DataFrame(columns=["bucket", "value"])
    if len(data):
        data = data.dropna(subset=["value"]) if "value" in data else data.iloc[0:0]
    has_data = len(data) > 0

    if has_data:
        traces.append({
            "type": "scatter",
            "x": _local_naive(data["bucket"], tz),
            "y": data["value"].astype(float).to_numpy(),
            "mode": "lines+markers" if len(data) < 3 else "lines",
            "line": {"color": LINE_COLOR, "width": 2},
            "marker": {"size": 5},
            "name": metric.label.get(lang),
            "hovertemplate": "%{x|%H:%M %d/%m}<br>%{y}" + (f" {metric.unit_text(lang)}" if metric.unit else "")
            + "<extra></extra>",
            "connectgaps": False,
        })
        if stale:
            annotations.append(dict(text=t("tile.stale", lang), name="stale", xref="paper", yref="paper", x=1, y=1,
                                    xanchor="right", yanchor="top", showarrow=False,
                                    font={"size": 13, "color": STATUS_COLORS["warning"]},
                                    bgcolor="rgba(255,255,255,0.85)"))
    else:
        annotations.append(dict(
            text=t("chart.nodata", lang),
            name="nodata",
            xref="paper", yref="paper", x=0.5, y=0.5,
            showarrow=False,
            font={"size": 14, "color": STATUS_COLORS["nodata"]},
        ))

    # Threshold lines only where they judge what the chart shows (ioc.status.chart_levels): a province
    # sum never carries one district's levels. `scope` is the chart's: site, area or province.
    drawn = chart_levels(metric, scope)
    if drawn is not None:
        for level in ("warning", "critical"):
            line, label = hline(getattr(drawn, level), STATUS_COLORS[level], f"threshold-{level}",
                                t(f"chart.{level}", lang))
            shapes.append(line)
            annotations.append(label)

    xaxis: dict = {
        "type": "date",
        "showgrid": True,
        "gridcolor": GRID_COLOR,
        "tickformat": "%H:%M",
        "hoverformat": "%H:%M %d/%m",
        "color": AXIS_COLOR,
        "fixedrange": True,
    }
    if start is not None and end is not None:
        xaxis["range"] = [_local_point(start, tz), _local_point(end, tz)]
        if end - start > timedelta(hours=36):
            xaxis["tickformat"] = "%d/%m"  # days, not hours, on a week or a month
    elif not has_data:
        xaxis["visible"] = False

    layout = dict(
        height=height,
        margin={"l": 44, "r": 12, "t": 8, "b": 28},
        showlegend=False,
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font={"family": FONT_FAMILY, "size": 11, "color": AXIS_COLOR},
        separators=",." if lang == "vi" else ".,",
        xaxis=xaxis,
        yaxis={
            "showgrid": True,
            "gridcolor": GRID_COLOR,
            "zeroline": False,
            "color": AXIS_COLOR,
            "fixedrange": True,
            "ticksuffix": "",
            # a quantity that cannot be negative (rain, counts, shares) never gets a negative axis, even when
            # Plotly pads a flat line of zeros to [-1, 1]
            "rangemode": "nonnegative" if metric.valid_range[0] >= 0 else "normal",
        },
        hovermode="x",
        shapes=shapes,
        annotations=annotations,
        uirevision=metric.key,
        meta={"metric": metric.key, "lang": lang, "tz": tz},
    )
    return {"data": traces, "layout": layout}


MAX_ALERT_BANDS = 40


def alpha(hex_color: str, opacity: float) -> str:
    """'#rrggbb' → 'rgba(r, g, b, opacity)'."""
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {opacity})"


def merge_intervals(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Overlapping or touching [start, end] intervals joined, in time order."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def add_alert_bands(spec: dict, alerts: list[dict], start: datetime, end: datetime, tz: str = DEFAULT_TZ,
                    lang: str | None = "vi") -> dict:
    """Alerts as shaded bands over the time they were active (clipped to [start, end]) and a marker at
    each crossing with its value, site and severity on hover, on a figure spec (series_spec).

    `alerts`: dicts with since (UTC), until (UTC or None: still active), severity, value, text. Bands of
    one severity that overlap are merged and at most MAX_ALERT_BANDS of them are drawn (the most recent),
    so a busy month stays a light figure; critical bands are drawn over warning ones.
    """
    lang = normalize_lang(lang)
    bands: list[dict] = []
    for severity in ("warning", "critical"):
        mine = [a for a in alerts if a["severity"] == severity]
        if not mine:
            continue
        color = STATUS_COLORS[severity]
        spans = merge_intervals([(max(a["since"], start), min(a["until"] or end, end)) for a in mine])
        bands += [{"type": "rect", "xref": "x", "x0": _local_point(s0, tz), "x1": _local_point(s1, tz),
                   "yref": "y domain", "y0": 0, "y1": 1, "fillcolor": alpha(color, 0.16), "line": {"width": 0},
                   "layer": "below", "name": f"alert-{severity}"} for s0, s1 in spans[-MAX_ALERT_BANDS:]]
        marked = [a for a in mine if a.get("value") is not None and start <= a["since"] <= end][-MAX_ALERT_BANDS:]
        if marked:
            spec["data"].append(dict(
                type="scatter", x=[_local_point(a["since"], tz) for a in marked], y=[a["value"] for a in marked],
                mode="markers", name=f"alerts-{severity}",
                marker={"size": 9, "color": color, "symbol": "diamond", "line": {"color": "#ffffff", "width": 1}},
                hovertext=[f"{t(f'status.{severity}', lang)}: {a['text']}" for a in marked], hoverinfo="text",
            ))
    return add_layout_items(spec, bands)


def bar_figure(df: pd.DataFrame, metric: Metric, lang: str | None = "vi", kind: str = "area",
               height: int | None = None, thresholds: bool = True) -> dict:
    """Horizontal bars of df (columns key, label, value, status), coloured by status, largest first, with
    the metric's thresholds as vertical lines. Each bar carries customdata [kind, key] for drill-down.
    With a `text` column (site-bound levels, see panels._domain.area_bars) the values are each site's
    distance to its own first level: the bars say so, and no common threshold line is drawn.
    A figure spec (dict), as series_spec."""
    lang = normalize_lang(lang)
    data = df.dropna(subset=["value"]).sort_values("value", ascending=True)
    unit = metric.unit_text(lang)
    traces: list[dict] = []
    annotations: list[dict] = []
    own_levels = "text" in data.columns
    if data.empty:
        annotations.append(dict(text=t("chart.nodata", lang), name="nodata", xref="paper", yref="paper", x=0.5,
                                y=0.5, showarrow=False, font={"size": 14, "color": STATUS_COLORS["nodata"]}))
    else:
        texts = data["text"].tolist() if own_levels else [format_value(v, unit, lang) for v in data["value"]]
        traces.append(dict(
            type="bar", x=data["value"].astype(float).tolist(), y=data["label"].tolist(), orientation="h",
            marker={"color": [STATUS_COLORS.get(s, STATUS_COLORS["nodata"]) for s in data["status"]]},
            text=texts, textposition="auto", customdata=[[kind, k] for k in data["key"]],
            hovertext=[f"{label}: {text}" for label, text in zip(data["label"], texts, strict=True)],
            hoverinfo="text", name=metric.label.get(lang),
        ))
    lines = []
    drawn = chart_levels(metric, "site" if kind == "entity" else "area")
    if thresholds and drawn is not None and not data.empty and not own_levels:
        lines = [{"type": "line", "xref": "x", "x0": getattr(drawn, level),
                  "x1": getattr(drawn, level), "yref": "y domain", "y0": 0, "y1": 1,
                  "name": f"threshold-{level}", "line": {"dash": "dash", "color": STATUS_COLORS[level], "width": 1.5}}
                 for level in ("warning", "critical")]
    rows = max(len(data), 1)
    layout = dict(
        height=height or max(160, 40 + 26 * rows),
        margin={"l": 8, "r": 12, "t": 8, "b": 24}, showlegend=False,
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
        font={"family": FONT_FAMILY, "size": 11, "color": AXIS_COLOR},
        separators=",." if lang == "vi" else ".,",
        xaxis={"showgrid": True, "gridcolor": GRID_COLOR, "fixedrange": True, "color": AXIS_COLOR,
               "visible": not data.empty, "rangemode": "tozero",
               **({"title": {"text": t("chart.own_first_level", lang, unit=unit)}, "zeroline": True,
                   "zerolinecolor": STATUS_COLORS["warning"]} if own_levels else {})},
        yaxis={"automargin": True, "fixedrange": True, "color": "#1d2430", "visible": not data.empty},
        clickmode="event", bargap=0.25, shapes=lines, annotations=annotations,
        meta={"metric": metric.key, "lang": lang, "bars": kind},
    )
    return {"data": traces, "layout": layout}
