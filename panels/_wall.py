"""The wall screen's parts: playlist parsing, tiles with trend and sparkline, the alert banner, the
data-health strip, and `render`, which joins the queries and the builders for one view.

Everything but `render` is pure and tested alone (tests/test_wall.py). `render` is the whole of one
refresh: five queries (latest values twice — headline and per site —, the headline series in one round
trip, active alerts, feed health), no figure larger than the map.

Stable hooks for browser tests and CSS: tiles are `.metric-tile.wall-tile` with data-metric,
data-status, data-stale (as on the overview); domain rows `.wall-domain[data-domain]`; the banner
`#wall-banner` with `.wall-alert[data-alert-id]` items; the strip `#wall-health` with
`.wall-feed-count[data-state]`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html

from ioc import alert_queries, queries
from ioc.alerts.text import AlertText, Facts
from ioc.config import WALL_VIEW, Config, Metric
from ioc.i18n import DASH, format_age, format_duration, format_time, format_value, t
from ioc.status import color_for, status_label
from ioc.web import readable_domains
from panels._components import FailureLog, _field, _status, banded, domain_summary, status_badge, tile_rows
from panels._figures import GRAPH_CONFIG, pick_bucket, series_figure
from panels._labels import area_name
from panels._map import area_map, site_points

log = logging.getLogger(__name__)

SPARK_POINTS = 36  # buckets per sparkline: enough for a shape, small enough for a 5 s refresh
TREND_LAG = timedelta(hours=1)
TREND_FLAT = 0.02  # a change under 2 % of the larger value reads as steady
BANNER_LIMIT = 3
INTERVAL_BOUNDS = (5, 3600)  # seconds on one view, from the URL
_failures = FailureLog("wall")


# --- playlist -------------------------------------------------------------------------------

def parse_views(config: Config, spec: str | list[str] | None) -> tuple[list[str], list[str]]:
    """The views named in `spec` (a comma-separated string or a list) that exist, and those ignored.

    A view is `overview`, `domain:<domain key>` or `area:<area code>`; duplicates are kept (a playlist may
    show the overview twice as often)."""
    items = spec.split(",") if isinstance(spec, str) else list(spec or [])
    valid, ignored = [], []
    for raw in items:
        view = str(raw).strip()
        if not view:
            continue
        kind, _, key = view.partition(":")
        known = (view == "overview" or (kind == "domain" and key in config.domains)
                 or (kind == "area" and key in config.areas))
        (valid if known and re.match(WALL_VIEW, view) else ignored).append(view)
    return valid, ignored


def parse_interval(value: str | None, default: timedelta) -> tuple[int, bool]:
    """Seconds per view from the URL (`20`, `20s`, `2m`), within INTERVAL_BOUNDS; (default, False) when absent
    or invalid — the flag says whether the URL's value was refused."""
    fallback = max(INTERVAL_BOUNDS[0], int(default.total_seconds()))
    if value is None or str(value).strip() == "":
        return fallback, False
    text = str(value).strip().lower()
    factor = 60 if text.endswith("m") else 1
    try:
        seconds = float(text.rstrip("sm")) * factor
    except ValueError:
        return fallback, True
    if not math.isfinite(seconds) or not INTERVAL_BOUNDS[0] <= seconds <= INTERVAL_BOUNDS[1]:
        return fallback, True
    return int(seconds), False


@dataclass(frozen=True)
class Playlist:
    views: list[str]
    interval_s: int
    notes: list[str]


def playlist(config: Config, views: str | None, interval: str | None, lang: str) -> Playlist:
    """The views and interval for this screen: the URL's when given and valid, else ui.wall's."""
    wall = config.settings.ui.wall
    notes = []
    chosen, ignored = parse_views(config, views) if views is not None else (list(wall.views), [])
    if ignored:
        notes.append(t("wall.views.ignored", lang, views=", ".join(ignored)))
    if not chosen:
        chosen, _ = parse_views(config, wall.views)
    seconds, refused = parse_interval(interval, wall.interval)
    if refused:
        notes.append(t("wall.interval.ignored", lang, value=str(interval)[:20], seconds=seconds))
    return Playlist(chosen or ["overview"], seconds, notes)


