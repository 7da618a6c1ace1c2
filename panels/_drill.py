"""What the drill-down pages (/domain/<domain>, /entity/<id>) share: the time window read from the URL,
its controls, links that keep the URL's state, and the breadcrumb. Pure, no I/O.

The URL holds the state (?area=&range=1h|24h|7d|30d|custom&from=&to=&metric=&lang=): a page renders
from it, and every control changes it through `window.iocDrill.go` (assets/20-drill.js), which pushes
the new address the way dcc.Link does, so Dash renders the page again and the view can be shared.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import dash
import pandas as pd
from dash import dcc, html

from ioc import alert_queries
from ioc.config import Config, Metric
from ioc.i18n import format_duration, format_time, format_value, t, to_local
from ioc.status import SILENCE_CONDITIONS

from ._figures import STATUS_COLORS, add_alert_bands, add_layout_items, hline, pick_bucket, series_spec

RANGES = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
DEFAULT_RANGE = "24h"
RANGE_KEYS = (*RANGES, "custom")
MAX_SPAN = timedelta(days=92)  # a custom range longer than raw retention's reach is refused, not slow
MIN_SPAN = timedelta(minutes=10)
POINTS = 150  # target points per series; a nice bucket rounds up, so a series never exceeds it
LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # <input type="datetime-local"> value
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # date_bin's origin in the queries
LEVEL_ATTRS = {"bd1": STATUS_COLORS["warning"], "bd2": "#e8590c", "bd3": STATUS_COLORS["critical"]}


@dataclass(frozen=True)
class Window:
    """A time range [start, end) in UTC; key is one of RANGES or "custom"; `invalid` when the URL asked
    for a range that could not be read (the default is shown instead)."""
    key: str
    start: datetime
    end: datetime
    invalid: bool = False

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    def params(self, tz: str) -> dict[str, str | None]:
        """The URL parameters that give this window back (the default range needs none)."""
        if self.key == "custom":
            return {"range": "custom", "from": to_local(self.start, tz).strftime(LOCAL_INPUT),
                    "to": to_local(self.end, tz).strftime(LOCAL_INPUT)}
        return {"range": None if self.key == DEFAULT_RANGE else self.key, "from": None, "to": None}


def _parse_local(text: str | None, tz: str) -> datetime | None:
    if not text or not isinstance(text, str) or len(text) > 32:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        from zoneinfo import ZoneInfo

        value = value.replace(tzinfo=ZoneInfo(tz))
    return value.astimezone(UTC)


def parse_window(range_key: str | None, start: str | None, end: str | None, now: datetime, tz: str) -> Window:
    """The window asked for by ?range= (and ?from= ?to= in local time for "custom"), else the default."""
    key = range_key or DEFAULT_RANGE
    if key in RANGES:
        return Window(key, now - RANGES[key], now)
    if key == "custom":
        lo, hi = _parse_local(start, tz), _parse_local(end, tz)
        if lo is not None and hi is not None:
            hi = min(hi, now)
            if MIN_SPAN <= hi - lo <= MAX_SPAN:
                return Window("custom", lo, hi)
    return Window(DEFAULT_RANGE, now - RANGES[DEFAULT_RANGE], now, invalid=True)


def bucket_for(window: Window, metric: Metric) -> timedelta:
    """A round bucket giving at most POINTS points over the window, never finer than the metric's cadence."""
    return pick_bucket(window.span, metric.cadence, POINTS)


