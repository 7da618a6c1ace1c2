"""The Dash application: a shell (navbar, language toggle, clock) around the pages in panels/.

Air-gapped: Dash serves its own JavaScript (serve_locally), Bootstrap and the font are vendored in
assets/, and nothing in the page asks another host for anything.

Usage (the runtime serves it with waitress):
    app = create_app(config, runtime)
    server = app.server

Pages see the data through `current_context()`: the config and database of the runtime the app was
created for (an app created without one shows every metric as "no data").
Page options read by the shell, passed to `dash.register_page(...)`:
    nav_key="nav.xxx"   i18n key of the navbar label (else `name` is shown)
    nav=False           keep the page out of the navbar
    theme="dark"        the page turns on the dark wall theme (body class `theme-dark`)
    kiosk=True          unattended screen: no navbar, no scrollbars (body class `kiosk`; `?kiosk=0` shows the navbar)
    nav_menu=f          a templated page shown as a menu: f(config, lang) -> [(label, href), ...]
    nav_group="system"  pages of a group share one dropdown (label: i18n "nav.group.<group>")
A page's layout(**kwargs) receives the URL query (e.g. `lang`) and `ui_lang` (the stored choice);
`resolve_lang(lang, ui_lang)` gives the language to render. Every layout first returns
`page_refusal(__name__, lang)` when that is not None: the role is checked again where the data is read.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

import dash
from dash import Input, Output, State, dcc, html

from ioc import alert_queries
from ioc.auth import User
from ioc.auth.http import SESSION_CSRF, Auth, current_user
from ioc.config import Config
from ioc.http_guard import guard_callbacks
from ioc.i18n import DEFAULT_LANG, format_time, normalize_lang, t

if TYPE_CHECKING:
    from ioc.models import Batch
    from ioc.runtime import Runtime

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
PANELS_DIR = ROOT / "panels"
ASSETS_DIR = ROOT / "assets"
CONFIG_KEY = "IOC_CONFIG"
RUNTIME_KEY = "IOC_RUNTIME"

# Dash's dev tools ask plotly.com for the latest version; an air-gapped product never does.
os.environ.setdefault("DASH_DISABLE_VERSION_CHECK", "true")

_INDEX = """<!DOCTYPE html>
<html lang="{lang}">
    <head>
        {{%metas%}}
        <title>{{%title%}}</title>
        {{%favicon%}}
        {{%css%}}
    </head>
    <body class="theme-light">
        {{%app_entry%}}
        <footer>
            {{%config%}}
            {{%scripts%}}
            {{%renderer%}}
        </footer>
    </body>
</html>"""


# --- context for pages ----------------------------------------------------------------------

def current_context() -> tuple[Config, Any]:
    """(config, db) for a page or a callback, from the app serving the request.

    db None means "no storage": pages then show every metric as "no data" rather than failing.
    """
    import flask

    runtime = flask.current_app.config[RUNTIME_KEY]
    return flask.current_app.config[CONFIG_KEY], runtime.db if runtime is not None else None


def current_runtime() -> Runtime | None:
    """The runtime behind the app serving this request (None for an app made without one)."""
    import flask

    return flask.current_app.config[RUNTIME_KEY]


def current_submit() -> Callable[[Batch], None] | None:
    """Where the pages' actions hand what people enter (the runtime's writer); None without storage."""
    runtime = current_runtime()
    return runtime.writer.submit if runtime is not None and runtime.writer is not None else None


def readable_domains(requested: str | list[str] | None = None) -> list[str] | None:
    """The domains this request may read, narrowed to `requested`: None means "all, unfiltered".
    An officer always gets a list (their own domains, or the requested ones among them)."""
    user = current_user()
    wanted = [requested] if isinstance(requested, str) else requested
    if user is None or user.role != "officer":
        return wanted or None
    return [d for d in (wanted or user.domains) if user.can_read(d)]


def page_refusal(module: str, lang: str) -> html.Div | None:
    """Called first in every page's layout: None when this request's user may open the page `module`
    registered (its declared `access`), else what to show instead. The gate in ioc.auth.http decides on
    the same page before the layout runs; this is the second lock, should a path ever reach a layout the
    gate did not expect. An app made without storage has no users and no data: nothing to guard."""
    import flask

    if flask.current_app.config.get(RUNTIME_KEY) is None or flask.current_app.config[RUNTIME_KEY].db is None:
        return None
    page = dash.page_registry.get(module) or {}
    user = current_user()
    if user is not None and user.may(page.get("access", "admin")):
        return None
    log.warning("layout of %s refused for %s", module, user.username if user else "nobody")
    return html.Div(t("auth.forbidden", lang), className="alert alert-warning page-refused", role="alert")


def resolve_lang(query_lang: str | None, stored_lang: str | None, config: Config | None = None) -> str:
    """The URL's ?lang= wins, then the stored choice, then the configured default."""
    default = config.settings.ui.language if config is not None else DEFAULT_LANG
    for candidate in (query_lang, stored_lang):
        if isinstance(candidate, str) and candidate.strip().lower() in ("vi", "en"):
            return candidate.strip().lower()
    return normalize_lang(default)


