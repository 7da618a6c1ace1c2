"""/domain/<domain> — one page for every domain of the catalog: tiles, map, the chosen metric over time with
its thresholds and alerts, the metric by area (or by site at the bottom of the area tree), the domain's
focus views and a table of its sites.

State is in the URL: ?area=<code>&range=1h|24h|7d|30d|custom&from=&to=&metric=<key>. A click on an
area (map, bar) drills into it; a click on a site (map point, bar, table row) opens /entity/<id>. Every
parameter is checked: an unknown domain gives a list of domains, an unknown area, metric or range a
notice and the default, never an error page.

The URL state, the views table (VIEWS) and the pure data preparation are in panels/_domain.py.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import dash
import pandas as pd
from dash import ALL, MATCH, Input, Output, State, callback, clientside_callback, dcc, html

from ioc import alert_queries, queries
from ioc.config import Config, Metric
from ioc.i18n import format_time, format_value, t
from ioc.web import current_context, current_user, resolve_lang
from panels import _drill
from panels._components import data_grid, metric_tile, tile_rows
from panels._domain import (
    MAX_MULTIPLES,
    VIEWS,
    State_,
    View,
    area_bars,
    default_metric,
    domain_entities,
    domain_metrics,
    has_site_levels,
    in_season,
    parse_state,
    site_bars,
    site_columns,
    site_rows,
)
from panels._figures import GRAPH_CONFIG, add_alert_bands, bar_figure, series_spec
from panels._map import area_map, site_points

log = logging.getLogger(__name__)


def _readable(config: Config) -> list:
    """The domains this request may open (an officer: their own)."""
    user = current_user()
    return [d for d in config.catalog.domains if user is None or user.can_read(d.key)]


def _menu(config: Config, lang: str) -> list[tuple[str, str]]:
    return [(d.name.get(lang), f"/domain/{d.key}") for d in _readable(config)]


dash.register_page(__name__, path_template="/domain/<domain>", name=t("nav.domain", "vi"), nav_key="nav.domain",
                   order=5, nav_menu=_menu, access="read", title=f"{t('nav.domain', 'vi')} · {t('app.title', 'vi')}")

PREFIX = "domain"  # ids of the range controls


# --- sections ---------------------------------------------------------------------------------

def _section(title: str, body: list, hint: str | None = None, **attrs) -> html.Section:
    head = [html.H2(title, className="h6 mb-1")]
    if hint:
        head.append(html.Span(hint, className="drill-hint"))
    return html.Section([html.Div(head, className="drill-section-head"), *body], className="drill-section",
                        **attrs)


def _graph(key: str, figure, clickable: bool = True) -> dcc.Graph:
    graph_id = {"type": "drill-click", "key": key} if clickable else {"type": "drill-figure", "key": key}
    # The figure says how tall it is (bars grow with their number); the box follows, or plotly would
    # squeeze it into Dash's default height.
    layout = figure["layout"] if isinstance(figure, dict) else figure.layout
    height = layout["height"] or 400
    return dcc.Graph(id=graph_id, figure=figure, config=GRAPH_CONFIG, className="drill-graph",
                     style={"height": f"{height}px"})


def _multiples(config: Config, db, metric: Metric, entities: list[str], window: _drill.Window, alerts: pd.DataFrame,
               sites: pd.DataFrame, lang: str, key: str) -> list:
    entities = entities[:MAX_MULTIPLES]
    bucket = _drill.bucket_for(window, metric)
    start = _drill.aligned(window.start, bucket)
    frame = (queries.entity_series(db, metric.key, entities, start, window.end, bucket) if db is not None
             else pd.DataFrame(columns=["entity", "bucket", "value"]))
    stale = set(sites.loc[(sites["metric"] == metric.key) & sites["stale"].astype(bool), "entity"]) \
        if not sites.empty else set()
    cells = []
    for e in entities:
        marks = _drill.alert_marks(config, alerts, metric.key, [e], lang)
        fig = _drill.site_figure(config, e, metric, frame[frame["entity"] == e], marks, window, lang, e in stale)
        cells.append(html.Div([
            dcc.Link(config.entities[e].name.get(lang), href=_drill.href(f"/entity/{e}", {}),
                     className="drill-multiple-title"),
            _graph(f"{key}-{e}", fig, clickable=False),
        ], className="drill-multiple", **{"data-entity": e}))
    return [html.Div(cells, className="drill-multiples")]


def _map_view(config: Config, sites: pd.DataFrame, metric: Metric, area: str, lang: str) -> object:
    """The map with areas sized by the metric's figure (a count) and coloured by its status."""
    mine = sites[sites["metric"] == metric.key]
    areas = queries.area_status(config, mine, area)
    if not areas.empty:
        values = queries.area_values(config, mine, metric, area).set_index("area")
        areas["weight"] = areas["area"].map(values["value"])
        areas["status"] = areas["area"].map(values["status"])
        areas["weight_text"] = [t("domain.count", lang, metric=metric.label.get(lang),
                                  value=format_value(v, metric.unit_text(lang), lang)) for v in areas["weight"]]
    return area_map(config, areas, site_points(config, mine), lang, height=360)


