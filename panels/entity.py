"""/entity/<entity_id> — one school, hospital, camera or station: where it is (breadcrumb back up to its
domain and areas), its details, every metric it reports now and over the chosen range (?range= as on the
domain pages) with its own thresholds and its alerts drawn on the charts, its alerts (linking to /alerts)
and the health of the feeds that bring its readings.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dash
import pandas as pd
from dash import Input, Output, State, clientside_callback, dcc, html

from ioc import alert_queries, queries
from ioc.config import Config, Entity
from ioc.i18n import MESSAGES, format_number, format_time, t
from ioc.web import current_context, current_user, resolve_lang
from panels import _drill
from panels._components import metric_tile
from panels._figures import GRAPH_CONFIG
from panels._labels import alert_value

dash.register_page(__name__, path_template="/entity/<entity_id>", name="entity", nav=False, access="read",
                   title=f"{t('entity.attrs', 'vi')} · {t('app.title', 'vi')}")

PREFIX = "entity"


def attr_facts(entity: Entity, lang: str) -> list[tuple[str, str]]:
    """The entity's numeric attributes that have a label (model parameters of the simulator have none)."""
    return [(t(f"attr.{k}", lang), format_number(v, lang)) for k, v in entity.attrs.items()
            if f"attr.{k}" in MESSAGES and isinstance(v, int | float)]


def tile_rows(sites: pd.DataFrame) -> dict[str, dict]:
    """site_status rows of one entity as metric_tile rows, keyed by metric."""
    return {r["metric"]: {"value": r["value"], "status": r["status"], "stale": bool(r["stale"]), "age_s": r["age_s"]}
            for _, r in sites.iterrows()}


def _alert_item(config: Config, a: dict, lang: str) -> html.Li:
    tz = config.settings.ui.timezone
    metric = config.metrics.get(a.get("metric") or "")
    what = metric.label.get(lang) if metric else a["rule"]
    since = a["firing_since"] or a["pending_since"]
    state = t(f"alerts.state.{a['state']}", lang) if f"alerts.state.{a['state']}" in MESSAGES else a["state"]
    text = f"{t('status.' + a['severity'], lang)} · {what} · {alert_value(config, a, lang)} · {state} · " \
           f"{format_time(since, lang, tz, 'short')}"
    return html.Li(dcc.Link(text, href=_drill.href("/alerts", {}, alert=str(a["id"]))),
                   className=f"entity-alert entity-alert-{a['severity']}", **{"data-alert": str(a["id"])})


def _alerts(config: Config, active: pd.DataFrame, history: pd.DataFrame, lang: str) -> list:
    active_rows = alert_queries.records(active)
    active_ids = {a["id"] for a in active_rows}
    recent = [a for a in alert_queries.records(history) if a["id"] not in active_ids][:20]
    out = []
    for title, rows in ((t("entity.alerts.active", lang), active_rows), (t("entity.alerts.recent", lang), recent)):
        out.append(html.H3(title, className="h6 mt-2 mb-1"))
        out.append(html.Ul([_alert_item(config, a, lang) for a in rows], className="list-unstyled mb-1") if rows
                   else html.P(t("entity.alerts.none", lang), className="drill-note mb-1"))
    return out


def _feeds(config: Config, feeds: list[str], health: pd.DataFrame, lang: str) -> list:
    tz = config.settings.ui.timezone
    if not feeds:
        return [html.P(t("entity.feed.none", lang), className="drill-note mb-0")]
    rows = {r["feed"]: r for r in alert_queries.records(health)}
    items = []
    for feed in feeds:
        r = rows.get(feed)
        state = r["state"] if r else "waiting"
        label = t(f"feed_state.{state}", lang) if f"feed_state.{state}" in MESSAGES else state
        bits = [html.Strong(feed), " · ", html.Span(label, className=f"feed-state feed-state-{state}")]
        if r:
            bits += [" ", t("entity.feed.since", lang, time=format_time(r["since"], lang, tz, "short")), " · ",
                     t("entity.feed.last", lang, time=format_time(r["last_success"], lang, tz, "short")), " · ",
                     t("entity.feed.rate", lang, n=format_number(r["readings_per_min"], lang))]
            if r.get("last_error") and state in ("late", "failing"):
                bits += [" · ", t("entity.feed.error", lang, error=r["last_error"])]
        items.append(html.Li(bits, className="entity-feed", **{"data-feed": feed, "data-state": state}))
    return [html.Ul(items, className="list-unstyled mb-0")]