def _query(search: str | None) -> dict[str, str]:
    parsed = parse_qs((search or "").lstrip("?"), keep_blank_values=True)
    return {key: values[-1] for key, values in parsed.items()}


# --- navbar ---------------------------------------------------------------------------------

def page_label(page: dict, lang: str) -> str:
    """A registry entry's navbar label in `lang`: its nav_key message, a {vi, en} label, or its name."""
    if page.get("nav_key"):
        return t(page["nav_key"], lang)
    label = page.get("label")
    if isinstance(label, dict):
        return label.get(lang) or label.get("vi") or page["name"]
    if hasattr(label, "get") and callable(label.get):
        return label.get(lang)
    return page["name"]


def nav_pages(user: User | None = None) -> list[dict]:
    """Pages shown in the navbar, by `order` then name: not hidden, not templated (those need arguments)
    unless they give a menu of their instances (`nav_menu`), and only those the user may open."""
    pages = [
        p for p in dash.page_registry.values()
        if p.get("nav", True) is not False and (not p.get("path_template") or p.get("nav_menu"))
        and (user is None or user.may(p.get("access", "admin")))
    ]

    def key(p: dict) -> tuple:
        order = p.get("order")
        numeric = isinstance(order, int | float)
        return (not numeric, order if numeric else 0, str(p.get("name", "")))

    return sorted(pages, key=key)


def _dropdown(label: str, entries: list[tuple[str, str]], pathname: str | None, active: bool,
              data_page: str) -> html.Li:
    """A navbar dropdown (<details>: no script needed) of (label, href) entries."""
    return html.Li(
        html.Details([
            html.Summary(label, className="nav-link active" if active else "nav-link"),
            html.Ul([html.Li(dcc.Link(text, href=dash.get_relative_path(href), className="dropdown-item"),
                             **({"aria-current": "page"} if pathname == href else {}))
                     for text, href in entries], className="nav-menu-list list-unstyled"),
        ], className="nav-menu"),
        className="nav-item", **{"data-page": data_page},
    )


def _nav_menu(page: dict, pathname: str | None, lang: str, config: Config | None) -> html.Li:
    """A templated page's instances as a dropdown."""
    prefix = page["path_template"].split("<", 1)[0]
    entries = page["nav_menu"](config, lang) if config is not None else []
    return _dropdown(page_label(page, lang), entries, pathname, bool(pathname) and pathname.startswith(prefix),
                     page["path"])


def nav_links(pathname: str | None, lang: str, config: Config | None = None) -> list:
    items = []
    grouped: dict[str, list[dict]] = {}
    for page in nav_pages(current_user()):
        if page.get("nav_group"):  # shown together in one dropdown, where the group's first page stands
            if page["nav_group"] not in grouped:
                items.append(page["nav_group"])
            grouped.setdefault(page["nav_group"], []).append(page)
            continue
        if page.get("nav_menu"):
            items.append(_nav_menu(page, pathname, lang, config))
            continue
        href = page.get("relative_path") or page["path"]
        active = pathname == href or (pathname in (None, "") and page["path"] == "/")
        items.append(
            html.Li(
                dcc.Link(page_label(page, lang), href=href,
                         className="nav-link active" if active else "nav-link"),
                className="nav-item",
                **{"data-page": page["path"], **({"aria-current": "page"} if active else {})},
            )
        )
    return [_dropdown(t(f"nav.group.{item}", lang),
                      [(page_label(p, lang), p.get("relative_path") or p["path"]) for p in grouped[item]],
                      pathname, any(pathname == p["path"] for p in grouped[item]), f"group:{item}")
            if isinstance(item, str) else item for item in items]