def _view_entities(config: Config, state: State_, view: View, leaf: bool) -> list[str]:
    """The sites a view shows here; none when it does not apply (or would repeat the page's own bars)."""
    metric = config.metrics.get(view.metric)
    if metric is None or metric.domain != state.domain.key:
        return []
    if metric.key == state.metric.key and (view.show == "areas" or (view.show == "sites" and leaf)):
        return []
    return [e for e in domain_entities(config, state.domain.key, state.area) if metric.key in config.entity_metrics(e)]


def _view(config: Config, db, state: State_, view: View, sites: pd.DataFrame, alerts: pd.DataFrame, lang: str,
          leaf: bool) -> html.Section | None:
    entities = _view_entities(config, state, view, leaf)
    if not entities:
        return None
    metric = config.metrics[view.metric]
    key = f"view-{view.metric}"
    label = metric.label.get(lang)
    hint = None
    if view.show == "levels":
        title, body = t("domain.view.per_site", lang, metric=label), _multiples(
            config, db, metric, entities, state.window, alerts, sites, lang, key)
    elif view.show == "map":
        title, body = t("domain.view.map", lang, metric=label), [_graph(key, _map_view(config, sites, metric,
                                                                                         state.area, lang))]
        hint = t("domain.map_hint", lang)
    elif view.show == "areas" and not leaf:
        title = t("domain.by_area", lang, metric=label)
        body = [_graph(key, bar_figure(area_bars(config, sites, metric, state.area, lang), metric, lang, "area"))]
        hint = t("domain.bars_hint", lang)
    else:
        title = t("domain.by_site", lang, metric=label)
        bars = site_bars(config, sites, metric, lang)
        body = [_graph(key, bar_figure(bars, metric, lang, "entity",
                                       thresholds=not has_site_levels(config, metric, entities)))]
        hint = t("domain.bars_hint", lang)
    body += _view_notes(config, state, view, lang)
    return _section(title, body, hint, **{"data-view": view.metric, "data-show": view.show})


def _view_notes(config: Config, state: State_, view: View, lang: str) -> list:
    """What a view says under its chart: in or out of its season, its note."""
    notes = []
    if view.season:
        season_key = "domain.view.in_season" if in_season(view.season, state.window.end,
                                                          config.settings.ui.timezone) else "domain.view.out_of_season"
        notes.append(t(season_key, lang))
    if view.note:
        notes.append(t(view.note, lang))
    return [html.P(n, className="drill-note mb-0") for n in notes]