def aligned(start: datetime, bucket: timedelta) -> datetime:
    """`start` floored to the bucket grid of the queries, so the first bucket is whole."""
    return _EPOCH + ((start - _EPOCH) // bucket) * bucket


def href(path: str, params: dict[str, str | None], **changes: str | None) -> str:
    """`path` with the query `params` updated by `changes` (None drops a parameter)."""
    merged = {**params, **changes}
    query = urlencode({k: v for k, v in merged.items() if v not in (None, "")})
    return _relative(path) + (f"?{query}" if query else "")


def _relative(path: str) -> str:
    """The path under the app's URL prefix (as is outside an app: pure tests)."""
    try:
        return dash.get_relative_path(path)
    except Exception:  # no app yet
        return path


def range_controls(prefix: str, window: Window, lang: str, tz: str) -> html.Div:
    """Range buttons (1 h, 24 h, 7 d, 30 d, custom) and two local-time inputs with an apply button.

    Ids: {prefix}-range (RadioItems), {prefix}-from, {prefix}-to, {prefix}-apply.
    """
    options = [{"label": t(f"domain.range.{k}", lang), "value": k} for k in RANGE_KEYS]
    local = {k: to_local(v, tz).strftime(LOCAL_INPUT) for k, v in (("from", window.start), ("to", window.end))}
    span = t("domain.range.span", lang, start=format_time(window.start, lang, tz, "short"),
             end=format_time(window.end, lang, tz, "short"))
    return html.Div([
        html.Span(t("domain.range.label", lang), className="drill-label"),
        dcc.RadioItems(id=f"{prefix}-range", options=options, value=window.key, inline=True,
                       className="drill-range", inputClassName="drill-radio",
                       labelClassName="drill-range-option"),
        html.Div([
            html.Label([t("domain.range.from", lang),
                        dcc.Input(id=f"{prefix}-from", type="datetime-local", value=local["from"],
                                  className="form-control form-control-sm")], className="drill-time"),
            html.Label([t("domain.range.to", lang),
                        dcc.Input(id=f"{prefix}-to", type="datetime-local", value=local["to"],
                                  className="form-control form-control-sm")], className="drill-time"),
            html.Button(t("domain.range.apply", lang), id=f"{prefix}-apply", n_clicks=0,
                        className="btn btn-sm btn-primary"),
        ], className="drill-custom" + (" open" if window.key == "custom" else "")),
        html.Span(span, className="drill-span text-body-secondary", id=f"{prefix}-span"),
    ], className="drill-controls")


def alert_marks(config: Config, alerts: pd.DataFrame, metric: str, entities: list[str],
                lang: str) -> list[dict]:
    """Alerts of `metric` on `entities` (an alert_history frame) as add_alert_bands input."""
    tz = config.settings.ui.timezone
    out = []
    for a in alert_queries.records(alerts):
        if a.get("metric") != metric or a["subject"] not in entities:
            continue
        since = a["firing_since"] or a["pending_since"]
        entity = config.entities[a["subject"]]
        unit = config.metrics[metric].unit_text(lang)
        if a.get("condition") in SILENCE_CONDITIONS:
            # Its value is a time without data, not a reading: a band only, no marker, never in the unit.
            value, said = None, t("alerts.nodata_for", lang, duration=format_duration(a["value"] or 0, lang))
        else:
            value, said = a["value"], format_value(a["value"], unit, lang)
        out.append({"since": since, "until": a["resolved_at"], "severity": a["severity"], "value": value,
                    "text": f"{entity.name.get(lang)} · {said} · {format_time(since, lang, tz, 'short')}"})
    return out


def site_figure(config: Config, entity_id: str, metric: Metric, df: pd.DataFrame | None, marks: list[dict],
                window: Window, lang: str, stale: bool = False, height: int = 200) -> dict:
    """One site's series with its own thresholds and its alerts as shaded bands. A site whose attrs name
    alarm levels for this metric (a river gauge's alarm levels 1–3) shows those three lines instead of the two
    thresholds (levels 1 and 3 are its warning and critical ones). A figure spec (dict)."""
    tz = config.settings.ui.timezone
    entity = config.entities[entity_id]
    levels = {k: entity.attrs[k] for k in LEVEL_ATTRS if isinstance(entity.attrs.get(k), int | float)} \
        if metric.key in entity.thresholds else {}
    thresholds = None if levels else metric.thresholds_for(entity)
    fig = series_spec(df, metric.model_copy(update={"thresholds": thresholds}), lang, tz, window.start, window.end,
                      height=height, stale=stale, scope="site")
    drawn = [hline(value, LEVEL_ATTRS[level], f"level-{level}", t(f"domain.level.{level}", lang))
             for level, value in levels.items()]
    add_layout_items(fig, [d[0] for d in drawn], [d[1] for d in drawn])
    return add_alert_bands(fig, marks, window.start, window.end, tz, lang)


def bucket_note(bucket: timedelta, lang: str) -> str:
    return t("domain.chart_note", lang, bucket=format_duration(bucket.total_seconds(), lang))


def area_crumbs(config: Config, code: str, lang: str, link) -> list:
    """Province › district › … for `code`, each a link made by `link(area_code)`."""
    items = []
    for i, step in enumerate(config.area_path(code)):
        if i:
            items.append(html.Span("›", className="crumb-sep"))
        items.append(html.Span(dcc.Link(config.areas[step][0].name.get(lang), href=link(step), className="crumb"),
                               **{"data-area": step}))
    return items


# The range controls → the URL (the other parameters are kept). Inputs: range value, apply clicks;
# states: from, to. Used by both pages with their own prefix.
RANGE_JS = """
function(range, apply, from, to) {
    const trig = (window.dash_clientside.callback_context.triggered || [])[0];
    if (!trig || !trig.prop_id || trig.prop_id === ".") { return window.dash_clientside.no_update; }
    if (range === "custom" || trig.prop_id.endsWith(".n_clicks")) {
        if (from && to) { window.iocDrill.go(null, {range: "custom", from: from, to: to}, true); }
    } else {
        window.iocDrill.go(null, {range: range === "DEFAULT" ? null : range, from: null, to: null}, true);
    }
    return window.dash_clientside.no_update;
}
""".replace("DEFAULT", DEFAULT_RANGE)