def lang_hrefs(search: str | None) -> tuple[str, str]:
    """Links for the VI / EN toggle: the current query with lang replaced (other parameters kept)."""
    params = _query(search)
    hrefs = []
    for code in ("vi", "en"):
        params["lang"] = code
        hrefs.append("?" + urlencode(params))
    return hrefs[0], hrefs[1]


# --- shell ----------------------------------------------------------------------------------

def _themes() -> dict[str, str]:
    return {
        (p.get("relative_path") or p["path"]): p["theme"]
        for p in dash.page_registry.values() if p.get("theme")
    }


def _kiosks() -> list[str]:
    return [(p.get("relative_path") or p["path"]) for p in dash.page_registry.values() if p.get("kiosk")]


def _lang_button_class(code: str, lang: str) -> str:
    return "btn btn-sm lang-btn" + (" active" if code == lang else "")


def shell_layout(config: Config) -> html.Div:
    lang = normalize_lang(config.settings.ui.language)
    tz = config.settings.ui.timezone
    vi_href, en_href = lang_hrefs("")
    return html.Div(
        [
            dcc.Location(id="url", refresh=False),
            dcc.Store(id="lang", storage_type="local"),
            dcc.Store(id="lang-effective", data=lang),
            dcc.Store(id="ui-config", data={"tz": tz, "default_lang": lang, "themes": _themes(),
                                                     "kiosks": _kiosks()}),
            dcc.Interval(id="clock-tick", interval=1000),
            html.Div(id="shell-dummy", hidden=True),
            html.Nav(
                html.Div(
                    [
                        dcc.Link(
                            [
                                html.Span(t("app.title", lang), className="brand-title", id="brand-title"),
                                html.Span(t("app.subtitle", lang), className="brand-subtitle",
                                          id="brand-subtitle"),
                            ],
                            href=dash.get_relative_path("/"),
                            className="navbar-brand ioc-brand",
                        ),
                        html.Ul(nav_links(None, lang, config), id="nav-links", className="navbar-nav me-auto"),
                        dcc.Link(id="alert-badge", href=dash.get_relative_path("/alerts"),
                                 className="alert-badge alert-badge-none", children=""),
                        html.Button("♪", id="alert-sound", n_clicks=0, className="btn btn-sm alert-sound",
                                    title=t("badge.sound", lang)),
                        dcc.Store(id="alert-sound-on", storage_type="local", data=False),
                        dcc.Store(id="alert-critical-seen", data=None),
                        dcc.Interval(id="alert-badge-tick", interval=int(config.settings.ui.refresh.total_seconds()
                                                                          * 1000)),
                        html.Div(
                            format_time(datetime.now(UTC), lang, tz, "datetime"),
                            id="clock", className="ioc-clock", title=t("nav.clock", lang),
                        ),
                        _user_menu(lang),
                        html.Div(
                            [
                                dcc.Link(t("lang.vi", lang), href=vi_href, id="lang-vi",
                                         className=_lang_button_class("vi", lang),
                                         title=t("lang.vi.long", lang)),
                                dcc.Link(t("lang.en", lang), href=en_href, id="lang-en",
                                         className=_lang_button_class("en", lang),
                                         title=t("lang.en.long", lang)),
                            ],
                            className="btn-group lang-toggle", role="group", id="lang-toggle",
                            **{"aria-label": t("nav.language", lang)},
                        ),
                    ],
                    className="container-fluid",
                ),
                className="navbar navbar-expand ioc-navbar",
            ),
            html.Main(dash.page_container, className="ioc-main container-fluid"),
        ],
        id="app-shell",
        className="app-shell",
    )


