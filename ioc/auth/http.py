"""Sign-in and enforcement on the web server: sessions, login, kiosk tokens, CSRF, security headers, and
the gate every request passes — pages, Dash callbacks and API routes alike.

Callbacks are checked by where they were written: each page declares `access` in its
`dash.register_page(...)`, and a callback defined in a page's module needs that page's access (shell
callbacks in ioc.web need a signed-in user). A callback of a module that declares nothing is refused —
a new page is closed until it says who may see it. Finer checks (an officer's own domains, who may
acknowledge or edit a rule) are made by the pages' data functions and by the actions themselves.
"""

from __future__ import annotations

import html
import logging
import os
import secrets
import threading
import time
from collections import defaultdict, deque
from pathlib import Path
from urllib.parse import urlencode, urlparse

import dash
import flask
from flask.sessions import SecureCookieSessionInterface

from ioc.auth import User
from ioc.auth import store as auth_store
from ioc.i18n import normalize_lang, t

log = logging.getLogger(__name__)

SESSION_USER = "user"
SESSION_CSRF = "csrf"
CSRF_COOKIE = "_csrf_token"  # dash-renderer sends it back as the X-CSRFToken header on every callback
CSRF_HEADER = "X-CSRFToken"
SESSION_HOURS = 12  # one shift
USER_CACHE_SECONDS = 5  # a role change or a disabled account takes effect within this
FAILED_LOGINS_PER_MINUTE = 20  # per client address (guessing across accounts); each account also locks

# Reachable without a session: sign-in, static files, and machine endpoints with their own credentials.
PUBLIC_PREFIXES = ("/login", "/kiosk", "/assets/", "/_dash-component-suites/", "/_favicon.ico", "/healthz",
                   "/metrics", "/api/v1/readings")
STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
DASH_CALLBACK = "/_dash-update-component"


class _Sessions(SecureCookieSessionInterface):
    """Secure cookies whenever the browser allows them: over HTTPS, and on loopback addresses (which
    browsers treat as secure) so that `python app.py` works before a TLS proxy is in front."""

    def get_cookie_secure(self, app: flask.Flask) -> bool:
        if not flask.has_request_context():
            return True
        return flask.request.is_secure or (flask.request.host.split(":")[0] in ("127.0.0.1", "localhost", "[::1]"))


def current_user() -> User | None:
    """The signed-in user of this request (None outside a request or when nobody is signed in)."""
    return flask.g.get("user") if flask.has_request_context() else None


