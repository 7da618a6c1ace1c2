"""/users — admins manage people (role, domains, active) and wall-screen tokens; every change is audited."""

from __future__ import annotations

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, callback, ctx, dcc, html

from ioc.auth import ROLES
from ioc.auth import store as auth_store
from ioc.i18n import format_time, normalize_lang, t
from ioc.web import current_context, current_user, resolve_lang
from panels._components import GRID_DEFAULTS, grid_locale, selected, text

dash.register_page(__name__, path="/users", name=t("nav.users", "vi"), nav_key="nav.users", order=85,
                   access="admin", nav_group="system",
                   title=f"{t('nav.users', 'vi')} · {t('app.title', 'vi')}")


def _user_rows(config, db, lang: str) -> list[dict]:
    tz = config.settings.ui.timezone
    return [{"username": r["username"], "name": r["display_name"], "role": t(f"auth.role.{r['role']}", lang),
             "domains": ", ".join(config.domains[d].name.get(lang) for d in r["domains"] if d in config.domains),
             "active": t("users.yes" if r["active"] else "users.no", lang),
             "last_login": format_time(r["last_login"], lang, tz) if r["last_login"] is not None
             and r["last_login"] == r["last_login"] else ""}
            for r in auth_store.users(db).to_dict("records")]


def _kiosk_rows(config, db, lang: str) -> list[dict]:
    tz = config.settings.ui.timezone

    def when(value) -> str:
        return format_time(value, lang, tz) if value is not None and value == value else ""

    return [{"id": r["id"], "name": r["name"], "created": when(r["created_at"]), "last_used": when(r["last_used"]),
             "revoked": when(r["revoked_at"])} for r in auth_store.kiosk_tokens(db).to_dict("records")]


def _grid(id_: str, rows: list[dict], fields: list[str], lang: str, row_id: str) -> dag.AgGrid:
    return dag.AgGrid(id=id_, rowData=rows, getRowId=f"params.data.{row_id}",
                      columnDefs=[{"field": f, "headerName": t(f"users.col.{f}", lang)} for f in fields],
                      defaultColDef=GRID_DEFAULTS,
                      dashGridOptions={**grid_locale(lang), "domLayout": "autoHeight",
                                       "rowSelection": {"mode": "singleRow", "checkboxes": False}})


def _field(label: str, control) -> html.Div:
    return html.Div([html.Label(label, className="form-label small mb-1"), control], className="mb-2")


def layout(ui_lang: str | None = None, lang: str | None = None, **_query) -> html.Div:
    config, db = current_context()
    lang = resolve_lang(lang, ui_lang, config)
    if db is None:
        return html.Div()
    roles = [{"label": t(f"auth.role.{r}", lang), "value": r} for r in ROLES]
    domains = [{"label": d.name.get(lang), "value": d.key} for d in config.catalog.domains]
    text = "form-control form-control-sm"
    form = html.Div([
        html.H2(t("users.add", lang), className="h6"),
        _field(t("users.col.username", lang), dcc.Input(id="users-username", maxLength=64, className=text)),
        _field(t("users.col.name", lang), dcc.Input(id="users-name", maxLength=200, className=text)),
        _field(t("users.col.role", lang), dcc.Dropdown(id="users-role", options=roles, value="operator",
                                                       clearable=False)),
        _field(t("users.col.domains", lang), dcc.Dropdown(id="users-domains", options=domains, multi=True)),
        _field(t("auth.password", lang), dcc.Input(id="users-password", type="password", className=text)),
        html.Div([
            html.Button(t("users.add", lang), id="users-add", className="btn btn-sm btn-primary me-2"),
            html.Button(t("users.update", lang), id="users-update", className="btn btn-sm btn-outline-primary me-2"),
            html.Button(t("users.toggle", lang), id="users-toggle", className="btn btn-sm btn-outline-secondary"),
        ]),
        html.Div(id="users-result", className="mt-2", role="status"),
    ], className="users-form")
    kiosk = html.Div([
        html.H2(t("users.kiosk", lang), className="h6 mt-4"),
        html.P(t("users.kiosk_help", lang), className="small text-body-secondary"),
        html.Div([dcc.Input(id="kiosk-name", maxLength=200, className=text, placeholder=t("users.kiosk_name", lang)),
                  html.Button(t("users.kiosk_add", lang), id="kiosk-add", className="btn btn-sm btn-primary ms-2"),
                  html.Button(t("users.kiosk_revoke", lang), id="kiosk-revoke",
                              className="btn btn-sm btn-outline-danger ms-2")], className="d-flex mb-2"),
        html.Div(id="kiosk-result", role="status"),
        _grid("kiosk-grid", _kiosk_rows(config, db, lang), ["id", "name", "created", "last_used", "revoked"],
              lang, "id"),
    ])
    return html.Div([
        dcc.Store(id="users-lang", data=lang),
        html.Div([html.H1(t("users.title", lang), className="page-title h4 mb-0")], className="page-head"),
        html.Div([
            html.Div([_grid("users-grid", _user_rows(config, db, lang),
                            ["username", "name", "role", "domains", "active", "last_login"], lang, "username"),
                      kiosk], className="col-lg-8"),
            html.Div(form, className="col-lg-4"),
        ], className="row g-4"),
    ], className="users-page")


