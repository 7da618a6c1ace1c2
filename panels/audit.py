"""/audit — every change people made (who, when, what, before and after); admins only."""

from __future__ import annotations

import json

import dash
import dash_ag_grid as dag
from dash import Input, Output, callback, html

from ioc.audit import audit_log
from ioc.i18n import format_time, t
from ioc.web import current_context, resolve_lang
from panels._components import GRID_DEFAULTS, grid_locale

dash.register_page(__name__, path="/audit", name=t("nav.audit", "vi"), nav_key="nav.audit", order=90,
                   access="admin", nav_group="system",
                   title=f"{t('nav.audit', 'vi')} · {t('app.title', 'vi')}")

COLUMNS = ("at", "actor", "action", "target", "before", "after")


def _compact(value) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _rows(config, db, lang: str) -> list[dict]:
    if db is None:
        return []
    tz = config.settings.ui.timezone
    return [{"id": r["id"], "at": format_time(r["at"], lang, tz), "actor": r["actor"], "action": r["action"],
             "target": r["target"], "before": _compact(r["before"]), "after": _compact(r["after"])}
            for r in audit_log(db).to_dict("records")]


def layout(ui_lang: str | None = None, lang: str | None = None, **_query) -> html.Div:
    config, db = current_context()
    lang = resolve_lang(lang, ui_lang, config)
    columns = [{"field": c, "headerName": t(f"audit.col.{c}", lang), "flex": 2 if c in ("before", "after") else 1}
               for c in COLUMNS]
    return html.Div([
        html.Div([html.H1(t("audit.title", lang), className="page-title h4 mb-0"),
                  html.Button(t("alerts.export", lang), id="audit-export", className="btn btn-sm btn-outline-primary")],
                 className="page-head"),
        dag.AgGrid(id="audit-grid", rowData=_rows(config, db, lang), columnDefs=columns, getRowId="params.data.id",
                   defaultColDef={**GRID_DEFAULTS, "flex": None, "wrapText": True, "autoHeight": True},
                   dashGridOptions={**grid_locale(lang), "domLayout": "autoHeight", "pagination": True,
                                    "paginationPageSize": 50},
                   csvExportParams={"fileName": "ioc-audit-log.csv"}),
    ], className="audit-page")


@callback(Output("audit-grid", "exportDataAsCsv"), Input("audit-export", "n_clicks"), prevent_initial_call=True)
def export(_n):
    return True