class Auth:
    """Installs sign-in and the gate on a Dash app's Flask server."""

    def __init__(self, app: dash.Dash, db, config_dir: Path, secret_key: str | None = None):
        self.app, self.db = app, db
        server = app.server
        server.secret_key = secret_key or os.environ.get("IOC_SECRET_KEY") or self._ephemeral_key()
        server.session_interface = _Sessions()
        server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                             PERMANENT_SESSION_LIFETIME=SESSION_HOURS * 3600)
        self._users: dict[str, tuple[float, User | None]] = {}
        self._attempts: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._csp: str | None = None
        self._bootstrap_admin(config_dir)
        server.add_url_rule("/login", "ioc_login", self.login, methods=["GET", "POST"])
        server.add_url_rule("/logout", "ioc_logout", self.logout, methods=["POST"])
        server.add_url_rule("/kiosk", "ioc_kiosk", self.kiosk, methods=["GET"])
        server.before_request(self.gate)
        server.after_request(self.headers)

    @staticmethod
    def _ephemeral_key() -> str:
        log.warning("IOC_SECRET_KEY is not set: sessions end when the server restarts and are not shared "
                    "between UI workers")
        return secrets.token_hex(32)

    def _bootstrap_admin(self, config_dir: Path) -> None:
        """A first start has no users: create `admin` with a random password, shown once in the log and
        kept in var/initial-admin-password (readable by the owner only) until changed."""
        if auth_store.count_users(self.db):
            return
        password = os.environ.get("IOC_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        try:
            auth_store.add_user(self.db, "admin", password, "admin", display_name="Admin", actor="bootstrap")
        except auth_store.UserError:
            return  # another process created it first
        if "IOC_ADMIN_PASSWORD" not in os.environ:
            path = config_dir.parent / "var" / "initial-admin-password"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(password + "\n", encoding="utf-8")
            path.chmod(0o600)
            log.warning("created user 'admin' with password %s (also in %s) — change it: "
                        "python app.py users passwd admin", password, path)

    # --- who is asking ---------------------------------------------------------------------------

    def _load(self, username: str) -> User | None:
        now = time.monotonic()
        with self._lock:
            cached = self._users.get(username)
        if cached and cached[0] > now:
            return cached[1]
        if username.startswith("kiosk:"):
            stored = flask.session.get(SESSION_USER) or {}
            user = (User(username, stored.get("name", ""), "kiosk")
                    if auth_store.kiosk_alive(self.db, username) else None)
        else:
            user = auth_store.load_user(self.db, username)
        with self._lock:
            self._users[username] = (now + USER_CACHE_SECONDS, user)
        return user

    def _session_user(self) -> User | None:
        stored = flask.session.get(SESSION_USER)
        if not isinstance(stored, dict) or not isinstance(stored.get("username"), str):
            return None
        return self._load(stored["username"])

    # --- the gate ----------------------------------------------------------------------------------

    def gate(self):
        path = flask.request.path
        flask.g.user = self._session_user()
        if path.startswith(PUBLIC_PREFIXES):
            return None
        user = flask.g.user
        if user is None:
            if flask.request.method == "GET" and not path.startswith("/_dash"):
                return flask.redirect("/login?" + urlencode({"next": _safe_next(flask.request.full_path)}))
            return _deny(401, "auth.required")
        if flask.request.method in STATE_CHANGING and not self._csrf_ok():
            return _deny(403, "auth.csrf")
        if path == DASH_CALLBACK:
            access = self._callback_access(flask.request.get_json(silent=True))
            if access is None or not user.may(access):
                log.warning("refused callback for %s (%s): needs %s", user.username, user.role, access)
                return _deny(403, "auth.forbidden")
        elif user.is_kiosk and flask.request.method == "GET" and not path.startswith("/_dash"):
            page = _page_for(path)
            if page is None or page.get("access") != "wall":
                return flask.redirect("/wall")
        return None

    def _csrf_ok(self) -> bool:
        expected = flask.session.get(SESSION_CSRF)
        sent = flask.request.headers.get(CSRF_HEADER) or flask.request.form.get("csrf_token")
        return bool(expected) and isinstance(sent, str) and secrets.compare_digest(expected, sent)

    def _callback_access(self, body) -> str | None:
        """The access a callback request needs, from the module that defined the callback."""
        if not isinstance(body, dict) or not isinstance(body.get("output"), str):
            return None
        entry = self.app.callback_map.get(body["output"])
        if entry is None:
            return None
        module = getattr(entry.get("callback"), "__module__", "")
        if module == "ioc.web":
            return "wall"  # the shell: clock, language, alert badge
        if module.startswith("dash"):  # the pages router: the page being opened decides
            return _routing_access(body)
        page = dash.page_registry.get(module)
        return page.get("access") if page else None

    # --- responses -------------------------------------------------------------------------------

    def headers(self, response: flask.Response) -> flask.Response:
        response.headers.setdefault("Content-Security-Policy", self._policy())
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if flask.session.get(SESSION_USER) and not flask.request.path.startswith("/_dash-component-suites/"):
            token = flask.session.setdefault(SESSION_CSRF, secrets.token_urlsafe(32))
            response.set_cookie(CSRF_COOKIE, token, secure=_Sessions().get_cookie_secure(flask.current_app),
                                httponly=False, samesite="Strict")
        return response

    def _policy(self) -> str:
        if self._csp is None:
            # Dash's own inline scripts (renderer start, clientside callbacks) are allowed by hash, nothing
            # else inline; React sets style attributes, so styles need 'unsafe-inline'.
            scripts = " ".join(["'self'", *self.app.csp_hashes()])
            self._csp = ("default-src 'self'; script-src " + scripts + "; style-src 'self' 'unsafe-inline'; "
                         "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; "
                         "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
        return self._csp

    # --- routes ----------------------------------------------------------------------------------

    def _failures(self, add: bool = False) -> int:
        """Failed sign-ins from this client address in the last minute (recording one more if `add`)."""
        now = time.monotonic()
        with self._lock:
            recent = self._attempts[flask.request.remote_addr or "?"]
            while recent and now - recent[0] > 60:
                recent.popleft()
            if add:
                recent.append(now)
            return len(recent)

    def login(self):
        lang = normalize_lang(flask.request.args.get("lang") or flask.request.form.get("lang"))
        next_url = _safe_next(flask.request.values.get("next") or "/")
        if flask.request.method == "GET":
            return _login_page(lang, next_url, _new_form_token())
        if not self._csrf_ok():
            return _login_page(lang, next_url, _new_form_token(), t("auth.csrf", lang)), 403
        if self._failures() >= FAILED_LOGINS_PER_MINUTE:
            return _login_page(lang, next_url, _new_form_token(), t("auth.too_many", lang)), 429
        user, outcome = auth_store.authenticate(self.db, flask.request.form.get("username", ""),
                                                flask.request.form.get("password", ""))
        if user is None:
            self._failures(add=True)
            key = "auth.locked" if outcome == "locked" else "auth.invalid"
            return _login_page(lang, next_url, _new_form_token(), t(key, lang)), 401
        self._start_session(user)
        return flask.redirect(next_url)

    def logout(self):
        flask.session.clear()
        response = flask.redirect("/login")
        response.delete_cookie(CSRF_COOKIE)
        return response

    def kiosk(self):
        user = auth_store.kiosk_user(self.db, flask.request.args.get("token", ""))
        if user is None:
            return _deny(401, "auth.kiosk_invalid")
        self._start_session(user)
        query = urlencode({k: v for k, v in flask.request.args.items() if k != "token"})
        return flask.redirect("/wall" + (f"?{query}" if query else ""))

    def _start_session(self, user: User) -> None:
        flask.session.clear()  # a new session id on sign-in: no fixation
        flask.session.permanent = True
        flask.session[SESSION_USER] = {"username": user.username, "name": user.display_name}
        flask.session[SESSION_CSRF] = secrets.token_urlsafe(32)
        with self._lock:
            self._users.pop(user.username, None)


def _new_form_token() -> str:
    return flask.session.setdefault(SESSION_CSRF, secrets.token_urlsafe(32))


def _safe_next(target: str) -> str:
    """Only a path on this server (no scheme, host or protocol-relative `//`): no open redirect."""
    parsed = urlparse(target or "/")
    if parsed.scheme or parsed.netloc or not (target or "/").startswith("/") or target.startswith("//"):
        return "/"
    return target.rstrip("?") or "/"


def _deny(status: int, key: str):
    lang = normalize_lang(flask.request.args.get("lang"))
    return flask.jsonify({"error": t(key, lang)}), status


def _page_for(path: str) -> dict | None:
    for page in dash.page_registry.values():
        if page.get("path") == path:
            return page
        template = page.get("path_template")
        if template and _matches(template, path):
            return page
    return None


def _matches(template: str, path: str) -> bool:
    parts, wanted = template.strip("/").split("/"), path.strip("/").split("/")
    return len(parts) == len(wanted) and all(p.startswith("<") or p == w for p, w in zip(parts, wanted, strict=True))


def _routing_access(body: dict) -> str | None:
    for item in body.get("inputs") or []:
        if isinstance(item, dict) and item.get("id") == "_pages_location" and item.get("property") == "pathname":
            page = _page_for(str(item.get("value") or "/"))
            return page.get("access") if page else "wall"  # an unknown path shows "page not found"
    return None


def _login_page(lang: str, next_url: str, csrf: str, error: str | None = None) -> str:
    e = html.escape
    error_html = f'<div class="alert alert-danger py-2" role="alert">{e(error)}</div>' if error else ""
    other = "en" if lang == "vi" else "vi"
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(t("auth.title", lang))} · {e(t("app.title", lang))}</title>
<link rel="stylesheet" href="/assets/00-bootstrap.min.css"><link rel="stylesheet" href="/assets/01-fonts.css">
<link rel="stylesheet" href="/assets/10-ioc.css"></head>
<body class="theme-light login-body"><main class="login-card">
<h1 class="h4 mb-1">{e(t("app.title", lang))}</h1><p class="text-body-secondary mb-4">{e(t("app.subtitle", lang))}</p>
{error_html}
<form method="post" action="/login" autocomplete="on">
<input type="hidden" name="csrf_token" value="{e(csrf)}"><input type="hidden" name="next" value="{e(next_url)}">
<input type="hidden" name="lang" value="{lang}">
<label class="form-label" for="username">{e(t("auth.username", lang))}</label>
<input class="form-control mb-3" id="username" name="username" autocomplete="username" required autofocus>
<label class="form-label" for="password">{e(t("auth.password", lang))}</label>
<input class="form-control mb-4" id="password" name="password" type="password" autocomplete="current-password" required>
<button class="btn btn-primary w-100" type="submit">{e(t("auth.sign_in", lang))}</button>
</form>
<p class="mt-3 small"><a href="/login?lang={other}&amp;next={e(next_url)}">{e(t(f"lang.{other}.long", other))}</a></p>
</main></body></html>"""
