"""/feeds — every feed's health: state, last success, last error, rates; refreshed automatically."""

from __future__ import annotations

from datetime import UTC, datetime

import dash
import dash_ag_grid as dag
import pandas as pd
from dash import Input, Output, State, callback, dcc, html

from ioc import queries, status
from ioc.i18n import format_age, format_duration, format_number, format_time, normalize_lang, t
from ioc.web import current_context, page_refusal, readable_domains, resolve_lang
from panels._components import GRID_DEFAULTS, grid_locale

dash.register_page(__name__, path="/feeds", name=t("nav.feeds", "vi"), nav_key="nav.feeds", order=50, access="read",
                   nav_group="system",
                   title=f"{t('nav.feeds', 'vi')} · {t('app.title', 'vi')}")

STATES = ("ok", "late", "failing", "disabled", "waiting")


def feed_rows(config, db, lang: str, now: datetime) -> list[dict]:
    """One row per configured feed, joined with its stored health (a feed not yet written shows as waiting)."""
    health = queries.feed_health(db) if db is not None else pd.DataFrame(columns=["feed"])
    stored = {row["feed"]: row for row in health.to_dict("records")}
    tz = config.settings.ui.timezone
    rows = []
    domains = readable_domains()  # an officer: feeds of their domains and feeds of several domains
    for spec in config.feeds:
        if domains is not None and spec.domain is not None and spec.domain not in domains:
            continue
        h = stored.get(spec.name, {})
        state = h.get("state") or ("disabled" if not spec.enabled else "waiting")
        last = h.get("last_success")
        last_ok = last is not None and last == last
        rows.append({
            "feed": spec.name, "transport": spec.transport, "state": state,
            "state_label": t(f"feed_state.{state}", lang),
            "last_success": (f"{format_time(last, lang, tz)} ({format_age((now - last).total_seconds(), lang)})"
                             if last_ok else "—"),
            "last_error": h.get("last_error") or "",
            "readings_per_min": format_number(h.get("readings_per_min", 0.0), lang, 0),
            "dead_letters_per_min": format_number(h.get("dead_letters_per_min", 0.0), lang, 0),
            "stale_after": format_duration(status.feed_silence_allowed(config, spec).total_seconds(), lang),
        })
    return rows


def _columns(lang: str) -> list[dict]:
    state_classes = {f"feed-state-{s}": f"params.data.state === '{s}'" for s in STATES}
    return [
        {"field": "feed", "headerName": t("feeds.col.feed", lang), "pinned": "left"},
        {"field": "transport", "headerName": t("feeds.col.transport", lang)},
        {"field": "state_label", "headerName": t("feeds.col.state", lang), "cellClass": "feed-state",
         "cellClassRules": state_classes},
        {"field": "last_success", "headerName": t("feeds.col.last_success", lang), "flex": 2},
        {"field": "last_error", "headerName": t("feeds.col.last_error", lang), "flex": 3, "tooltipField": "last_error"},
        {"field": "readings_per_min", "headerName": t("feeds.col.readings", lang), "type": "rightAligned"},
        {"field": "dead_letters_per_min", "headerName": t("feeds.col.dead", lang), "type": "rightAligned"},
        {"field": "stale_after", "headerName": t("feeds.col.stale_after", lang)},
    ]


def _summary(rows: list[dict], lang: str) -> str:
    counts = {s: sum(r["state"] == s for r in rows) for s in STATES}
    return t("feeds.summary", lang, ok=counts["ok"], late=counts["late"], failing=counts["failing"],
             disabled=counts["disabled"])


def layout(ui_lang: str | None = None, lang: str | None = None, **_query) -> html.Div:
    config, db = current_context()
    lang = resolve_lang(lang, ui_lang, config)
    if (refusal := page_refusal(__name__, lang)) is not None:
        return refusal
    rows = feed_rows(config, db, lang, datetime.now(UTC))
    return html.Div([
        dcc.Store(id="feeds-lang", data=lang),
        dcc.Interval(id="feeds-tick", interval=int(config.settings.ui.refresh.total_seconds() * 1000)),
        html.Div([html.H1(t("feeds.title", lang), className="page-title h4 mb-0"),
                  html.Span(_summary(rows, lang), id="feeds-summary", className="text-body-secondary")],
                 className="page-head"),
        dag.AgGrid(id="feeds-grid", rowData=rows, columnDefs=_columns(lang), getRowId="params.data.feed",
                   defaultColDef=GRID_DEFAULTS,
                   dashGridOptions={**grid_locale(lang), "domLayout": "autoHeight", "tooltipShowDelay": 300},
                   csvExportParams={"fileName": "ioc-feeds.csv"}, className="feeds-grid"),
    ], className="feeds-page")


@callback(
    Output("feeds-grid", "rowData"),
    Output("feeds-summary", "children"),
    Input("feeds-tick", "n_intervals"),
    State("feeds-lang", "data"),
    prevent_initial_call=True,
)
def refresh(_n, lang):
    config, db = current_context()
    lang = normalize_lang(lang, config.settings.ui.language)
    rows = feed_rows(config, db, lang, datetime.now(UTC))
    return rows, _summary(rows, lang)