def _user_menu(lang: str) -> html.Div:
    """Who is signed in, and a sign-out form (a POST carrying the session's CSRF token)."""
    import flask

    user = current_user()
    if user is None:
        return html.Div(id="user-menu", hidden=True)
    return html.Div(
        [
            html.Span(user.display_name, className="user-name", id="user-name",
                      title=t(f"auth.role.{user.role}", lang)),
            html.Form(
                [dcc.Input(type="hidden", name="csrf_token", value=flask.session.get(SESSION_CSRF, "")),
                 html.Button(t("auth.sign_out", lang), type="submit", className="btn btn-sm sign-out",
                             id="sign-out")],
                method="POST", action="/logout", className="d-inline"),
        ],
        id="user-menu", className="user-menu",
    )


_CLOCK_JS = """
function(n, lang, cfg) {
    const tz = (cfg && cfg.tz) || "Asia/Ho_Chi_Minh";
    const locale = lang === "en" ? "en-GB" : "vi-VN";
    const now = new Date();
    try {
        const time = new Intl.DateTimeFormat(locale, {timeZone: tz, hour: "2-digit", minute: "2-digit",
            second: "2-digit", hour12: false}).format(now);
        const date = new Intl.DateTimeFormat(locale, {timeZone: tz, weekday: "short", day: "2-digit",
            month: "2-digit", year: "numeric"}).format(now);
        return time + " · " + date;
    } catch (e) {
        return now.toISOString();
    }
}
"""

_LANG_SYNC_JS = """
function(search, stored) {
    const lang = new URLSearchParams(search || "").get("lang");
    if ((lang === "vi" || lang === "en") && lang !== stored) { return lang; }
    return window.dash_clientside.no_update;
}
"""

_THEME_JS = """
function(pathname, search, lang, cfg) {
    const themes = (cfg && cfg.themes) || {};
    const q = new URLSearchParams(search || "").get("theme");
    const dark = q === "dark" || (q !== "light" && themes[pathname] === "dark");
    const kiosk = ((cfg && cfg.kiosks) || []).includes(pathname)
        && new URLSearchParams(search || "").get("kiosk") !== "0";
    document.body.classList.toggle("kiosk", kiosk);
    document.body.classList.toggle("theme-dark", dark);
    document.body.classList.toggle("theme-light", !dark);
    document.documentElement.setAttribute("data-bs-theme", dark ? "dark" : "light");
    if (lang) { document.documentElement.setAttribute("lang", lang); }
    return dark ? "dark" : "light";
}
"""


