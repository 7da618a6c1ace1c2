"""/rules — the alert rules in force, edited as YAML, saved with who and kept in history."""

from __future__ import annotations

import dash
import dash_ag_grid as dag
import yaml
from dash import Input, Output, State, callback, dcc, html

from ioc import alert_queries
from ioc.alerts import store
from ioc.alerts.actions import ActionError
from ioc.alerts.conditions import measures_silence
from ioc.alerts.rules import load_rules
from ioc.config import parse_duration
from ioc.i18n import DASH, MESSAGES, format_duration, format_time, format_value, normalize_lang, t
from ioc.web import current_context, current_user, page_refusal, readable_domains, resolve_lang
from panels._components import GRID_DEFAULTS, grid_locale, selected

dash.register_page(__name__, path="/rules", name=t("nav.rules", "vi"), nav_key="nav.rules", order=30, access="read",
                   nav_group="system",
                   title=f"{t('nav.rules', 'vi')} · {t('app.title', 'vi')}")


def _levels(config, d: dict, lang: str) -> str:
    """Warning / critical in the metric's unit with the language's decimals; a silence rule's wait."""
    if measures_silence(d.get("condition")):
        after = d.get("after")
        return format_duration(parse_duration(after).total_seconds(), lang) if after else DASH
    metric = config.metrics.get(d.get("metric") or "")
    unit = metric.unit_text(lang) if metric else ""
    return " / ".join(DASH if d.get(k) is None else format_value(float(d[k]), unit, lang)
                      for k in ("warning", "critical"))


def _target(config, d: dict, lang: str) -> str:
    """The rule's metric by its label, or its feed."""
    metric = config.metrics.get(d.get("metric") or "")
    if metric is not None:
        return metric.label.get(lang)
    return t("rules.feed", lang, name=d["feed"]) if d.get("feed") else d.get("metric") or ""


def _condition(condition: str, lang: str) -> str:
    key = f"rules.cond.{condition}"
    return t(key, lang) if key in MESSAGES else condition


def _rows(config, db, lang: str) -> list[dict]:
    """The rules this user may read (an officer: their domains' and rules of no single domain)."""
    if db is None:
        return []
    tz = config.settings.ui.timezone
    domains = readable_domains()
    return [{"name": r["name"], "condition": _condition(r["definition"]["condition"], lang),
             "target": _target(config, r["definition"], lang),
             "levels": _levels(config, r["definition"], lang),
             "for": format_duration(parse_duration(r["definition"].get("for", "PT0S")).total_seconds(), lang),
             "source_key": r["source"],
             "source": t("rules.source.config", lang) if r["source"] == store.CONFIG else r["source"],
             "updated": format_time(r["updated_at"], lang, tz),
             "broken": t("rules.broken", lang, reason=r["broken"]) if r.get("broken") else ""}
            for r in alert_queries.records(alert_queries.alert_rules(db))
            if store.rule_readable(config, r["definition"], domains)]


def _columns(lang: str) -> list[dict]:
    source_rule = {"rule-edited": f"params.data.source_key !== '{store.CONFIG}'"}
    return [{"field": "name", "headerName": t("rules.col.name", lang), "flex": 2},
            {"field": "condition", "headerName": t("rules.col.condition", lang)},
            {"field": "target", "headerName": t("rules.col.metric", lang), "flex": 2},
            {"field": "levels", "headerName": t("rules.col.levels", lang)},
            {"field": "for", "headerName": t("rules.col.for", lang)},
            {"field": "source", "headerName": t("rules.col.source", lang), "cellClassRules": source_rule},
            {"field": "updated", "headerName": t("rules.col.updated", lang)},
            {"field": "broken", "headerName": t("rules.col.broken", lang), "flex": 2, "tooltipField": "broken",
             "cellClassRules": {"rule-broken": "params.value !== ''"}}]


