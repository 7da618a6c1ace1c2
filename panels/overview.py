"""Overview: one card per domain with its headline tiles and a live chart of its first headline metric.

Data comes only from ioc.queries (overview, metric_series); builders are in _components/_figures.
Tiles refresh every `ui.refresh`; charts every max(`ui.refresh`, 15 s) (5-minute buckets move slowly).
If no refresh has arrived for 3 periods (server gone, network cut) the page says so and dims itself,
so the last numbers on a wall screen never pass for current ones.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import dash
import pandas as pd
from dash import ALL, Input, Output, State, callback, ctx, dcc, html

from ioc import queries, status
from ioc.config import Config, Metric
from ioc.i18n import format_number, format_time, normalize_lang, t
from ioc.web import current_context, current_user, page_refusal, resolve_lang
from panels._components import (
    FailureLog,
    domain_card,
    domain_card_class,
    domain_summary,
    domain_tiles,
    register_watchdog,
    status_badge,
    tile_rows,
    watchdog,
)
from panels._figures import pick_bucket, series_figure

log = logging.getLogger(__name__)

dash.register_page(
    __name__,
    path="/",
    name=t("nav.overview", "vi"),
    nav_key="nav.overview",
    title=f"{t('nav.overview', 'vi')} · {t('app.title', 'vi')}",
    order=0,
    access="read",
)

CHART_REFRESH_MIN = timedelta(seconds=15)

_failures = FailureLog("overview")


def headline_metrics(config: Config, domain: str) -> list[Metric]:
    """The domain's headline metrics — none when the signed-in user may not read the domain (a crafted
    callback naming another domain's card gets nothing)."""
    user = current_user()
    if user is not None and not user.can_read(domain):
        return []
    return [m for m in config.catalog.metrics if m.domain == domain and m.headline]


def _overview_rows(config: Config, db, now: datetime, lang: str) -> tuple[dict[str, dict], bool]:
    """Rows of queries.overview keyed by metric, and whether loading failed."""
    if db is None:
        return {}, False
    try:
        frame = queries.overview(db, config, now)
    except Exception as exc:  # a refresh must not break the page: show "no data" and say why
        _failures.note("overview", exc)
        return {}, True
    _failures.note("overview", None)
    return tile_rows(config, frame, lang), False