def layout(entity_id: str | None = None, ui_lang: str | None = None, lang: str | None = None,
           range: str | None = None, **query) -> html.Div:  # noqa: A002 (URL name)
    config, db = current_context()
    lang_param = lang if lang in ("vi", "en") else None
    lang = resolve_lang(lang, ui_lang, config)
    entity = config.entities.get(entity_id or "")
    user = current_user()
    if entity is None or (user is not None and not user.can_read(config.entity_domain(entity.id))):
        return html.Div([html.P(t("entity.unknown", lang, value=entity_id or ""), className="alert alert-warning"),
                         dcc.Link(t("nav.overview", lang), href=_drill.href("/", {"lang": lang_param}))],
                        className="drill-page", id="entity-page")
    tz, now = config.settings.ui.timezone, datetime.now(UTC)
    window = _drill.parse_window(range, query.get("from"), query.get("to"), now, tz)
    params = {**window.params(tz), "lang": lang_param}
    domain = config.domains[config.entity_domain(entity.id)]
    metrics = [config.metrics[k] for k in config.entity_metrics(entity.id)]
    sites = pd.DataFrame(columns=["metric", "value", "status", "stale", "age_s", "feed"])
    active = pd.DataFrame(columns=alert_queries.ALERT_COLUMNS)
    history = pd.DataFrame(columns=alert_queries.HISTORY_COLUMNS)
    health = pd.DataFrame(columns=["feed"])
    if db is not None:
        sites = queries.site_status(db, config, now, [m.key for m in metrics], [entity.id])
        active = alert_queries.active_alerts(db, domain=domain.key, area=entity.area)
        active = active[active["subject"] == entity.id]
        history = alert_queries.alert_history(db, window.start, window.end, domain=domain.key, area=entity.area)
        history = history[history["subject"] == entity.id]
        health = queries.feed_health(db)
    rows = tile_rows(sites)
    stale = {m for m, r in rows.items() if r["stale"]}
    root = config.region.region.code

    def area_link(code: str) -> str:
        return _drill.href(f"/domain/{domain.key}", {**params, "area": None if code == root else code})

    crumbs = [dcc.Link(domain.name.get(lang), href=area_link(root), className="crumb crumb-domain"),
              html.Span("›", className="crumb-sep"), *_drill.area_crumbs(config, entity.area, lang, area_link),
              html.Span("›", className="crumb-sep"), html.Span(entity.name.get(lang), className="crumb-current")]
    facts = [(t("entity.kind", lang), config.kinds[entity.kind].name.get(lang)),
             (t("entity.area", lang), config.areas[entity.area][0].name.get(lang)),
             (t("entity.map", lang), f"{format_number(entity.lat, lang, 4)}, {format_number(entity.lon, lang, 4)}"),
             *attr_facts(entity, lang)]
    history_all = pd.concat([active, history]) if not active.empty else history
    charts = []
    for m in metrics:
        bucket = _drill.bucket_for(window, m)
        start = _drill.aligned(window.start, bucket)
        df = alert_queries.entity_series(db, entity.id, m.key, start, window.end, bucket) if db is not None else None
        marks = _drill.alert_marks(config, history_all, m.key, [entity.id], lang)
        fig = _drill.site_figure(config, entity.id, m, df, marks, window, lang, m.key in stale, height=220)
        charts.append(html.Div([
            html.Div([html.Span(m.label.get(lang), className="chart-title"),
                      html.Span(_drill.bucket_note(bucket, lang), className="drill-note")], className="chart-head"),
            # A fixed height: a responsive graph in a grid cell with no height of its own drew 19–38 px tall.
            dcc.Graph(id={"type": "entity-chart", "metric": m.key}, figure=fig, config=GRAPH_CONFIG,
                      style={"height": "220px"}),
        ], className="drill-section entity-chart", **{"data-metric": m.key}))
    feeds = sorted({f for f in sites["feed"].dropna()}) if "feed" in sites else []
    return html.Div([
        html.Div([html.H1(entity.name.get(lang), className="page-title h4 mb-0", id="entity-title"),
                  html.Span(format_time(now, lang, tz, "datetime"), className="page-refreshed text-body-secondary")],
                 className="page-head"),
        html.Nav(crumbs, className="drill-crumbs", id="entity-crumbs"),
        _drill.range_controls(PREFIX, window, lang, tz),
        html.Div([metric_tile(rows.get(m.key), m, lang) for m in metrics], className="tile-grid drill-tiles",
                 id="entity-tiles"),
        html.Div([
            html.Div(html.Div(charts, className="entity-charts"), className="col-xl-8", id="entity-charts"),
            html.Div([
                html.Section([html.H2(t("entity.attrs", lang), className="h6"),
                              html.Dl([x for k, v in facts for x in (html.Dt(k), html.Dd(v))],
                                      className="entity-facts")], className="drill-section", id="entity-facts"),
                html.Section([html.H2(t("entity.alerts", lang), className="h6 mb-0"),
                              *_alerts(config, active, history, lang)], className="drill-section",
                             id="entity-alerts"),
                html.Section([html.H2(t("entity.feed", lang), className="h6"), *_feeds(config, feeds, health, lang)],
                             className="drill-section", id="entity-feeds"),
            ], className="col-xl-4"),
        ], className="row g-3"),
    ], className="drill-page entity-page", id="entity-page",
        **{"data-entity": entity.id, "data-domain": domain.key, "data-range": window.key, "data-lang": lang})


clientside_callback(_drill.RANGE_JS, Output("entity-range", "className"), Input("entity-range", "value"),
                    Input("entity-apply", "n_clicks"), State("entity-from", "value"), State("entity-to", "value"),
                    prevent_initial_call=True)