def _register_shell_callbacks(app: dash.Dash, config: Config) -> None:
    app.clientside_callback(_LANG_SYNC_JS, Output("lang", "data"),
                            Input("url", "search"), State("lang", "data"))

    @app.callback(
        Output("nav-links", "children"),
        Output("lang-vi", "href"),
        Output("lang-en", "href"),
        Output("lang-vi", "className"),
        Output("lang-en", "className"),
        Output("lang-vi", "title"),
        Output("lang-en", "title"),
        Output("brand-subtitle", "children"),
        Output("clock", "title"),
        Output("user-menu", "children"),
        Output("lang-effective", "data"),
        Input("url", "pathname"),
        Input("url", "search"),
        Input("lang", "data"),
    )
    def _update_shell(pathname, search, stored):
        lang = resolve_lang(_query(search).get("lang"), stored, config)
        vi_href, en_href = lang_hrefs(search)
        return (
            nav_links(pathname, lang, config),
            vi_href,
            en_href,
            _lang_button_class("vi", lang),
            _lang_button_class("en", lang),
            t("lang.vi.long", lang),
            t("lang.en.long", lang),
            t("app.subtitle", lang),
            t("nav.clock", lang),
            _user_menu(lang).children,  # the sign-out button in the page's language too
            lang,
        )

    @app.callback(
        Output("alert-badge", "children"),
        Output("alert-badge", "className"),
        Output("alert-badge", "title"),
        Output("alert-critical-seen", "data"),
        Input("alert-badge-tick", "n_intervals"),
        Input("lang-effective", "data"),
    )
    def _update_badge(_n, lang):
        lang = normalize_lang(lang, config.settings.ui.language)
        runtime = current_runtime()
        if runtime is None or runtime.db is None:
            return "", "alert-badge alert-badge-none", "", 0
        counts = alert_queries.firing_counts(runtime.db, readable_domains())
        firing, critical, unacked = counts["firing"], counts["critical"], counts["unacknowledged"]
        level = "critical" if critical else "warning" if firing else "none"
        title = t("badge.title", lang, firing=firing, critical=critical, unacked=unacked)
        return (str(firing) if firing else ""), f"alert-badge alert-badge-{level}", title, counts["critical_ids"]

    # Sound is opt-in per screen (browsers allow audio only after a click): a short tone when a critical
    # alert appears that this screen has not seen yet.
    app.clientside_callback(
        """
        function(clicks, on) {
            const enabled = clicks ? !on : !!on;
            return [enabled, "btn btn-sm alert-sound " + (enabled ? "alert-sound-on" : "alert-sound-off")];
        }
        """,
        Output("alert-sound-on", "data"), Output("alert-sound", "className"),
        Input("alert-sound", "n_clicks"), State("alert-sound-on", "data"),
    )
    app.clientside_callback(
        """
        function(ids, on) {
            const seen = window._iocCriticalSeen;
            window._iocCriticalSeen = ids || [];
            if (!on || seen === undefined || !ids) { return window.dash_clientside.no_update; }
            if (ids.some(id => !seen.includes(id))) {
                const ctx = new (window.AudioContext || window.webkitAudioContext)();
                const osc = ctx.createOscillator();
                osc.frequency.value = 880;
                osc.connect(ctx.destination);
                osc.start();
                osc.stop(ctx.currentTime + 0.4);
            }
            return window.dash_clientside.no_update;
        }
        """,
        Output("shell-dummy", "title"),
        Input("alert-critical-seen", "data"), State("alert-sound-on", "data"),
    )

    app.clientside_callback(
        _CLOCK_JS, Output("clock", "children"),
        Input("clock-tick", "n_intervals"), Input("lang-effective", "data"), State("ui-config", "data"),
    )
    app.clientside_callback(
        _THEME_JS, Output("shell-dummy", "children"),
        Input("url", "pathname"), Input("url", "search"), Input("lang-effective", "data"),
        State("ui-config", "data"),
    )


def _drop_duplicate_page_callbacks() -> None:
    """Dash re-imports the page modules for every app; keep one registration per output.

    Page callbacks (`dash.callback`) wait in a process-wide list until an app's first request, so a
    second create_app() before that request (tests) would otherwise hand the browser each twice.
    """
    from dash import _callback

    seen: set[str] = set()
    kept = []
    for item in reversed(_callback.GLOBAL_CALLBACK_LIST):
        if item.get("output") not in seen:
            seen.add(item.get("output"))
            kept.append(item)
    _callback.GLOBAL_CALLBACK_LIST[:] = list(reversed(kept))


def create_app(config: Config, runtime: Runtime | None = None) -> dash.Dash:
    """The Dash app: pages from panels/, assets from assets/, everything served locally."""
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(PANELS_DIR),
        assets_folder=str(ASSETS_DIR),
        serve_locally=True,
        title=t("app.title", "vi"),
        update_title=None,
        suppress_callback_exceptions=True,
        routing_callback_inputs={"ui_lang": Input("lang", "data")},
        external_stylesheets=[],
        external_scripts=[],
    )
    _drop_duplicate_page_callbacks()
    app.server.config[CONFIG_KEY] = config
    app.server.config[RUNTIME_KEY] = runtime
    if runtime is not None and runtime.db is not None:
        Auth(app, runtime.db, config.config_dir, trusted_proxies=config.settings.http.trusted_proxies)
    app.index_string = _INDEX.format(lang=normalize_lang(config.settings.ui.language))
    app.layout = lambda: shell_layout(config)
    _register_shell_callbacks(app, config)
    guard_callbacks(app.server)  # hostile callback input gets a 400 naming the input, not a 500
    return app