def _tiles(config: Config, db, state: State_, entities: list[str], now: datetime, lang: str) -> html.Div:
    metrics = domain_metrics(config, state.domain.key)
    rows = {}
    if db is not None:
        frame = queries.overview(db, config, now, metrics=metrics, entities=entities,
                                 area=None if state.area == config.region.region.code else state.area)
        rows = tile_rows(config, frame, lang)
    tiles = []
    for m in metrics:
        if not any(m.key in config.entity_metrics(e) for e in entities):
            continue
        link = _drill.href(f"/domain/{state.domain.key}", state.params,
                           metric=None if m.key == default_metric(config, state.domain.key).key else m.key)
        tiles.append(dcc.Link(metric_tile(rows.get(m.key), m, lang), href=link,
                              className="selected" if m.key == state.metric.key else ""))
    return html.Div(tiles, className="tile-grid drill-tiles", id="domain-tiles")


def _main_chart(config: Config, db, state: State_, entities: list[str], alerts: pd.DataFrame, sites: pd.DataFrame,
                lang: str) -> html.Section:
    metric, window, tz = state.metric, state.window, config.settings.ui.timezone
    area_name = config.areas[state.area][0].name.get(lang)
    title = t("domain.chart", lang, metric=metric.label.get(lang), area=area_name)
    bucket = _drill.bucket_for(window, metric)
    ents = [e for e in entities if metric.key in config.entity_metrics(e)]
    if has_site_levels(config, metric, ents):
        body = _multiples(config, db, metric, ents, window, alerts, sites, lang, "main")
    else:
        start = _drill.aligned(window.start, bucket)
        df = None
        if db is not None and ents:
            root = state.area == config.region.region.code
            df = queries.metric_series(db, metric.key, start, window.end, bucket, metric.aggregation,
                                       entities=None if root else ents)
        mine = sites[sites["metric"] == metric.key] if not sites.empty else sites
        stale = not mine.empty and bool(mine["stale"].astype(bool).all())
        fig = series_spec(df, metric, lang, tz, window.start, window.end, height=260, stale=stale)
        marks = _drill.alert_marks(config, alerts, metric.key, ents, lang)
        add_alert_bands(fig, marks, window.start, window.end, tz, lang)
        body = [_graph("main-chart", fig, clickable=False)]
    return _section(title, body, _drill.bucket_note(bucket, lang), id="domain-chart", **{"data-metric": metric.key})


def _not_found(config: Config, key: str, lang: str, lang_param: str | None) -> html.Div:
    links = [html.Li(dcc.Link(d.name.get(lang), href=_drill.href(f"/domain/{d.key}", {"lang": lang_param})))
             for d in _readable(config)]
    return html.Div([html.P(t("domain.unknown", lang, value=key), className="alert alert-warning"),
                     html.Ul(links, className="domain-choices")], className="drill-page", id="domain-page",
                    **{"data-domain": ""})


