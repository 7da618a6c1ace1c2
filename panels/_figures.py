"""Figure builders: DataFrame → plotly Figure. Pure, no I/O, tested alone (tests/test_figures.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import plotly.graph_objects as go

from ioc.config import Metric
from ioc.i18n import DEFAULT_TZ, normalize_lang, t, to_local
from ioc.queries import resolution_for

STATUS_COLORS = {
    "ok": "#198754",
    "warning": "#e0a100",
    "critical": "#dc3545",
    "nodata": "#6c757d",
}
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
) -> go.Figure:
    """A line of `df` (columns bucket: UTC Timestamp, value: float) in local time.

    Warning and critical thresholds are horizontal dashed lines; an empty or all-NaN frame gives
    a figure with a "no data" note instead of an error. `start`/`end` (UTC) fix the x range, so a
    feed that stopped shows as a gap at the right edge rather than a line that looks current;
    `stale` (old data, or a late feed) also writes "stale" in the corner.
    """
    lang = normalize_lang(lang)
    fig = go.Figure()
    data = df if df is not None else pd.DataFrame(columns=["bucket", "value"])
    if len(data):
        data = data.dropna(subset=["value"]) if "value" in data else data.iloc[0:0]
    has_data = len(data) > 0

    if has_data:
        x = _local_naive(data["bucket"], tz)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=data["value"].astype(float),
                mode="lines+markers" if len(data) < 3 else "lines",
                line={"color": LINE_COLOR, "width": 2},
                marker={"size": 5},
                name=metric.label.get(lang),
                hovertemplate="%{x|%H:%M %d/%m}<br>%{y}" + (f" {metric.unit_text(lang)}" if metric.unit else "")
                + "<extra></extra>",
                connectgaps=False,
            )
        )
        if stale:
            fig.add_annotation(text=t("tile.stale", lang), name="stale", xref="paper", yref="paper", x=1, y=1,
                               xanchor="right", yanchor="top", showarrow=False,
                               font={"size": 13, "color": STATUS_COLORS["warning"]},
                               bgcolor="rgba(255,255,255,0.85)")
    else:
        fig.add_annotation(
            text=t("chart.nodata", lang),
            name="nodata",
            xref="paper", yref="paper", x=0.5, y=0.5,
            showarrow=False,
            font={"size": 14, "color": STATUS_COLORS["nodata"]},
        )

    if metric.thresholds is not None:
        for level in ("warning", "critical"):
            fig.add_hline(
                y=getattr(metric.thresholds, level),
                line={"dash": "dash", "color": STATUS_COLORS[level], "width": 1.5},
                name=f"threshold-{level}",
                annotation={
                    "text": t(f"chart.{level}", lang),
                    "font": {"size": 10, "color": STATUS_COLORS[level]},
                },
                annotation_position="top left",
            )

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
    elif not has_data:
        xaxis["visible"] = False

    fig.update_layout(
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
        },
        hovermode="x",
        uirevision=metric.key,
        meta={"metric": metric.key, "lang": lang, "tz": tz},
    )
    return fig
