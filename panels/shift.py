"""/shift — the shift log (notes, free or tied to an alert), a form to add one, and the handover summary
of a period (default: the last 8 hours) from ioc.alert_queries.handover."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, callback, dcc, html

from ioc import alert_queries
from ioc.alerts import actions
from ioc.i18n import format_number, format_time, normalize_lang, t
from ioc.web import current_context, current_user, resolve_lang
from panels._components import GRID_DEFAULTS, grid_locale

dash.register_page(__name__, path="/shift", name=t("nav.shift", "vi"), nav_key="nav.shift", order=25, access="read",
                   title=f"{t('nav.shift', 'vi')} · {t('app.title', 'vi')}")

PERIODS = (4, 8, 12, 24)
DEFAULT_HOURS = 8
SECTIONS = ("started_firing", "resolved", "unacknowledged", "acknowledged", "silences", "notes")


def _subject_name(config, subject: str | None, lang: str) -> str:
    entity = config.entities.get(subject or "")
    return entity.name.get(lang) if entity else (subject or "")


def _what(config, rule: str | None, lang: str) -> str:
    rule = rule or ""
    metric = config.metrics.get(rule.split(":", 1)[1]) if rule.startswith("catalog:") else None
    return metric.label.get(lang) if metric else rule


def _log_rows(config, db, lang: str, since: datetime) -> list[dict]:
    if db is None:
        return []
    tz = config.settings.ui.timezone
    rows = []
    for r in alert_queries.records(alert_queries.shift_log(db, since)):
        alert_id = r["alert_id"]
        tied = alert_id is not None
        rows.append({"id": int(r["id"]), "row_id": str(int(r["id"])), "at": format_time(r["at"], lang, tz),
                     "at_ts": r["at"].timestamp(),
                     "author": r["author"], "body": r["body"],
                     "alert": (f"#{int(alert_id)} {_what(config, r['rule'], lang)} – "
                               f"{_subject_name(config, r['subject'], lang)}") if tied else ""})
    return rows


def _columns(lang: str) -> list[dict]:
    return [
        {"field": "at", "headerName": t("shift.col.at", lang), "minWidth": 150, "flex": 0, "width": 160,
         "comparator": {"function": "(a, b, nodeA, nodeB) => nodeA.data.at_ts - nodeB.data.at_ts"}},
        {"field": "author", "headerName": t("shift.col.author", lang), "minWidth": 120, "tooltipField": "author"},
        {"field": "alert", "headerName": t("shift.col.alert", lang), "flex": 2, "minWidth": 140,
         "tooltipField": "alert"},
        {"field": "body", "headerName": t("shift.col.body", lang), "flex": 3, "minWidth": 180,
         "wrapText": True, "autoHeight": True, "tooltipField": "body"},
    ]


def _item(config, key: str, r: dict, lang: str, tz: str) -> str:
    """One line of a handover list (built from message fragments and data, no prose)."""
    if key == "silences":
        matcher = " · ".join(str(v) for v in (r["rule"], _subject_name(config, r["subject"], lang) if r["subject"]
                                              else None, r["domain"], r["area"]) if v)
        return (f"{matcher} — {format_time(r['starts_at'], lang, tz, 'short')} → "
                f"{format_time(r['ends_at'], lang, tz, 'short')} — {r['reason']} ({r['created_by']})")
    if key == "notes":
        tied = f" #{int(r['alert_id'])}" if r.get("alert_id") is not None else ""
        return f"{format_time(r['at'], lang, tz, 'short')} {r['author']}{tied}: {r['body']}"
    head = (f"#{r['id']} {t('status.' + r['severity'], lang)} · {_what(config, r['rule'], lang)} – "
            f"{_subject_name(config, r['subject'], lang)}")
    if key == "acknowledged":
        return f"{head} — {t('shift.h.by', lang, who=r['acknowledged_by'])}, " \
               f"{format_time(r['acknowledged_at'], lang, tz, 'short')}"
    if key == "resolved":
        return f"{head} — {format_time(r['resolved_at'], lang, tz, 'short')}"
    return f"{head} — {format_time(r['firing_since'], lang, tz, 'short')} · {format_number(r['value'], lang)}"


def _handover(config, db, hours: int, lang: str):
    if db is None:
        return html.P(t("shift.h.none", lang), className="text-body-secondary")
    tz = config.settings.ui.timezone
    until = datetime.now(UTC)
    summary = alert_queries.handover(db, until - timedelta(hours=hours), until)
    counts = summary["counts"]
    tiles = [html.Div([html.Div(str(counts[key]), className="handover-count"),
                       html.Div(t(f"shift.h.{key}", lang), className="handover-label")],
                      className=f"handover-tile handover-{key}" + (" attention" if key == "unacknowledged"
                                                                    and counts[key] else ""),
                      **{"data-key": key, "data-count": str(counts[key])})
             for key in SECTIONS]
    lists = []
    for key in SECTIONS:
        items = summary[key]
        body = (html.Ul([html.Li(_item(config, key, r, lang, tz)) for r in items[:50]], className="small mb-0")
                if items else html.P(t("shift.h.none", lang), className="small text-body-secondary mb-0"))
        lists.append(html.Details([html.Summary(f"{t(f'shift.h.{key}', lang)} ({counts[key]})"), body],
                                  open=bool(items) and key in ("unacknowledged", "started_firing", "notes"),
                                  className=f"handover-list handover-list-{key}"))
    by = summary["acknowledged_by"]
    by_line = html.P(" · ".join(f"{who}: {n}" for who, n in sorted(by.items())), className="small mb-2") if by \
        else None
    return html.Div([
        html.P(t("shift.period_text", lang, since=format_time(summary["since"], lang, tz),
                 until=format_time(summary["until"], lang, tz)), className="small text-body-secondary mb-2"),
        html.Div(tiles, className="handover-tiles"),
        by_line,
        html.Div(lists, className="handover-lists"),
    ], id="shift-handover-body")


def layout(ui_lang: str | None = None, lang: str | None = None, hours: str | None = None, alert: str | None = None,
           **_query) -> html.Div:
    config, db = current_context()
    lang = resolve_lang(lang, ui_lang, config)
    period = int(hours) if hours and hours.isdigit() and int(hours) in PERIODS else DEFAULT_HOURS
    since = datetime.now(UTC) - timedelta(hours=period)
    form = html.Div([
        html.H2(t("shift.add", lang), className="h6"),
        html.Div([html.Label(t("shift.body", lang), className="form-label small mb-1"),
                  dcc.Textarea(id="shift-body", maxLength=4000, rows=3, className="form-control form-control-sm")],
                 className="mb-2"),
        html.Div([html.Label(t("shift.alert_id", lang), className="form-label small mb-1"),
                  dcc.Input(id="shift-alert", type="number", min=1, step=1,
                            value=int(alert) if alert and alert.isdigit() else None,
                            className="form-control form-control-sm")], className="mb-2"),
        html.Button(t("shift.submit", lang), id="shift-submit", className="btn btn-sm btn-primary"),
        html.Div(id="shift-result", className="mt-2", role="status"),
    ], className="shift-form")
    periods = [{"label": t("shift.last_hours", lang, n=h), "value": h} for h in PERIODS]
    return html.Div([
        dcc.Store(id="shift-lang", data=lang),
        dcc.Store(id="shift-version", data=0),
        dcc.Interval(id="shift-tick", interval=int(config.settings.ui.refresh.total_seconds() * 1000)),
        html.Div([html.H1(t("shift.title", lang), className="page-title h4 mb-0"),
                  dcc.RadioItems(id="shift-period", options=periods, value=period, inline=True,
                                 className="shift-period small", inputClassName="me-1", labelClassName="me-3")],
                 className="page-head"),
        html.Div([
            html.Div([form], className="col-lg-3"),
            html.Div([html.H2(t("shift.log", lang), className="h6"),
                      dag.AgGrid(id="shift-grid", rowData=_log_rows(config, db, lang, since), columnDefs=_columns(lang),
                                 getRowId="params.data.row_id",
                                 defaultColDef=GRID_DEFAULTS,
                                 dashGridOptions={"domLayout": "autoHeight", "tooltipShowDelay": 300,
                                                  **grid_locale(lang, t("shift.empty", lang))},
                                 csvExportParams={"fileName": "ioc-shift-log.csv"}, className="shift-grid")],
                     className="col-lg-5"),
            html.Div([html.H2(t("shift.handover", lang), className="h6"),
                      html.Div(_handover(config, db, period, lang), id="shift-handover")], className="col-lg-4"),
        ], className="row g-4"),
    ], className="shift-page")


@callback(
    Output("shift-grid", "rowData"),
    Output("shift-handover", "children"),
    Input("shift-tick", "n_intervals"),
    Input("shift-period", "value"),
    Input("shift-version", "data"),
    State("shift-lang", "data"),
    prevent_initial_call=True,
)
def refresh(_n, hours, _version, lang):
    config, db = current_context()
    lang = normalize_lang(lang, config.settings.ui.language)
    hours = hours if hours in PERIODS else DEFAULT_HOURS
    since = datetime.now(UTC) - timedelta(hours=hours)
    return _log_rows(config, db, lang, since), _handover(config, db, hours, lang)


@callback(
    Output("shift-result", "children"),
    Output("shift-version", "data"),
    Output("shift-body", "value"),
    Input("shift-submit", "n_clicks"),
    State("shift-body", "value"), State("shift-alert", "value"),
    State("shift-version", "data"), State("shift-lang", "data"),
    prevent_initial_call=True,
)
def add_note(_n, body, alert_id, version, lang):
    config, db = current_context()
    lang = normalize_lang(lang, config.settings.ui.language)
    keep = dash.no_update
    try:
        alert_id = int(alert_id) if alert_id not in (None, "") else None
        if alert_id is not None and alert_queries.alert_detail(db, alert_id) is None:
            raise actions.ActionError("action.no_alert", alert=alert_id)
        actions.note(db, current_user(), body or "", alert_id)
    except ValueError as exc:  # ActionError included
        reason = exc.message(lang) if isinstance(exc, actions.ActionError) else str(exc)
        return html.Div(t("alerts.refused", lang, reason=reason), className="alert alert-danger py-2"), keep, keep
    return html.Div(t("shift.saved", lang), className="alert alert-success py-2"), (version or 0) + 1, ""