def layout(ui_lang: str | None = None, lang: str | None = None, **_query) -> html.Div:
    config, db = current_context()
    lang = resolve_lang(lang, ui_lang, config)
    if (refusal := page_refusal(__name__, lang)) is not None:
        return refusal
    return html.Div([
        dcc.Store(id="rules-lang", data=lang),
        html.Div([html.H1(t("rules.title", lang), className="page-title h4 mb-0")], className="page-head"),
        html.P(t("rules.help", lang), className="text-body-secondary"),
        html.Div([
            html.Div(dag.AgGrid(id="rules-grid", rowData=_rows(config, db, lang), columnDefs=_columns(lang),
                                getRowId="params.data.name",
                                defaultColDef=GRID_DEFAULTS,
                                dashGridOptions={**grid_locale(lang),
                                                 "rowSelection": {"mode": "singleRow", "checkboxes": False,
                                                                  "enableClickSelection": True},
                                                 "domLayout": "autoHeight"},
                                csvExportParams={"fileName": "ioc-alert-rules.csv"}),
                     className="col-lg-7"),
            html.Div([
                html.Label(t("rules.editor", lang), className="form-label"),
                dcc.Textarea(id="rules-editor", className="form-control rules-editor", style={"height": "22rem"}),
                html.Div([html.Button(t("rules.save", lang), id="rules-save", className="btn btn-primary me-2"),
                          html.Button(t("rules.revert", lang), id="rules-revert",
                                      className="btn btn-outline-secondary")],
                         className="mt-2"),
                html.Div(id="rules-result", className="mt-2", role="status"),
                html.H2(t("rules.history", lang), className="h6 mt-3"),
                html.Div(id="rules-history", className="rules-history"),
            ], className="col-lg-5"),
        ], className="row g-4"),
    ], className="rules-page")


@callback(Output("rules-editor", "value"), Output("rules-history", "children"),
          Input("rules-grid", "selectedRows"), State("rules-lang", "data"), prevent_initial_call=True)
def show_rule(rows, lang):
    config, db = current_context()
    lang = normalize_lang(lang, config.settings.ui.language)
    name = selected(rows, "name")
    if name is None or db is None:
        return dash.no_update, dash.no_update
    stored = alert_queries.alert_rules(db)
    definition = stored.loc[stored["name"] == name, "definition"]
    if len(definition) and not store.rule_readable(config, definition.iloc[0], readable_domains()):
        return "", html.Ul([], className="list-unstyled small")
    text = yaml.safe_dump(definition.iloc[0], allow_unicode=True, sort_keys=False) if len(definition) else ""
    history = [html.Li(f"{format_time(h['changed_at'], lang, config.settings.ui.timezone)} · {h['changed_by']}"
                       + ("" if h["definition"] is not None else f" {t('rules.removed', lang)}"))
               for h in alert_queries.records(alert_queries.rule_history(db, name))]
    return text, html.Ul(history, className="list-unstyled small")


@callback(Output("rules-result", "children"), Output("rules-grid", "rowData"),
          Input("rules-save", "n_clicks"), Input("rules-revert", "n_clicks"),
          State("rules-editor", "value"), State("rules-grid", "selectedRows"),
          State("rules-lang", "data"), prevent_initial_call=True)
def save_or_revert(_save, _revert, text, rows, lang):
    config, db = current_context()
    who = current_user()
    lang = normalize_lang(lang, config.settings.ui.language)
    try:
        if dash.ctx.triggered_id == "rules-revert":
            name = selected(rows, "name")
            if name is None:
                raise ActionError("action.select_rule")
            store.revert_rule(db, name, who, load_rules(config).rules, config)
            message = t("rules.reverted", lang, name=name)
        else:
            try:
                value = yaml.safe_load(text or "")
            except yaml.YAMLError as exc:
                raise ActionError("action.rule_yaml", reason=str(exc)) from None
            if not isinstance(value, dict):
                raise ActionError("action.rule_mapping")
            message = t("rules.saved", lang, name=store.save_rule(db, config, value, who).name)
    except ActionError as exc:
        return html.Div(t("rules.refused", lang, reason=exc.message(lang)), className="alert alert-danger"), \
            dash.no_update
    return html.Div(message, className="alert alert-success"), _rows(config, db, lang)

