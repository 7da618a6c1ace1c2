"""/manual — domain officers enter figures that arrive by phone or on paper; corrections keep a trail."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, callback, dcc, html

from ioc import manual, queries
from ioc.i18n import format_number, format_time, normalize_lang, t
from ioc.ingest import Validator
from ioc.web import current_context, current_runtime, current_user, resolve_lang
from panels._components import GRID_DEFAULTS, grid_locale

dash.register_page(__name__, path="/manual", name=t("nav.manual", "vi"), nav_key="nav.manual", order=60,
                   access="manual",
                   title=f"{t('nav.manual', 'vi')} · {t('app.title', 'vi')}")


def _field(label: str, control) -> html.Div:
    return html.Div([html.Label(label, className="form-label"), control], className="mb-3")


def _recent_rows(config, db, lang: str) -> list[dict]:
    if db is None:
        return []
    tz = config.settings.ui.timezone
    user = current_user()
    rows = []
    for r in queries.manual_entries(db).to_dict("records"):
        if user is not None and r["entity"] in config.entities and not user.can_read(config.entity_domain(r["entity"])):
            continue
        metric = config.metrics.get(r["metric"])
        entity = config.entities.get(r["entity"])
        previous = r["previous_value"]
        rows.append({
            "id": r["id"], "entered_at": format_time(r["entered_at"], lang, tz), "entered_by": r["entered_by"],
            "entity": entity.name.get(lang) if entity else r["entity"],
            "metric": metric.label.get(lang) if metric else r["metric"],
            "ts": format_time(r["ts"], lang, tz), "value": format_number(r["value"], lang),
            "previous": "" if previous is None or previous != previous else format_number(previous, lang),
            "note": r["note"],
        })
    return rows


def _columns(lang: str) -> list[dict]:
    return [
        {"field": "entered_at", "headerName": t("manual.col.entered_at", lang)},
        {"field": "entered_by", "headerName": t("manual.who", lang)},
        {"field": "entity", "headerName": t("manual.entity", lang), "flex": 2},
        {"field": "metric", "headerName": t("manual.metric", lang), "flex": 2},
        {"field": "ts", "headerName": t("manual.time", lang)},
        {"field": "value", "headerName": t("manual.value", lang), "type": "rightAligned"},
        {"field": "previous", "headerName": t("manual.col.previous", lang), "type": "rightAligned"},
        {"field": "note", "headerName": t("manual.note", lang), "flex": 2},
    ]


def layout(ui_lang: str | None = None, lang: str | None = None, **_query) -> html.Div:
    config, db = current_context()
    lang = resolve_lang(lang, ui_lang, config)
    user = current_user()
    domains = [{"label": d.name.get(lang), "value": d.key} for d in config.catalog.domains
               if user is None or user.can_enter(d.key)]
    form = html.Div([
        _field(t("manual.domain", lang), dcc.Dropdown(id="manual-domain", options=domains, clearable=False,
                                                      value=domains[0]["value"] if domains else None)),
        _field(t("manual.entity", lang), dcc.Dropdown(id="manual-entity")),
        _field(t("manual.metric", lang), dcc.Dropdown(id="manual-metric")),
        _field(t("manual.time", lang), dcc.Input(id="manual-time", type="datetime-local", className="form-control")),
        _field(t("manual.value", lang), dcc.Input(id="manual-value", type="number", className="form-control")),
        _field(t("manual.note", lang), dcc.Textarea(id="manual-note", maxLength=2000, className="form-control")),
        html.Button(t("manual.submit", lang), id="manual-submit", className="btn btn-primary"),
        html.Div(id="manual-result", className="mt-3", role="status"),
    ], className="manual-form")
    return html.Div([
        dcc.Store(id="manual-lang", data=lang),
        html.Div([html.H1(t("manual.title", lang), className="page-title h4 mb-0")], className="page-head"),
        html.P(t("manual.help", lang), className="text-body-secondary"),
        html.Div([
            html.Div(form, className="col-lg-4"),
            html.Div([html.H2(t("manual.recent", lang), className="h6"),
                      dag.AgGrid(id="manual-grid", rowData=_recent_rows(config, db, lang), columnDefs=_columns(lang),
                                 getRowId="params.data.id",
                                 defaultColDef=GRID_DEFAULTS,
                                 dashGridOptions={**grid_locale(lang), "domLayout": "autoHeight"},
                                 csvExportParams={"fileName": "ioc-manual-entries.csv"})],
                     className="col-lg-8"),
        ], className="row g-4"),
    ], className="manual-page")


@callback(Output("manual-entity", "options"), Output("manual-entity", "value"),
          Input("manual-domain", "value"), State("manual-lang", "data"))
def entities_of_domain(domain, lang):
    config, _ = current_context()
    lang = normalize_lang(lang, config.settings.ui.language)
    user = current_user()
    if user is not None and not user.can_enter(domain):
        return [], None
    options = [{"label": e.name.get(lang), "value": e.id} for e in config.region.entities
               if config.kinds[e.kind].domain == domain]
    return options, None


@callback(Output("manual-metric", "options"), Output("manual-metric", "value"),
          Input("manual-entity", "value"), State("manual-lang", "data"))
def metrics_of_entity(entity, lang):
    config, _ = current_context()
    lang = normalize_lang(lang, config.settings.ui.language)
    if not isinstance(entity, str) or entity not in config.entities:
        return [], None
    metrics = [config.metrics[m] for m in config.entity_metrics(entity)]
    return [{"label": f"{m.label.get(lang)} ({m.unit_text(lang)})", "value": m.key} for m in metrics], None


@callback(Output("manual-result", "children"), Output("manual-grid", "rowData"),
          Input("manual-submit", "n_clicks"),
          State("manual-entity", "value"), State("manual-metric", "value"), State("manual-time", "value"),
          State("manual-value", "value"), State("manual-note", "value"),
          State("manual-lang", "data"), prevent_initial_call=True)
def save(_clicks, entity, metric, local_time, value, note, lang):
    config, db = current_context()
    runtime = current_runtime()
    lang = normalize_lang(lang, config.settings.ui.language)
    user = current_user()
    texts_ok = all(isinstance(x, str) for x in (entity, metric, local_time)) and isinstance(note, str | None)
    if not (texts_ok and entity and metric and local_time and value is not None and user is not None):
        return html.Div(t("manual.missing", lang), className="alert alert-warning"), dash.no_update
    try:
        ts = datetime.fromisoformat(local_time).replace(tzinfo=ZoneInfo(config.settings.ui.timezone))
        if entity not in config.entities or not user.can_enter(config.entity_domain(entity)):
            raise manual.ManualEntryError(t("action.forbidden", lang))
        reading = manual.submit(Validator(config), runtime.writer, entity, metric, ts, float(value),
                                user.display_name, note or "")
    except (ValueError, manual.ManualEntryError) as exc:
        return html.Div(t("manual.refused", lang, reason=str(exc)), className="alert alert-danger"), dash.no_update
    message = t("manual.saved", lang, metric=config.metrics[metric].label.get(lang),
                value=format_number(reading.value, lang), time=format_time(reading.ts, lang,
                                                                            config.settings.ui.timezone))
    return html.Div(message, className="alert alert-success"), _recent_rows(config, db, lang)