def view_title(config: Config, view: str, lang: str) -> str:
    kind, _, key = view.partition(":")
    if kind == "domain":
        return t("wall.view.domain", lang, name=config.domains[key].name.get(lang))
    if kind == "area":
        return t("wall.view.area", lang, name=config.areas[key][0].name.get(lang))
    return t("wall.view.overview", lang)


def area_and_below(config: Config, code: str) -> list[str]:
    return sorted(c for c in config.areas if code in config.area_path(c))


# --- trend and sparkline --------------------------------------------------------------------

Series = list[tuple[float, float]]  # (bucket start as Unix seconds, value), in time order


def series_points(df: pd.DataFrame) -> dict[str, Series]:
    """A sparklines() frame as plain per-metric lists (the builders below loop over a few dozen points;
    pandas per tile would cost more than the query)."""
    if df.empty:
        return {}
    secs = (df["bucket"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds().tolist()
    out: dict[str, Series] = {}
    for metric, ts, value in zip(df["metric"].tolist(), secs, df["value"].tolist(), strict=True):
        if value == value:  # not NaN
            out.setdefault(metric, []).append((ts, float(value)))
    return out


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def trend(value: float | None, series: Series, now: datetime, lag: timedelta = TREND_LAG) -> str | None:
    """'up', 'down' or 'flat': `value` (now) against the series bucket holding now − lag (or the last one
    before it, within another lag); None when either is missing."""
    if _missing(value):
        return None
    then, lag_s = now.timestamp() - lag.total_seconds(), lag.total_seconds()
    earlier = [v for ts, v in series if then - lag_s < ts <= then]
    if not earlier:
        return None
    old = earlier[-1]
    if abs(float(value) - old) <= TREND_FLAT * max(abs(old), abs(float(value)), 1e-9):
        return "flat"
    return "up" if value > old else "down"


def trend_is_worse(direction: str | None, metric: Metric) -> bool:
    """Whether the move goes toward the metric's thresholds (up for 'above' metrics)."""
    if direction not in ("up", "down") or metric.thresholds is None:
        return False
    return (direction == "up") == (metric.thresholds.direction == "above")


def spark_points(series: Series, value: float | None, start: datetime, now: datetime,
                 bucket: timedelta) -> list[tuple[float, float]]:
    """(x in 0..1 over [start, now], y) points: the complete buckets, then the current value at x = 1.

    The bucket still filling is left out (a sum over entities that have not all reported yet would dip);
    a line that stops short of the right edge is a feed that stopped."""
    t0, t1, size = start.timestamp(), now.timestamp(), bucket.total_seconds()
    span = (t1 - t0) or 1.0
    points = [(min(max((ts + size / 2 - t0) / span, 0.0), 1.0), v) for ts, v in series if ts + size <= t1]
    if not _missing(value):
        points.append((1.0, float(value)))
    return points


def sparkline_svg(points: list[tuple[float, float]], color: str, width: int = 120, height: int = 32) -> str:
    """A data: URI of an SVG polyline (no request leaves the page); '' with fewer than two points."""
    if len(points) < 2:
        return ""
    ys = [y for _, y in points]
    low, high = min(ys), max(ys)
    pad = (high - low) * 0.1 or max(abs(high) * 0.05, 1e-6)
    low, high = low - pad, high + pad
    coords = " ".join(f"{x * width:.1f},{height - (y - low) / (high - low) * height:.1f}" for x, y in points)
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" preserveAspectRatio="none">'
           f'<polyline fill="none" stroke="{color}" stroke-width="2.5" stroke-linejoin="round" '
           f'vector-effect="non-scaling-stroke" points="{coords}"/></svg>')
    return "data:image/svg+xml;utf8," + quote(svg, safe=" ,.:/=\"'<>")


# --- tiles ----------------------------------------------------------------------------------

def wall_tile(row: Any, metric: Metric, lang: str, spark: str = "", direction: str | None = None) -> html.Div:
    """A headline metric for a wall: label, value with unit, trend arrow, sparkline, status, age, stale badge."""
    status = _status(row)
    value = _field(row, "value")
    stale = bool(_field(row, "stale", False)) and value is not None
    classes = ["metric-tile", "wall-tile", f"status-{status}"] + (["stale"] if stale else [])
    head = [html.Span(metric.label.get(lang), className="tile-label")]
    status_text, style = banded(metric, row, status_label(status, lang), lang)
    if style:
        classes.append("banded")
    unit = metric.unit_text(lang)
    number = format_value(value, "", lang)
    # The unit is smaller than the number: long units (cuộc/giờ) must not push the number off the tile.
    text: Any = number
    if unit and value is not None:
        text = [number, html.Span(("" if unit == "%" else " ") + unit, className="tile-unit")]
    main = [html.Span(text, className="tile-value")]
    if direction:
        worse = " trend-worse" if trend_is_worse(direction, metric) else ""
        main.append(html.Span(className=f"trend trend-{direction}{worse}", title=t(f"wall.trend.{direction}", lang),
                              role="img", **{"aria-label": t(f"wall.trend.{direction}", lang),
                                             "data-trend": direction}))
    age = DASH if value is None else format_age(_field(row, "age_s"), lang)
    why = _field(row, "reason", "")
    # The sparkline is the tile's background across its full width (as Grafana's stat panels do): the
    # rows of a 1080p wall have no height to spare for it. A stale tile says so in its foot, where its
    # status would be (a badge in the head pushed the label onto three lines, the foot over the number).
    if stale:
        state = [html.Span(t("tile.stale", lang), className="badge stale-badge", role="status")]
    elif why:  # the colour says the status; the words say which site makes it so
        state = [html.Span(why, className="tile-reason")]
    else:
        state = [html.Span(status_text, className="tile-status")]
    return html.Div(
        [
            *([html.Img(src=spark, className="sparkline", alt="")] if spark else []),
            html.Div(head, className="tile-head"),
            html.Div(main, className="wall-tile-main"),
            # Why the tile has its colour (the worst site) shares the foot's line, cut with an ellipsis: a
            # wall row has no height for one more line; the tile's title holds the whole sentence.
            html.Div([*state, html.Span(age, className="tile-age")], className="tile-foot"),
        ],
        className=" ".join(classes),
        title=why or metric.label.get(lang),
        style=style,
        **{"data-metric": metric.key, "data-status": status, "data-stale": "true" if stale else "false"},
    )


def domain_row(config: Config, domain: str, rows: dict, sparks: dict, trends: dict, lang: str) -> html.Div:
    metrics = headline(config, domain)
    summary = domain_summary(metrics, rows)
    return html.Div(
        [
            html.Div([html.Div(config.domains[domain].name.get(lang), className="wall-domain-name"),
                      status_badge(summary, lang)], className="wall-domain-head"),
            html.Div([wall_tile(rows.get(m.key), m, lang, sparks.get(m.key, ""), trends.get(m.key))
                      for m in metrics], className="wall-tiles"),
        ],
        className=f"wall-domain domain-status-{summary}",
        **{"data-domain": domain, "data-status": summary},
    )


def headline(config: Config, domain: str) -> list[Metric]:
    return [m for m in config.catalog.metrics if m.domain == domain and m.headline]


def area_list(config: Config, areas: pd.DataFrame, lang: str) -> list:
    """The map's areas as readable lines (names on a wall map overlap where districts are close): the
    number shown in the area's marker, coloured by its status, the name, and its status with how many of its
    sites are at that level."""
    items = []
    for i, row in enumerate(areas.to_dict("records"), start=1):
        status = row["status"]
        detail = t(f"status.{status}", lang)
        if row.get(status):  # how many of its sites are at that level; "2 cảnh báo" would read as two alerts
            detail = t("wall.area.sites", lang, status=detail, n=row[status])
        items.append(html.Div([html.Span(str(i), className=f"wall-area-dot status-{status}"),
                               html.Span(area_name(config, row["area"], lang), className="wall-area-name"),
                               html.Span(detail, className="wall-area-detail")],
                              className=f"wall-area status-{status}", **{"data-area": row["area"],
                                                                         "data-status": status}))
    return items


def number_areas(figure: go.Figure, scale: float) -> None:
    """Write each area's number (as in area_list) inside its marker instead of its name beside it."""
    for trace in figure.data:
        if trace.customdata is not None and len(trace.customdata) and trace.customdata[0][0] == "area":
            trace.text = [str(i) for i in range(1, len(trace.customdata) + 1)]
            trace.mode = "markers+text"
            trace.textposition = "middle center"
            trace.textfont = {"size": round(15 * scale), "color": "#0c1118", "family": trace.textfont.family}


# --- banner and health strip ----------------------------------------------------------------

def banner_alerts(alerts: pd.DataFrame, now: datetime, new_window: timedelta) -> list[dict]:
    """Firing alerts for the banner: every critical one and any that started within `new_window`, most
    severe and newest first (the order of active_alerts), each with `new` set."""
    out = []
    for r in alert_queries.records(alerts):
        if r["state"] != "firing" or r["firing_since"] is None:
            continue
        new = r["firing_since"] >= now - new_window
        if r["severity"] == "critical" or new:
            out.append({**r, "new": new})
    return out


def alert_text(config: Config, alert: dict, lang: str) -> tuple[str, str]:
    """(what: metric, value and threshold; where: subject and area) in `lang`."""
    return AlertText(config).headline(Facts(alert["condition"], alert["rule"], alert["subject"], alert.get("metric"),
                                            alert.get("area"), alert["value"], alert["threshold"]), lang)


def alert_banner(config: Config, alerts: list[dict], now: datetime, lang: str,
                 limit: int = BANNER_LIMIT) -> tuple[list, str]:
    """The banner's children and class: up to `limit` alerts (a count of the rest), or a calm line."""
    if not alerts:
        return [html.Div(t("wall.alerts.none", lang), className="wall-alerts-none")], "wall-banner calm"
    items = []
    for a in alerts[:limit]:
        text, where = alert_text(config, a, lang)
        since = format_duration((now - a["firing_since"]).total_seconds(), lang)
        parts = [html.Span(t(f"status.{a['severity']}", lang), className="wall-alert-sev")]
        if a["new"]:
            parts.append(html.Span(t("wall.alerts.new", lang), className="wall-alert-new"))
        parts += [html.Span(text, className="wall-alert-what"), html.Span(where, className="wall-alert-where"),
                  html.Span(t("wall.alerts.for", lang, duration=since), className="wall-alert-age")]
        items.append(html.Div(parts, className=f"wall-alert sev-{a['severity']}",
                              **{"data-alert-id": str(a["id"]), "data-severity": a["severity"]}))
    if len(alerts) > limit:
        items.append(html.Div(t("wall.alerts.more", lang, n=len(alerts) - limit), className="wall-alerts-more"))
    worst = "critical" if any(a["severity"] == "critical" for a in alerts) else "warning"
    return items, f"wall-banner active sev-{worst}"


HEALTH_STATES = ("ok", "late", "failing")


def health_strip(feeds: pd.DataFrame, lang: str) -> list:
    """Counts of feeds ok / late / failing (waiting when any), and the names of those to check."""
    states = feeds["state"].tolist() if not feeds.empty else []
    shown = [*HEALTH_STATES, *(["waiting"] if "waiting" in states else [])]
    parts: list = [html.Span(t("wall.health.title", lang), className="wall-health-title")]
    for state in shown:
        parts.append(html.Span([html.Span(str(states.count(state)), className="wall-feed-n"), " ",
                                t(f"feed_state.{state}", lang)],
                               className=f"wall-feed-count feed-{state}", **{"data-state": state}))
    trouble = [f"{f} ({t(f'feed_state.{s}', lang)})" for f, s in zip(feeds.get("feed", []), states, strict=True)
               if s in ("late", "failing")]
    if trouble:
        parts.append(html.Span(t("wall.health.problem", lang, names=", ".join(trouble)),
                               className="wall-health-names trouble"))
    elif states and all(s in ("ok", "disabled") for s in states):
        parts.append(html.Span(t("wall.health.all_ok", lang), className="wall-health-names"))
    return parts


# --- one refresh ----------------------------------------------------------------------------

def _load(what_: str, fn, fallback):
    try:
        result = fn()
    except Exception as exc:  # a refresh never breaks the screen: that part shows "no data" and is logged
        _failures.note(what_, exc)
        return fallback, True
    _failures.note(what_, None)
    return result, False


def screen_scale(screen: dict | None) -> float:
    """Map and chart text scale for the browser's viewport height (1 at 1080 px, 2 at 2160 px)."""
    height = screen.get("h") if isinstance(screen, dict) else None
    if not isinstance(height, int | float) or isinstance(height, bool) or not math.isfinite(height) or height <= 0:
        height = 1080  # the store came back from the browser: anything odd is a 1080p screen
    return max(0.6, min(4.0, float(height) / 1080))


@dataclass
class Rendered:
    body: list
    map_figure: go.Figure | None  # None: unchanged since `map_key`
    map_key: str
    map_title: str
    areas: list
    banner: list
    banner_class: str
    health: list
    failed: bool


def render(config: Config, db, view: str, lang: str, now: datetime, scale: float = 1.0,
           map_key: str | None = None) -> Rendered:
    """Everything a wall shows for `view` at `now` (the map only when it differs from the one `map_key` names)."""
    kind, _, key = view.partition(":")
    entities = config.area_entities(key) if kind == "area" else None
    area = key if kind == "area" else None
    # An officer's wall holds their own domains only; a kiosk, an operator or a leader sees all five.
    readable = readable_domains()
    domains = [d for d in config.priority_domains if readable is None or d.key in readable]
    shown = {d.key for d in domains}
    if kind == "domain" and key not in shown:
        kind, key = "overview", ""
    metrics = [m for m in config.catalog.metrics if m.headline and m.domain in shown]
    ui = config.settings.ui
    start = now - ui.chart_window
    buckets = {m.key: pick_bucket(ui.chart_window, m.cadence, SPARK_POINTS) for m in metrics}
    failed = False
    if db is None:
        empty = pd.DataFrame(columns=["metric", "bucket", "value"])
        overview, series, sites = pd.DataFrame(), empty, pd.DataFrame(columns=["entity", "stale", "status", "domain"])
        alerts, feeds = pd.DataFrame(columns=alert_queries.ALERT_COLUMNS), pd.DataFrame(columns=["feed", "state"])
    else:
        overview, f1 = _load("overview", lambda: queries.overview(db, config, now, area=area), pd.DataFrame())
        series, f2 = _load("sparklines", lambda: queries.sparklines(
            db, [(m.key, buckets[m.key], m.aggregation) for m in metrics], start, now, entities),
            pd.DataFrame(columns=["metric", "bucket", "value"]))
        sites, f3 = _load("site status", lambda: queries.site_status(db, config, now, entities=entities),
                          pd.DataFrame(columns=["entity", "stale", "status", "domain"]))
        sites = sites[sites["domain"].isin(shown)]
        filters = {"domain": key} if kind == "domain" else {"area": area_and_below(config, key)} if kind == "area" \
            else {}
        filters.setdefault("domain", readable)
        alerts, f4 = _load("alerts", lambda: alert_queries.active_alerts(db, state="firing", **filters),
                           pd.DataFrame(columns=alert_queries.ALERT_COLUMNS))
        feeds, f5 = _load("feed health", lambda: queries.feed_health(db), pd.DataFrame(columns=["feed", "state"]))
        failed = f1 or f2 or f3 or f4 or f5
    rows = tile_rows(config, overview, lang)
    points_by_metric = series_points(series)
    sparks, trends = {}, {}
    for m in metrics:
        mine = points_by_metric.get(m.key, [])
        value = _field(rows.get(m.key), "value")
        color = color_for(m, value, _status(rows.get(m.key)))  # a VN_AQI line in its band's colour
        sparks[m.key] = sparkline_svg(spark_points(mine, value, start, now, buckets[m.key]), color)
        trends[m.key] = trend(value, mine, now)

    if kind == "domain":
        domain_metrics = headline(config, key)
        charts = []
        empty = pd.DataFrame(columns=["metric", "bucket", "value"])
        for m in domain_metrics:
            mine = series[series["metric"] == m.key] if not series.empty else empty
            fig = series_figure(mine, m, lang, ui.timezone, start=start, end=now,
                                stale=bool(_field(rows.get(m.key), "stale", False)))
            fig.update_layout(height=None, autosize=True, font_size=round(16 * scale),
                              margin={"l": round(60 * scale), "r": round(14 * scale), "t": round(8 * scale),
                                      "b": round(34 * scale)})
            fig.update_annotations(font_size=round(14 * scale))
            fig.update_traces(line_width=2.5 * scale)
            charts.append(html.Div([html.Div(m.label.get(lang), className="wall-chart-title"),
                                    dcc.Graph(figure=fig, config=GRAPH_CONFIG, className="wall-chart")],
                                   className="wall-chart-box", **{"data-metric": m.key}))
        body = [html.Div([wall_tile(rows.get(m.key), m, lang, sparks[m.key], trends[m.key])
                          for m in domain_metrics], className="wall-tiles wall-tiles-big"),
                html.Div(charts, className="wall-charts")]
        sites_for_map = sites[sites["domain"] == key] if not sites.empty else sites
        map_title = t("wall.map.domain", lang, name=config.domains[key].name.get(lang))
    else:
        body = [domain_row(config, d.key, rows, sparks, trends, lang) for d in domains]
        sites_for_map = sites
        map_title = t("wall.map.area", lang, name=config.areas[key][0].name.get(lang)) if kind == "area" \
            else t("wall.map.title", lang)

    points = None
    if kind == "area" and config.child_areas(key):
        areas = queries.area_status(config, sites_for_map, parent=key)
    elif kind == "area":
        parent = config.areas[key][1]
        areas = queries.area_status(config, sites_for_map, parent=parent)
        areas = areas[areas["area"] == key].reset_index(drop=True)
        points = site_points(config, sites_for_map) if not sites_for_map.empty else None
    else:
        areas = queries.area_status(config, sites_for_map)
    # The map is rebuilt and sent only when what it shows changed: payloads and server time stay small.
    key = hashlib.sha1(repr((view, lang, round(scale, 2), areas.to_json(), None if points is None
                             else points.to_json())).encode()).hexdigest()
    figure = None
    if key != map_key:
        # one area and its sites (area view) has room for bigger points than ten areas
        figure = area_map(config, areas, points, lang, dark=True, scale=(2.0 if points is not None else 1.3) * scale)
        figure.update_layout(height=None, autosize=True)
        number_areas(figure, scale)

    listed = banner_alerts(alerts, now, config.settings.ui.wall.new_alerts)
    banner, banner_class = alert_banner(config, listed, now, lang)
    return Rendered(body, figure, key, map_title, area_list(config, areas, lang), banner, banner_class,
                    health_strip(feeds, lang), failed)


# Every wall screen asks the same question every few seconds: within SHARED_FOR one answer serves all
# (per process). 1 s keeps a crossing on the screens within refresh (4 s) + 1 s.
SHARED_FOR = 1.0
_shared: dict[tuple, tuple[float, Rendered]] = {}
_shared_lock = threading.Lock()


def render_shared(config: Config, db, view: str, lang: str, scale: float = 1.0,
                  map_key: str | None = None) -> Rendered:
    """`render` at now, shared for SHARED_FOR seconds between screens asking the same (and allowed the same)."""
    key = (view, lang, round(scale, 2), map_key, tuple(readable_domains() or ()))
    clock = time.monotonic()
    with _shared_lock:
        hit = _shared.get(key)
        if hit is not None and hit[0] > clock:
            return hit[1]
    shown = render(config, db, view, lang, datetime.now(UTC), scale, map_key)
    with _shared_lock:
        for stale in [k for k, (until, _) in _shared.items() if until <= clock]:
            del _shared[stale]
        _shared[key] = (clock + SHARED_FOR, shown)
    return shown


def refreshed_text(config: Config, lang: str, now: datetime) -> str:
    return t("wall.refreshed", lang, time=format_time(now.astimezone(UTC), lang, config.settings.ui.timezone, "time"))