def layout(domain: str | None = None, ui_lang: str | None = None, lang: str | None = None, area: str | None = None,
           metric: str | None = None, range: str | None = None, **query) -> html.Div:  # noqa: A002 (URL name)
    config, db = current_context()
    lang_param = lang
    lang = resolve_lang(lang, ui_lang, config)
    now = datetime.now(UTC)
    state = parse_state(config, domain or "", area, metric, range, query.get("from"), query.get("to"), lang_param,
                        now)
    if state is None or state.domain not in _readable(config):  # another officer's domain: as if unknown
        return _not_found(config, domain or "", lang, lang_param)
    d, tz = state.domain, config.settings.ui.timezone
    root = config.region.region.code
    children = config.child_areas(state.area)
    leaf = not children
    entities = domain_entities(config, d.key, state.area)
    metrics = domain_metrics(config, d.key)
    sites = pd.DataFrame(columns=["entity", "area", "domain", "metric", "ts", "value", "age_s", "stale", "status"])
    alerts = pd.DataFrame(columns=alert_queries.HISTORY_COLUMNS)
    if db is not None and entities:
        sites = queries.site_status(db, config, now, [m.key for m in metrics], entities)
        alerts = alert_queries.alert_history(db, state.window.start, state.window.end, domain=d.key)

    def area_link(code: str) -> str:
        return _drill.href(f"/domain/{d.key}", state.params, area=None if code == root else code)

    crumbs = [dcc.Link(d.name.get(lang), href=area_link(root), className="crumb crumb-domain"),
              html.Span("›", className="crumb-sep"), *_drill.area_crumbs(config, state.area, lang, area_link)]
    notices = [html.Div(t(k, lang, value=v), className="alert alert-warning py-1 drill-notice", role="status")
               for k, v in state.notices]
    metric_options = [{"label": m.label.get(lang), "value": m.key} for m in metrics]
    area_frame = queries.area_status(config, sites, state.area)
    map_figure = area_map(config, area_frame, site_points(config, sites), lang, height=400)
    if leaf:
        bars = _graph("bars", bar_figure(site_bars(config, sites, state.metric, lang), state.metric, lang, "entity",
                                         thresholds=not has_site_levels(config, state.metric, entities)))
        bars_title = t("domain.by_site", lang, metric=state.metric.label.get(lang))
    else:
        bars = _graph("bars", bar_figure(area_bars(config, sites, state.metric, state.area, lang), state.metric, lang,
                                         "area"))
        bars_title = t("domain.by_area", lang, metric=state.metric.label.get(lang))
    # A view left out because the page's bars show the same thing still says what it says (school days...).
    bar_notes = [n for v in VIEWS.get(d.key, ()) if v.metric == state.metric.key and not _view_entities(
        config, state, v, leaf) for n in _view_notes(config, state, v, lang)]
    # Views render in their own callbacks (one request each, in parallel) once the page is shown.
    args = {"domain": d.key, **state.params, "lang": lang}
    views = [html.Div([dcc.Store(id={"type": "domain-view-args", "view": v.metric}, data={**args, "view": v.metric}),
                       html.Div(id={"type": "domain-view", "view": v.metric}, className="drill-view-body")],
                      className="drill-view", **{"data-view": v.metric, "data-show": v.show})
             for v in VIEWS.get(d.key, ()) if _view_entities(config, state, v, leaf)]
    rows = site_rows(config, entities, sites, state.metric, lang)
    return html.Div([
        html.Div(id="domain-nav", hidden=True),
        dcc.Store(id="domain-paths", data={"domain": dash.get_relative_path(f"/domain/{d.key}"),
                                           "entity": dash.get_relative_path("/entity/")}),
        html.Div([html.H1(d.name.get(lang), className="page-title h4 mb-0", id="domain-title"),
                  html.Span(format_time(now, lang, tz, "datetime"), className="page-refreshed text-body-secondary")],
                 className="page-head"),
        html.Nav(crumbs, className="drill-crumbs", id="domain-crumbs", **{"aria-label": t("domain.col.area", lang)}),
        *notices,
        html.Div([
            _drill.range_controls(PREFIX, state.window, lang, tz),
            html.Div([html.Span(t("domain.metric", lang), className="drill-label"),
                      dcc.Dropdown(id="domain-metric", options=metric_options, value=state.metric.key,
                                   clearable=False, className="drill-metric")], className="drill-controls"),
        ], className="drill-filters"),
        _tiles(config, db, state, entities, now, lang),
        html.Div([
            html.Div(_section(t("domain.map", lang), [_graph("map", map_figure)], t("domain.map_hint", lang),
                              id="domain-map"), className="col-xl-5"),
            html.Div([
                _main_chart(config, db, state, entities, alerts, sites, lang),
                _section(bars_title, [bars, *bar_notes], t("domain.bars_hint", lang), id="domain-bars"),
            ], className="col-xl-7"),
        ], className="row g-3"),
        html.Div([html.H2(t("domain.views", lang), className="h5 mt-2"), html.Div(views, className="drill-views")],
                 id="domain-views", hidden=not views),
        _section(t("domain.sites", lang), [
            html.Button(t("domain.export", lang), id="domain-export",
                        className="btn btn-sm btn-outline-secondary mb-2"),
            data_grid("domain-grid", rows, site_columns(state.metric, lang), t("domain.empty", lang),
                      f"ioc-{d.key}-{state.area}.csv", class_name="drill-grid", height="420px", lang=lang),
        ], id="domain-sites"),
    ], className="drill-page domain-page", id="domain-page",
        **{"data-domain": d.key, "data-area": state.area, "data-metric": state.metric.key,
           "data-range": state.window.key, "data-lang": lang})