def _chart(config: Config, db, metric: Metric, lang: str, now: datetime, rows: dict[str, pd.Series]):
    ui = config.settings.ui
    bucket = pick_bucket(ui.chart_window, metric.cadence)
    epoch = datetime(2000, 1, 1, tzinfo=UTC)  # same origin as the query's date_bin
    now = status.reporting_until(metric, now)
    start = now - ui.chart_window
    start = epoch + ((start - epoch) // bucket) * bucket
    df = None
    if db is not None:
        try:
            df = queries.metric_series(db, metric.key, start, now, bucket, metric.aggregation)
            _failures.note(f"series {metric.key}", None)
        except Exception as exc:
            _failures.note(f"series {metric.key}", exc)
    row = rows.get(metric.key)
    stale = row is not None and bool(row["stale"])
    return series_figure(df, metric, lang, ui.timezone, start=start, end=now, stale=stale)


def _chart_note(config: Config, lang: str) -> str:
    hours = config.settings.ui.chart_window.total_seconds() / 3600
    return t("overview.chart_window", lang, hours=format_number(hours, lang))


def _refresh_ms(config: Config) -> int:
    return max(1000, int(config.settings.ui.refresh.total_seconds() * 1000))


def _chart_refresh_ms(config: Config) -> int:
    return max(_refresh_ms(config), int(CHART_REFRESH_MIN.total_seconds() * 1000))


def _refreshed_text(config: Config, lang: str, now: datetime) -> str:
    return f"{t('overview.refreshed', lang)} {format_time(now, lang, config.settings.ui.timezone, 'time')}"


def layout(ui_lang: str | None = None, lang: str | None = None, **_query) -> html.Div:
    config, db = current_context()
    lang = resolve_lang(lang, ui_lang, config)
    if (refusal := page_refusal(__name__, lang)) is not None:
        return refusal
    now = datetime.now(UTC)
    rows, failed = _overview_rows(config, db, now, lang)
    note = _chart_note(config, lang)
    cards = []
    user = current_user()
    for domain in config.priority_domains:
        if user is not None and not user.can_read(domain.key):
            continue
        metrics = headline_metrics(config, domain.key)
        figure = _chart(config, db, metrics[0], lang, now, rows) if metrics else None
        cards.append(domain_card(domain, metrics, rows, lang, figure=figure, chart_note=note))
    refresh_ms = _refresh_ms(config)
    return html.Div(
        [
            dcc.Store(id="overview-lang", data=lang),
            *watchdog("overview", refresh_ms, lang, "overview-page", now.timestamp()),
            dcc.Interval(id="overview-tick", interval=refresh_ms),
            dcc.Interval(id="overview-chart-tick", interval=_chart_refresh_ms(config)),
            html.Div(
                [
                    html.H1(t("overview.title", lang), className="page-title h4 mb-0"),
                    html.Span(_refreshed_text(config, lang, now), id="overview-refreshed",
                              className="page-refreshed text-body-secondary"),
                ],
                className="page-head",
            ),
            html.Div(t("overview.error", lang), id="overview-error", role="alert",
                     className="alert alert-warning overview-error", hidden=not failed),
            html.Div([t("overview.offline", lang), " · ", html.Span(id="overview-offline-for")],
                     id="overview-offline", role="alert", className="alert alert-danger overview-offline"),
            html.Div(cards, className="domain-grid"),
        ],
        id="overview-page",
        className="overview-page",
        **{"data-refresh-ms": str(refresh_ms)},
    )


@callback(
    Output({"type": "domain-tiles", "domain": ALL}, "children"),
    Output({"type": "domain-status", "domain": ALL}, "children"),
    Output({"type": "domain-card", "domain": ALL}, "className"),
    Output("overview-refreshed", "children"),
    Output("overview-error", "hidden"),
    Output("overview-heartbeat", "data"),
    Input("overview-tick", "n_intervals"),
    State("overview-lang", "data"),
    prevent_initial_call=True,
)
def refresh_tiles(_n, lang):
    config, db = current_context()
    lang = normalize_lang(lang, config.settings.ui.language)
    now = datetime.now(UTC)
    rows, failed = _overview_rows(config, db, now, lang)
    tiles, badges, classes = [], [], []
    for spec in ctx.outputs_list[0]:
        metrics = headline_metrics(config, spec["id"]["domain"])
        summary = domain_summary(metrics, rows)
        tiles.append(domain_tiles(metrics, rows, lang))
        badges.append(status_badge(summary, lang))
        classes.append(domain_card_class(summary))
    return tiles, badges, classes, _refreshed_text(config, lang, now), not failed, now.timestamp()


@callback(
    Output({"type": "domain-chart", "domain": ALL}, "figure"),
    Input("overview-chart-tick", "n_intervals"),
    State("overview-lang", "data"),
    prevent_initial_call=True,
)
def refresh_charts(_n, lang):
    config, db = current_context()
    lang = normalize_lang(lang, config.settings.ui.language)
    now = datetime.now(UTC)
    rows, _ = _overview_rows(config, db, now, lang)
    figures = []
    for spec in ctx.outputs_list:
        metrics = headline_metrics(config, spec["id"]["domain"])
        figures.append(_chart(config, db, metrics[0], lang, now, rows) if metrics else dash.no_update)
    return figures


# When no tile refresh has arrived for a few periods, the page gets the class `offline` (CSS dims it and
# shows the banner with how long).
register_watchdog("overview", "overview-page", "overview-offline-for")