@callback(Output("users-username", "value"), Output("users-name", "value"), Output("users-role", "value"),
          Output("users-domains", "value"), Input("users-grid", "selectedRows"), prevent_initial_call=True)
def pick_user(rows):
    config, db = current_context()
    stored = auth_store.users(db).set_index("username")
    username = selected(rows, "username")
    if username not in stored.index:
        return dash.no_update, dash.no_update, dash.no_update, dash.no_update
    row = stored.loc[username]
    return username, row["display_name"], row["role"], list(row["domains"])


@callback(Output("users-result", "children"), Output("users-grid", "rowData"), Output("users-password", "value"),
          Input("users-add", "n_clicks"), Input("users-update", "n_clicks"), Input("users-toggle", "n_clicks"),
          State("users-username", "value"), State("users-name", "value"), State("users-role", "value"),
          State("users-domains", "value"), State("users-password", "value"), State("users-lang", "data"),
          prevent_initial_call=True)
def change_user(_add, _update, _toggle, username, name, role, domains, password, lang):
    config, db = current_context()
    lang = normalize_lang(lang, config.settings.ui.language)
    actor = current_user().display_name
    username, name, role, password = text(username, 64).lower(), text(name, 200), text(role, 20), text(password)
    domains = [d for d in domains if isinstance(d, str)] if isinstance(domains, list) else []
    try:
        if ctx.triggered_id == "users-add":
            auth_store.add_user(db, username, password, role, domains, name, actor, set(config.domains))
        elif ctx.triggered_id == "users-update":
            auth_store.update_user(db, username, actor, role=role, domains=domains,
                                   password=password or None, known_domains=set(config.domains))
        else:
            active = bool(auth_store.users(db).set_index("username").loc[username, "active"]) \
                if username in set(auth_store.users(db)["username"]) else None
            if active is None:
                raise auth_store.UserError(f"no user '{username}'")
            auth_store.update_user(db, username, actor, active=not active)
    except auth_store.UserError as exc:
        return html.Div(t("users.refused", lang, reason=str(exc)), className="alert alert-danger py-2"), \
            dash.no_update, dash.no_update
    return html.Div(t("users.saved", lang, user=username), className="alert alert-success py-2"), \
        _user_rows(config, db, lang), ""


@callback(Output("kiosk-result", "children"), Output("kiosk-grid", "rowData"),
          Input("kiosk-add", "n_clicks"), Input("kiosk-revoke", "n_clicks"),
          State("kiosk-name", "value"), State("kiosk-grid", "selectedRows"), State("users-lang", "data"),
          prevent_initial_call=True)
def change_kiosk(_add, _revoke, name, rows, lang):
    config, db = current_context()
    lang = normalize_lang(lang, config.settings.ui.language)
    actor = current_user().display_name
    try:
        if ctx.triggered_id == "kiosk-add":
            token = auth_store.create_kiosk_token(db, text(name, 200), actor)
            message = html.Div([t("users.kiosk_created", lang), html.Code(f"/kiosk?token={token}", id="kiosk-url")],
                               className="alert alert-warning py-2")
        else:
            token_id = selected(rows, "id")
            if token_id is None or not token_id.isdigit():
                raise auth_store.UserError(t("users.kiosk_select", lang))
            auth_store.revoke_kiosk_token(db, int(token_id), actor)
            message = html.Div(t("users.kiosk_revoked", lang), className="alert alert-success py-2")
    except auth_store.UserError as exc:
        message = html.Div(t("users.refused", lang, reason=str(exc)), className="alert alert-danger py-2")
    return message, _kiosk_rows(config, db, lang)