# --- callbacks: every control changes the URL; the page renders from it -------------------------

clientside_callback(_drill.RANGE_JS, Output("domain-range", "className"), Input("domain-range", "value"),
                    Input("domain-apply", "n_clicks"), State("domain-from", "value"), State("domain-to", "value"),
                    prevent_initial_call=True)

clientside_callback(
    """
    function(metric) {
        window.iocDrill.go(null, {metric: metric}, true);
        return window.dash_clientside.no_update;
    }
    """,
    Output("domain-metric", "className"), Input("domain-metric", "value"), prevent_initial_call=True)

# A click on an area (map marker, bar) drills into it; on a site (map point, bar, table row) opens its page.
clientside_callback(
    """
    function(clicks, cell, paths) {
        const trig = (window.dash_clientside.callback_context.triggered || [])[0];
        if (!trig || !trig.value) { return window.dash_clientside.no_update; }
        let target = null;
        if (trig.prop_id.startsWith("domain-grid.")) {
            target = ["entity", trig.value.rowId];
        } else {
            const point = (trig.value.points || [])[0];
            target = point && point.customdata;
        }
        if (!target || !target[1]) { return window.dash_clientside.no_update; }
        if (target[0] === "area") {
            window.iocDrill.go(paths.domain, {area: target[1]}, true);
        } else if (target[0] === "entity") {
            const q = new URLSearchParams(window.location.search);
            window.iocDrill.go(paths.entity + encodeURIComponent(target[1]),
                               {range: q.get("range"), from: q.get("from"), to: q.get("to")}, false);
        }
        return window.dash_clientside.no_update;
    }
    """,
    Output("domain-nav", "title"),
    Input({"type": "drill-click", "key": ALL}, "clickData"), Input("domain-grid", "cellClicked"),
    State("domain-paths", "data"), prevent_initial_call=True)


def view_body(args: dict) -> html.Section | None:
    """One focus view for the page state in `args` (the layout's domain-view-args store)."""
    config, db = current_context()
    now = datetime.now(UTC)
    state = parse_state(config, args.get("domain", ""), args.get("area"), args.get("metric"), args.get("range"),
                        args.get("from"), args.get("to"), None, now)
    if state is None or state.domain not in _readable(config):
        return None
    view = next((v for v in VIEWS.get(state.domain.key, ()) if v.metric == args.get("view")), None)
    if view is None:
        return None
    lang = args.get("lang") if args.get("lang") in ("vi", "en") else config.settings.ui.language
    leaf = not config.child_areas(state.area)
    entities = _view_entities(config, state, view, leaf)
    sites = pd.DataFrame(columns=["entity", "area", "domain", "metric", "ts", "value", "age_s", "stale", "status"])
    alerts = pd.DataFrame(columns=alert_queries.HISTORY_COLUMNS)
    if db is not None and entities:
        sites = queries.site_status(db, config, now, [view.metric], entities)
        if view.show == "levels":
            alerts = alert_queries.alert_history(db, state.window.start, state.window.end, domain=state.domain.key)
    return _view(config, db, state, view, sites, alerts, lang, leaf)


@callback(Output({"type": "domain-view", "view": MATCH}, "children"),
          Input({"type": "domain-view-args", "view": MATCH}, "data"))
def render_view(args):
    return view_body(args if isinstance(args, dict) else {})  # a store comes back from the browser


@callback(Output("domain-grid", "exportDataAsCsv"), Input("domain-export", "n_clicks"), prevent_initial_call=True)
def export_sites(_n):
    return True

