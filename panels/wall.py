"""/wall — the unattended wall screen (1920×1080 and 3840×2160, read from 5 m).

Kiosk: no navbar, no controls, no scrollbars, nothing that needs hovering; dark theme; sizes in viewport
units so both resolutions fill the screen. Shows per-domain tiles (value, trend, sparkline, status,
stale badge), the map coloured by each area's worst status, a banner of critical and new alerts, the
feeds' health, a clock.

One Interval (`ui.wall.refresh`, 4 s: within 5 s end to end) refreshes everything in one callback
(panels/_wall.py `render`). A playlist
(`ui.wall.views`/`interval`, or `?views=domain:health,area:LGI&interval=20`) rotates views in the browser;
a domain view shows its tiles bigger with charts, an area view the same wall for one area's entities.
When refreshes stop, a browser-side watchdog covers the screen with "server unreachable" and how long,
and clears it at the first refresh that gets through.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dash
from dash import Input, Output, State, callback, clientside_callback, dcc, html

from ioc.i18n import normalize_lang, t
from ioc.web import current_context, page_refusal, resolve_lang
from panels._components import register_watchdog, watchdog
from panels._figures import GRAPH_CONFIG
from panels._wall import playlist, refreshed_text, render, render_shared, screen_scale, view_title

dash.register_page(__name__, path="/wall", name=t("nav.wall", "vi"), nav_key="nav.wall", theme="dark", kiosk=True,
                   access="wall", order=5, title=f"{t('wall.title', 'vi')} · {t('app.title', 'vi')}")


def _refresh_ms(config) -> int:
    return max(1000, int(config.settings.ui.wall.refresh.total_seconds() * 1000))


def _position(views: list[str], index: int, interval_s: int, lang: str) -> str:
    if len(views) < 2:
        return ""
    return " · ".join((t("wall.view.position", lang, i=index + 1, n=len(views)),
                       t("wall.view.next", lang, seconds=interval_s)))


def _status_line(config, lang: str, now: datetime, notes: list[str], failed: bool) -> list:
    parts = [html.Span(refreshed_text(config, lang, now), className="wall-refreshed")]
    if failed:
        parts.append(html.Span(t("wall.error", lang), className="wall-note wall-error"))
    parts += [html.Span(note, className="wall-note") for note in notes]
    return parts


def layout(ui_lang: str | None = None, lang: str | None = None, views: str | None = None,
           interval: str | None = None, **_query) -> html.Div:
    config, db = current_context()
    lang = resolve_lang(lang, ui_lang, config)
    if (refusal := page_refusal(__name__, lang)) is not None:
        return refusal
    plan = playlist(config, views, interval, lang)
    now = datetime.now(UTC)
    shown = render(config, db, plan.views[0], lang, now)
    refresh_ms = _refresh_ms(config)
    return html.Div(
        [
            dcc.Store(id="wall-lang", data=lang),
            dcc.Store(id="wall-plan", data={"views": plan.views, "interval_s": plan.interval_s, "notes": plan.notes}),
            dcc.Store(id="wall-view", data=0),
            dcc.Store(id="wall-screen"),
            dcc.Store(id="wall-map-key", data=shown.map_key),
            dcc.Interval(id="wall-tick", interval=refresh_ms),
            dcc.Interval(id="wall-rotate", interval=plan.interval_s * 1000, disabled=len(plan.views) < 2),
            *watchdog("wall", refresh_ms, lang, "wall", now.timestamp()),
            html.Header(
                [
                    html.Div(
                        [
                            html.Div(t("app.title", lang), className="wall-brand"),
                            html.Div(view_title(config, plan.views[0], lang), id="wall-view-title",
                                     className="wall-view-title"),
                            html.Div(_position(plan.views, 0, plan.interval_s, lang), id="wall-view-pos",
                                     className="wall-view-pos"),
                        ],
                        className="wall-head-left",
                    ),
                    html.Div(html.Div(id="wall-progress-bar", className="wall-progress-bar run-a",
                                      style={"animationDuration": f"{plan.interval_s}s"}),
                             className="wall-progress", hidden=len(plan.views) < 2),
                    html.Div([html.Div(id="wall-time", className="wall-time"),
                              html.Div(id="wall-date", className="wall-date")], className="wall-clock"),
                ],
                className="wall-head",
            ),
            html.Div(shown.banner, id="wall-banner", className=shown.banner_class, role="status",
                     **{"aria-live": "polite"}),
            html.Div(
                [
                    html.Div(shown.body, id="wall-body", className=f"wall-body view-{plan.views[0].split(':')[0]}"),
                    html.Div(
                        [html.Div(shown.map_title, id="wall-map-title", className="wall-map-title"),
                         dcc.Graph(id="wall-map", figure=shown.map_figure, config={**GRAPH_CONFIG, "staticPlot": True},
                                   className="wall-map"),
                         html.Div(shown.areas, id="wall-areas", className="wall-areas")],
                        className="wall-map-box",
                    ),
                ],
                className="wall-main",
            ),
            html.Footer(
                [html.Div(shown.health, id="wall-health", className="wall-health"),
                 html.Div(_status_line(config, lang, now, plan.notes, shown.failed), id="wall-status",
                          className="wall-status")],
                className="wall-foot",
            ),
            html.Div(
                [html.Div(t("wall.offline", lang), className="wall-offline-title"),
                 html.Div(id="wall-offline-for", className="wall-offline-for"),
                 html.Div(t("wall.offline.note", lang), className="wall-offline-note")],
                id="wall-offline", className="wall-offline", role="alert",
            ),
        ],
        id="wall",
        className="wall",
    )


def _interval(plan: dict) -> int:
    value = plan.get("interval_s")
    return int(value) if isinstance(value, int | float) and 1 <= value <= 86400 else 30


@callback(
    Output("wall-body", "children"),
    Output("wall-body", "className"),
    Output("wall-map", "figure"),
    Output("wall-map-key", "data"),
    Output("wall-map-title", "children"),
    Output("wall-areas", "children"),
    Output("wall-banner", "children"),
    Output("wall-banner", "className"),
    Output("wall-health", "children"),
    Output("wall-status", "children"),
    Output("wall-view-title", "children"),
    Output("wall-view-pos", "children"),
    Output("wall-heartbeat", "data"),
    Input("wall-tick", "n_intervals"),
    Input("wall-view", "data"),
    Input("wall-screen", "data"),
    State("wall-lang", "data"),
    State("wall-plan", "data"),
    State("wall-map-key", "data"),
    prevent_initial_call=True,
)
def refresh(_n, index, screen, lang, plan, map_key):
    config, db = current_context()
    lang = normalize_lang(lang, config.settings.ui.language)
    plan = plan if isinstance(plan, dict) else {}  # stores come back from the browser: check their shape
    index = index if isinstance(index, int) and not isinstance(index, bool) else 0
    views = [v for v in plan.get("views") or [] if isinstance(v, str)] or ["overview"]
    view = views[index % len(views)]
    if view.partition(":")[0] not in ("overview", "domain", "area") or (
            view != "overview" and view.partition(":")[2] not in {**config.domains, **config.areas}):
        view = "overview"  # the store came back from the browser: never trust it to name a real view
    now = datetime.now(UTC)
    shown = render_shared(config, db, view, lang, screen_scale(screen), map_key)
    return (
        shown.body,
        f"wall-body view-{view.partition(':')[0]}",
        shown.map_figure if shown.map_figure is not None else dash.no_update,
        shown.map_key,
        shown.map_title,
        shown.areas,
        shown.banner,
        shown.banner_class,
        shown.health,
        _status_line(config, lang, now, [n for n in plan.get("notes") or [] if isinstance(n, str)], shown.failed),
        view_title(config, view, lang),
        _position(views, index % len(views), _interval(plan), lang),
        now.timestamp(),
    )


# The viewport, once: map markers and chart text scale with it (4K gets twice the pixels of 1080p).
clientside_callback(
    "function(id) { return {h: window.innerHeight, w: window.innerWidth}; }",
    Output("wall-screen", "data"), Input("wall", "id"),
)

# The playlist turns in the browser; the progress bar restarts its animation on every turn.
clientside_callback(
    """
    function(n, plan) {
        const views = (plan && plan.views) || ["overview"];
        return [(n || 0) % views.length, "wall-progress-bar run-" + ((n || 0) % 2 ? "b" : "a")];
    }
    """,
    Output("wall-view", "data"), Output("wall-progress-bar", "className"),
    Input("wall-rotate", "n_intervals"), State("wall-plan", "data"),
    prevent_initial_call=True,
)

# Big clock and date, local time of the configured zone, from the shell's 1 s tick.
clientside_callback(
    """
    function(n, lang, cfg) {
        const tz = (cfg && cfg.tz) || "Asia/Ho_Chi_Minh";
        const locale = lang === "en" ? "en-GB" : "vi-VN";
        const now = new Date();
        try {
            const time = new Intl.DateTimeFormat(locale, {timeZone: tz, hour: "2-digit", minute: "2-digit",
                hour12: false}).format(now);
            const date = new Intl.DateTimeFormat(locale, {timeZone: tz, weekday: "long", day: "2-digit",
                month: "2-digit", year: "numeric"}).format(now);
            return [time, date];
        } catch (e) {
            return [now.toISOString().slice(11, 16), now.toISOString().slice(0, 10)];
        }
    }
    """,
    Output("wall-time", "children"), Output("wall-date", "children"),
    Input("clock-tick", "n_intervals"), State("wall-lang", "data"), State("ui-config", "data"),
)

register_watchdog("wall", "wall", "wall-offline-for")
