"""/alerts — active alerts and their history, one alert's chart, events and comments, and what an
operator does about it (acknowledge, assign, comment, silence).

Filters and the selected alert live in the URL query (?domain=&area=&severity=&state=&range=&alert=)
so a view can be shared. Actions go through ioc.alerts.actions as the signed-in user, who must be
allowed to handle the alert's domain.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dash
import dash_ag_grid as dag
import plotly.graph_objects as go
from dash import Input, Output, State, callback, clientside_callback, ctx, dcc, html

from ioc import alert_queries
from ioc.alerts import actions
from ioc.i18n import MESSAGES, format_duration, format_number, format_time, normalize_lang, t, to_local
from ioc.status import SILENCE_CONDITIONS
from ioc.web import current_context, current_user, readable_domains, resolve_lang
from panels._components import SORT_BY_FIELD, data_grid
from panels._figures import GRAPH_CONFIG, STATUS_COLORS, pick_bucket, series_figure
from panels._labels import alert_value
from panels._labels import area_name as _area_name
from panels._labels import domain_name as _domain_name
from panels._labels import subject_name as _subject_name
from panels._labels import what as _what

dash.register_page(__name__, path="/alerts", name=t("nav.alerts", "vi"), nav_key="nav.alerts", order=20, access="read",
                   title=f"{t('nav.alerts', 'vi')} · {t('app.title', 'vi')}")

SEVERITIES = ("warning", "critical")
STATES = ("pending", "firing")
RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
SILENCE_HOURS = (1, 4, 24)
# Row colour by severity (resolved rows neutral); `tone` is worked out per row in _rows.
_ROW_CLASSES = {"alert-row-critical": "params.data.tone === 'critical'",
                "alert-row-warning": "params.data.tone === 'warning'",
                "alert-row-resolved": "params.data.tone === 'resolved'",
                "alert-row-pending": "params.data.state === 'pending'",
                "alert-row-flapping": "params.data.flapping === true"}
# Sort a displayed time by its instant, not by its local text.
_BY_TS = SORT_BY_FIELD


# --- labels ---------------------------------------------------------------------------------

def _state_label(state: str, lang: str) -> str:
    return t(f"alerts.state.{state}", lang) if f"alerts.state.{state}" in MESSAGES else state


def _severity_label(severity: str, lang: str) -> str:
    return t(f"status.{severity}", lang) if severity in SEVERITIES else severity


def _ts(value) -> float | None:
    return value.timestamp() if value is not None else None


def _area_and_below(config, area: str | None) -> list[str] | None:
    if not area or area not in config.areas:
        return None
    wanted, changed = {area}, True
    while changed:
        changed = False
        for code, (_a, parent, _d) in config.areas.items():
            if parent in wanted and code not in wanted:
                wanted.add(code)
                changed = True
    return sorted(wanted)


def _rows(config, df, lang: str, now: datetime) -> list[dict]:
    tz = config.settings.ui.timezone
    rows = []
    for r in alert_queries.records(df):
        since = r["firing_since"] or r["pending_since"]
        resolved = r.get("resolved_at")
        flapping = bool(r["flapping"])
        rows.append({
            "id": int(r["id"]), "row_id": str(int(r["id"])), "rule": r["rule"], "subject": r["subject"],
            "severity": r["severity"], "tone": "resolved" if r["state"] == "resolved" else r["severity"],
            "state": r["state"], "flapping": flapping, "domain": r["domain"], "area": r["area"],
            "severity_label": _severity_label(r["severity"], lang),
            "state_label": _state_label(r["state"], lang),
            "what": _what(config, r["rule"], lang, r.get("metric")),
            "subject_name": _subject_name(config, r["subject"], lang),
            "domain_name": _domain_name(config, r["domain"], lang),
            "area_name": _area_name(config, r["area"], lang),
            "value": alert_value(config, r, lang),
            "threshold": alert_value(config, r, lang, "threshold"),
            "since": format_time(since, lang, tz, "short"), "since_ts": _ts(since),
            "resolved_at": format_time(resolved, lang, tz, "short") if resolved is not None else "",
            "resolved_ts": _ts(resolved),
            "duration": format_duration(((resolved or now) - since).total_seconds(), lang),
            "acknowledged_by": r["acknowledged_by"] or "",
            "assigned_to": r["assigned_to"] or "",
            "flapping_label": t("alerts.flapping", lang) if flapping else "",
            "flapping_mark": "\u21af" if flapping else "",
        })
    return rows


def _columns(lang: str, history: bool = False) -> list[dict]:
    def col(field, key, least, **more):
        # Wide enough for the header's longest word next to the sort and filter icons: headers wrap
        # between words, never inside one ("Ngưỡ-ng").
        header = t(key, lang)
        fit = 9 * max(len(word) for word in header.split()) + 52
        return {"field": field, "headerName": header, "headerTooltip": header, "minWidth": max(least, fit), **more}

    cols = [
        {"field": "id", "headerName": "#", "width": 58, "flex": 0, "minWidth": 52, "type": "rightAligned"},
        col("severity_label", "alerts.col.severity", 116, cellClass="alert-severity",
            cellClassRules={"alert-sev-critical": "params.data.severity === 'critical'",
                            "alert-sev-warning": "params.data.severity === 'warning'"}),
        col("state_label", "alerts.col.state", 140),
        # The flapping marker: a glyph in the cell, its meaning in the tooltip; the header says it in words
        # (a glyph-only header read as a column without a name).
        col("flapping_mark", "alerts.col.flapping", 60, tooltipField="flapping_label", flex=0, width=96,
            cellClass="alert-flapping", filter=False),
        col("what", "alerts.col.what", 120, flex=2),
        col("subject_name", "alerts.col.subject", 140, flex=2, tooltipField="subject_name"),
        col("domain_name", "alerts.col.domain", 110, hide=True),
        col("area_name", "alerts.col.area", 150, tooltipField="area_name"),
        col("value", "alerts.col.value", 80, type="rightAligned"),
        col("threshold", "alerts.col.threshold", 84, type="rightAligned"),
        col("since", "alerts.col.since", 118, comparator={"function": _BY_TS.format("since_ts")}),
    ]
    if history:
        cols += [col("resolved_at", "alerts.col.resolved_at", 118,
                     comparator={"function": _BY_TS.format("resolved_ts")}),
                 col("duration", "alerts.col.duration", 100)]
    else:
        cols += [col("acknowledged_by", "alerts.col.acknowledged_by", 100),
                 col("assigned_to", "alerts.col.assigned_to", 90)]
    cols.append(col("rule", "alerts.col.rule", 120, hide=True))
    return cols


def _grid(grid_id: str, lang: str, history: bool, rows: list[dict], empty_key: str, file_name: str,
          selected: int | None) -> dag.AgGrid:
    return data_grid(grid_id, rows, _columns(lang, history), t(empty_key, lang), file_name, lang=lang,
                     class_name="alerts-grid", row_class_rules=_ROW_CLASSES,
                     selected=str(selected) if selected else None)


# --- the detail panel -------------------------------------------------------------------------

def _event_text(kind: str, detail: dict, lang: str) -> str:
    label = t(f"alerts.event.{kind}", lang) if f"alerts.event.{kind}" in MESSAGES else kind
    detail = detail or {}
    bits = []
    if detail.get("severity"):
        bits.append(_severity_label(detail["severity"], lang))
    if detail.get("value") is not None:
        bits.append(format_number(detail["value"], lang))
    if detail.get("by"):
        bits.append(detail["by"] + (f" → {detail['to']}" if detail.get("to") else ""))
    if detail.get("comment"):
        bits.append(f"\u201c{detail['comment']}\u201d")
    return label + (": " + " · ".join(bits) if bits else "")


def _chart(config, db, alert: dict, lang: str, now: datetime):
    metric = config.metrics.get(alert.get("metric") or "")
    entity = config.entities.get(alert["subject"])
    if metric is None or entity is None:
        return html.Div(t("alerts.detail.no_chart", lang), className="text-body-secondary small alert-no-chart")
    tz = config.settings.ui.timezone
    window = config.settings.ui.chart_window
    start = alert["pending_since"] - window / 2
    end = min(now, (alert["resolved_at"] + window / 4) if alert.get("resolved_at") else now)
    end = max(end, start + timedelta(minutes=10))
    df = alert_queries.entity_series(db, entity.id, metric.key, start, end, pick_bucket(end - start, metric.cadence))
    fig = series_figure(df, metric.model_copy(update={"thresholds": metric.thresholds_for(entity)}), lang, tz,
                        start, end, height=260, scope="site")
    crossing = alert.get("firing_since") or alert["pending_since"]
    x = to_local(crossing, tz).replace(tzinfo=None)
    color = STATUS_COLORS.get(alert["severity"], STATUS_COLORS["warning"])
    fig.add_shape(type="line", x0=x, x1=x, y0=0, y1=1, xref="x", yref="paper", name="crossing",
                  line={"color": color, "width": 2})
    late = crossing - start > (end - start) / 2  # label on the side with room
    fig.add_annotation(x=x, y=1, xref="x", yref="paper", text=t("alerts.detail.crossing", lang), showarrow=False,
                       xanchor="right" if late else "left", yanchor="top", font={"size": 11, "color": color},
                       name="crossing", bgcolor="rgba(255,255,255,0.85)")
    if alert.get("value") is not None and alert.get("condition") not in ("rate_of_change", *SILENCE_CONDITIONS):
        fig.add_trace(go.Scatter(x=[x], y=[alert["value"]], mode="markers", name="crossing",
                                 marker={"size": 10, "color": color, "symbol": "diamond"}, hoverinfo="skip"))
    fig.update_layout(showlegend=False)
    return dcc.Graph(id="alerts-detail-chart", figure=fig, config=GRAPH_CONFIG, className="alert-chart")


def _detail(config, db, alert_id: int | None, lang: str):
    if not alert_id or db is None:
        return html.P(t("alerts.select_hint", lang), className="text-body-secondary alerts-hint"), True
    found = alert_queries.alert_detail(db, int(alert_id))
    user = current_user()
    if found is None or (user is not None and not user.can_read(found["alert"]["domain"])):
        return html.P(t("alerts.detail.not_found", lang, id=alert_id), className="text-body-secondary"), True
    tz = config.settings.ui.timezone
    alert, now = found["alert"], datetime.now(UTC)
    facts = [
        (t("alerts.col.state", lang), _state_label(alert["state"], lang)),
        (t("alerts.col.value", lang), alert_value(config, alert, lang)),
        (t("alerts.col.threshold", lang), alert_value(config, alert, lang, "threshold")),
        (t("alerts.detail.pending_since", lang), format_time(alert["pending_since"], lang, tz)),
        (t("alerts.detail.firing_since", lang), format_time(alert.get("firing_since"), lang, tz)),
    ]
    if alert.get("resolved_at"):
        facts.append((t("alerts.col.resolved_at", lang), format_time(alert["resolved_at"], lang, tz)))
    if alert.get("acknowledged_by"):
        facts.append((t("alerts.col.acknowledged_by", lang),
                      f"{alert['acknowledged_by']} · {format_time(alert['acknowledged_at'], lang, tz)}"))
    if alert.get("assigned_to"):
        facts.append((t("alerts.col.assigned_to", lang), alert["assigned_to"]))
    facts.append((t("alerts.col.rule", lang), alert["rule"]))
    events = [html.Li([html.Span(format_time(e["at"], lang, tz, "short"), className="alert-event-time"),
                       html.Span(_event_text(e["kind"], e["detail"], lang), className="alert-event-text")],
                      className=f"alert-event alert-event-{e['kind']}")
              for e in alert_queries.records(found["events"])]
    comments = [html.Li([html.Div([html.Strong(c["author"]), " · ", format_time(c["at"], lang, tz, "short")],
                                  className="alert-comment-head"),
                         html.Div(c["body"], className="alert-comment-body")], className="alert-comment")
                for c in alert_queries.records(found["comments"])]
    head = html.Div([
        html.Span(_severity_label(alert["severity"], lang),
                  className=f"badge alert-badge alert-badge-{alert['severity']}"),
        html.Span(t("alerts.flapping", lang), className="badge alert-badge alert-badge-flapping")
        if alert.get("flapping") else None,
        html.H2([f"#{alert['id']} ", _what(config, alert["rule"], lang, alert.get("metric")), " – ",
                 _subject_name(config, alert["subject"], lang)], className="h6 mb-0 alert-detail-title"),
    ], className="alert-detail-head")
    where = " · ".join(x for x in (_domain_name(config, alert["domain"], lang),
                                   _area_name(config, alert["area"], lang)) if x)
    return html.Div([
        head,
        html.Div(where, className="text-body-secondary small mb-2"),
        _chart(config, db, alert, lang, now),
        html.Dl([item for label, value in facts for item in (html.Dt(label), html.Dd(value))],
                className="alert-facts"),
        html.Div([
            html.Div([html.H3(t("alerts.detail.events", lang), className="h6"),
                      html.Ul(events, className="alert-events list-unstyled")], className="col-md-6"),
            html.Div([html.H3(t("alerts.detail.comments", lang), className="h6"),
                      html.Ul(comments, className="alert-comments list-unstyled") if comments else
                      html.P(t("alerts.detail.no_comments", lang), className="text-body-secondary small")],
                     className="col-md-6"),
        ], className="row g-3"),
    ], className="alert-detail", **{"data-alert-id": str(alert["id"])}), False


def _actions(lang: str) -> html.Div:
    def field(label, control):
        return html.Div([html.Label(label, className="form-label small mb-1"), control], className="mb-2")

    def text(id_, max_length=2000):
        return dcc.Input(id=id_, type="text", maxLength=max_length, className="form-control form-control-sm",
                         debounce=False)

    hours = [{"label": t("alerts.hours", lang, n=h), "value": h} for h in SILENCE_HOURS]
    return html.Div([
        html.H2(t("alerts.actions", lang), className="h6"),
        html.Div([
            html.Div([field(t("alerts.ack_comment", lang), text("alerts-ack-comment")),
                      html.Button(t("alerts.ack", lang), id="alerts-ack", className="btn btn-sm btn-primary")],
                     className="col-md-6 alert-action"),
            html.Div([field(t("alerts.assignee", lang), text("alerts-assignee", 200)),
                      html.Button(t("alerts.assign", lang), id="alerts-assign",
                                  className="btn btn-sm btn-outline-primary")], className="col-md-6 alert-action"),
            html.Div([field(t("alerts.comment_body", lang),
                            dcc.Textarea(id="alerts-comment-body", maxLength=4000, rows=2,
                                         className="form-control form-control-sm")),
                      html.Button(t("alerts.comment", lang), id="alerts-comment",
                                  className="btn btn-sm btn-outline-primary")], className="col-12 alert-action"),
            html.Div([
                html.Div(t("alerts.silence.help", lang), className="small text-body-secondary mb-1"),
                html.Div([
                    html.Div(field(t("alerts.silence.matcher", lang), dcc.RadioItems(
                        id="alerts-silence-matcher", value="subject", inline=True, className="small",
                        inputClassName="me-1", labelClassName="me-3",
                        options=[{"label": t("alerts.silence.this", lang), "value": "subject"},
                                 {"label": t("alerts.silence.domain", lang), "value": "domain"}])),
                        className="col-md-7"),
                    html.Div(field(t("alerts.silence.duration", lang), dcc.RadioItems(
                        id="alerts-silence-duration", value=4, inline=True, options=hours, className="small",
                        inputClassName="me-1", labelClassName="me-3")), className="col-md-5"),
                ], className="row"),
                field(t("alerts.silence.reason", lang), text("alerts-silence-reason")),
                html.Button(t("alerts.silence", lang), id="alerts-silence",
                            className="btn btn-sm btn-outline-secondary"),
            ], className="col-12 alert-action alert-action-silence"),
        ], className="row g-3"),
        html.Div(id="alerts-action-result", className="mt-2", role="status"),
    ], id="alerts-actions", className="alerts-actions", hidden=True)


# --- silences ---------------------------------------------------------------------------------

def _silence_list(config, db, lang: str):
    if db is None:
        return []
    tz = config.settings.ui.timezone
    df = alert_queries.silences(db, datetime.now(UTC))
    if df.empty:
        return html.P(t("alerts.silences.none", lang), className="text-body-secondary small mb-0")
    items = []
    for s in alert_queries.records(df):
        matcher = " · ".join(str(v) for v in (s["rule"], _subject_name(config, s["subject"], lang) if s["subject"]
                                              else None, _domain_name(config, s["domain"], lang) if s["domain"]
                                              else None, _area_name(config, s["area"], lang) if s["area"] else None)
                             if v)
        when = (t("alerts.silences.until", lang, time=format_time(s["ends_at"], lang, tz, "short")) if s["in_force"]
                else t("alerts.silences.from", lang, time=format_time(s["starts_at"], lang, tz, "short")))
        items.append(html.Li([html.Strong(matcher), f" — {when} — {s['reason']} ({s['created_by']})"],
                             className="alert-silence" + (" upcoming" if not s["in_force"] else "")))
    return html.Ul(items, className="list-unstyled small mb-0")


# --- page -------------------------------------------------------------------------------------

def _options(config, lang: str) -> dict[str, list[dict]]:
    return {
        "domain": [{"label": d.name.get(lang), "value": d.key} for d in config.catalog.domains],
        "area": [{"label": "\u2003" * depth + a.name.get(lang), "value": code}
                 for code, (a, _p, depth) in config.areas.items()],
        "severity": [{"label": _severity_label(s, lang), "value": s} for s in SEVERITIES],
        "state": [{"label": _state_label(s, lang), "value": s} for s in STATES],
    }


def _summary(rows: list[dict], lang: str) -> str:
    return t("alerts.summary", lang, firing=sum(r["state"] == "firing" for r in rows),
             pending=sum(r["state"] == "pending" for r in rows),
             critical=sum(r["severity"] == "critical" for r in rows),
             unacked=sum(r["state"] == "firing" and not r["acknowledged_by"] for r in rows))


def _load(config, db, lang: str, domain, area, severity, state, range_key) -> tuple[list, list]:
    if db is None:
        return [], []
    now = datetime.now(UTC)
    filters = {"domain": readable_domains(domain or None), "area": _area_and_below(config, area),
               "severity": severity or None}
    active = alert_queries.active_alerts(db, state=state or None, **filters)
    history = alert_queries.alert_history(db, now - RANGES.get(range_key, RANGES["24h"]), now, **filters)
    return _rows(config, active, lang, now), _rows(config, history, lang, now)


def _pick(value, allowed) -> str | None:
    return value if value in allowed else None


def layout(ui_lang: str | None = None, lang: str | None = None, domain: str | None = None, area: str | None = None,
           severity: str | None = None, state: str | None = None, range: str | None = None,
           alert: str | None = None, **_query) -> html.Div:
    config, db = current_context()
    lang = resolve_lang(lang, ui_lang, config)
    domain, area = _pick(domain, config.domains), _pick(area, config.areas)
    severity, state, range_key = _pick(severity, SEVERITIES), _pick(state, STATES), _pick(range, RANGES) or "24h"
    selected = int(alert) if alert and alert.isdigit() else None
    options = _options(config, lang)
    active, history = _load(config, db, lang, domain, area, severity, state, range_key)
    detail, hidden = _detail(config, db, selected, lang)

    def dropdown(key, value):
        return html.Div(dcc.Dropdown(id=f"alerts-{key}", options=options[key], value=value,
                                     placeholder=t(f"alerts.filter.{key}", lang), clearable=True),
                        className=f"alerts-filter alerts-filter-{key}")

    ranges = [{"label": t(f"alerts.range.{k}", lang), "value": k} for k in RANGES]
    return html.Div([
        dcc.Store(id="alerts-lang", data=lang),
        dcc.Store(id="alerts-selected", data=selected),
        dcc.Store(id="alerts-version", data=0),
        dcc.Interval(id="alerts-tick", interval=int(config.settings.ui.refresh.total_seconds() * 1000)),
        html.Div(id="alerts-url-dummy", hidden=True),
        html.Div([html.H1(t("alerts.title", lang), className="page-title h4 mb-0"),
                  html.Span(_summary(active, lang), id="alerts-summary", className="text-body-secondary")],
                 className="page-head"),
        html.Div([dropdown("domain", domain), dropdown("area", area), dropdown("severity", severity),
                  dropdown("state", state)], className="alerts-filters", id="alerts-filters"),
        html.Div([
            html.Div([
                html.Div([html.H2(t("alerts.active", lang), className="h6 mb-0"),
                          html.Button(t("alerts.export", lang), id="alerts-active-export",
                                      className="btn btn-sm btn-outline-secondary")], className="alerts-grid-head"),
                _grid("alerts-active-grid", lang, False, active, "alerts.empty", "ioc-alerts-active.csv", selected),
                html.Div([html.H2(t("alerts.history", lang), className="h6 mb-0"),
                          dcc.RadioItems(id="alerts-range", options=ranges, value=range_key, inline=True,
                                         className="alerts-range small", inputClassName="me-1",
                                         labelClassName="me-3"),
                          html.Button(t("alerts.export", lang), id="alerts-history-export",
                                      className="btn btn-sm btn-outline-secondary")],
                         className="alerts-grid-head mt-3"),
                _grid("alerts-history-grid", lang, True, history, "alerts.history_empty", "ioc-alerts-history.csv",
                      selected),
                html.Div([html.H2(t("alerts.silences.title", lang), className="h6 mt-3"),
                          html.Div(_silence_list(config, db, lang), id="alerts-silences")]),
            ], className="col-xl-8 col-xxl-9"),
            html.Div([
                html.Div(detail, id="alerts-detail", className="alerts-detail-card"),
                _actions(lang),
            ], className="col-xl-4 col-xxl-3 alerts-side"),
        ], className="row g-4"),
    ], className="alerts-page")


# --- callbacks --------------------------------------------------------------------------------

# The filters and the selected alert go into the address bar (without reloading the page).
clientside_callback(
    """
    function(domain, area, severity, state, range, selected) {
        const params = new URLSearchParams(window.location.search);
        const set = (k, v) => { if (v === null || v === undefined || v === "") { params.delete(k); }
                                else { params.set(k, v); } };
        set("domain", domain); set("area", area); set("severity", severity); set("state", state);
        set("range", range === "24h" ? null : range); set("alert", selected);
        const query = params.toString();
        const url = window.location.pathname + (query ? "?" + query : "");
        if (url !== window.location.pathname + window.location.search) {
            window.history.replaceState(window.history.state, "", url);
        }
        return "";
    }
    """,
    Output("alerts-url-dummy", "children"),
    Input("alerts-domain", "value"), Input("alerts-area", "value"), Input("alerts-severity", "value"),
    Input("alerts-state", "value"), Input("alerts-range", "value"), Input("alerts-selected", "data"),
)


@callback(
    Output("alerts-active-grid", "rowData"),
    Output("alerts-history-grid", "rowData"),
    Output("alerts-summary", "children"),
    Output("alerts-silences", "children"),
    Input("alerts-tick", "n_intervals"),
    Input("alerts-domain", "value"), Input("alerts-area", "value"), Input("alerts-severity", "value"),
    Input("alerts-state", "value"), Input("alerts-range", "value"), Input("alerts-version", "data"),
    State("alerts-lang", "data"),
    prevent_initial_call=True,
)
def refresh(_n, domain, area, severity, state, range_key, _version, lang):
    config, db = current_context()
    lang = normalize_lang(lang, config.settings.ui.language)
    active, history = _load(config, db, lang, domain, area, severity, state, range_key)
    return active, history, _summary(active, lang), _silence_list(config, db, lang)


@callback(
    Output("alerts-selected", "data"),
    Input("alerts-active-grid", "selectedRows"),
    Input("alerts-history-grid", "selectedRows"),
    State("alerts-selected", "data"),
    prevent_initial_call=True,
)
def select(active, history, current):
    rows = active if ctx.triggered_id == "alerts-active-grid" else history
    if not rows or not isinstance(rows, list) or not isinstance(rows[0], dict):
        return dash.no_update  # a refresh that dropped the row keeps the detail open
    try:
        chosen = int(rows[0].get("id"))
    except (TypeError, ValueError, OverflowError):
        return dash.no_update
    return chosen if chosen != current else dash.no_update


@callback(
    Output("alerts-detail", "children"),
    Output("alerts-actions", "hidden"),
    Input("alerts-selected", "data"),
    Input("alerts-version", "data"),
    Input("alerts-tick", "n_intervals"),
    State("alerts-lang", "data"),
    prevent_initial_call=True,
)
def show_detail(selected, _version, _n, lang):
    config, db = current_context()
    return _detail(config, db, selected, normalize_lang(lang, config.settings.ui.language))


@callback(Output("alerts-active-grid", "exportDataAsCsv"), Input("alerts-active-export", "n_clicks"),
          prevent_initial_call=True)
def export_active(_n):
    return True


@callback(Output("alerts-history-grid", "exportDataAsCsv"), Input("alerts-history-export", "n_clicks"),
          prevent_initial_call=True)
def export_history(_n):
    return True


@callback(
    Output("alerts-action-result", "children"),
    Output("alerts-version", "data"),
    Output("alerts-ack-comment", "value"),
    Output("alerts-comment-body", "value"),
    Output("alerts-silence-reason", "value"),
    Input("alerts-ack", "n_clicks"), Input("alerts-assign", "n_clicks"), Input("alerts-comment", "n_clicks"),
    Input("alerts-silence", "n_clicks"),
    State("alerts-selected", "data"), State("alerts-ack-comment", "value"),
    State("alerts-assignee", "value"), State("alerts-comment-body", "value"),
    State("alerts-silence-matcher", "value"), State("alerts-silence-duration", "value"),
    State("alerts-silence-reason", "value"), State("alerts-version", "data"), State("alerts-lang", "data"),
    prevent_initial_call=True,
)
def act(_ack, _assign, _comment, _silence, alert_id, ack_comment, assignee, body, matcher, hours, reason, version,
        lang):
    config, db = current_context()
    who = current_user()
    lang = normalize_lang(lang, config.settings.ui.language)
    keep = dash.no_update
    if not alert_id or db is None:
        return html.Div(t("alerts.no_selection", lang), className="alert alert-warning py-2"), keep, keep, keep, keep
    action, alert_id = ctx.triggered_id, int(alert_id)
    cleared = [keep, keep, keep]
    try:
        if action == "alerts-ack":
            actions.acknowledge(db, alert_id, who, ack_comment or "")
            message, cleared[0] = t("alerts.done.ack", lang, id=alert_id), ""
        elif action == "alerts-assign":
            actions.assign(db, alert_id, who, assignee or "")
            message = t("alerts.done.assign", lang, id=alert_id, who=(assignee or "").strip())
        elif action == "alerts-comment":
            actions.comment(db, alert_id, who, body or "")
            message, cleared[1] = t("alerts.done.comment", lang, id=alert_id), ""
        elif action == "alerts-silence":
            found = alert_queries.alert_detail(db, alert_id)
            if found is None:
                raise actions.ActionError(f"no alert {alert_id}")
            a = found["alert"]
            matchers = ({"rule": a["rule"], "subject": a["subject"]} if matcher != "domain"
                        else {"domain": a["domain"]})
            now = datetime.now(UTC)
            ends = now + timedelta(hours=int(hours or 1))
            actions.create_silence(db, who, reason or "", now, ends, **matchers)
            message = t("alerts.done.silence", lang, time=format_time(ends, lang, config.settings.ui.timezone))
            cleared[2] = ""
        else:
            return keep, keep, keep, keep, keep
    except actions.ActionError as exc:
        return (html.Div(t("alerts.refused", lang, reason=exc.message(lang)), className="alert alert-danger py-2"),
                keep, keep, keep, keep)
    return html.Div(message, className="alert alert-success py-2"), (version or 0) + 1, *cleared

