"""Sign-in and enforcement on the web server: sessions, login, kiosk tokens, CSRF, security headers, and
the gate every request passes — pages, Dash callbacks and API routes alike.

Pages are judged on the page Dash will render: `resolve_page` asks Dash's own resolver (the one its router
callback uses: trailing slashes stripped, `*` spanning `/`, query parameters overriding path parameters),
never a matcher of ours. Each page's layout checks again (`ioc.web.page_refusal`).
Callbacks are checked by where they were written: each page declares `access` in its
`dash.register_page(...)`, and a callback defined in a page's module needs that page's access (shell
callbacks in ioc.web need a signed-in user). A callback of a module that declares nothing is refused —
a new page is closed until it says who may see it. Finer checks (an officer's own domains, who may
acknowledge or edit a rule) are made by the pages' data functions and by the actions themselves.

Sessions live in the database (the cookie carries a random id, signed): logout, a password change, a
disabled account and a revoked kiosk token end them on the next request. The signing key survives
restarts ($IOC_SECRET_KEY, else var/secret-key, made on first start, mode 0600).
"""

from __future__ import annotations

import html
import ipaddress
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
import psycopg
from dash._pages import _parse_query_string, _path_to_page
from dash._utils import inputs_to_vals
from flask.sessions import SecureCookieSessionInterface

from ioc.auth import User
from ioc.auth import store as auth_store
from ioc.i18n import normalize_lang, t

log = logging.getLogger(__name__)

SESSION_ID = "sid"
SESSION_CSRF = "csrf"
CSRF_COOKIE = "_csrf_token"  # dash-renderer sends it back as the X-CSRFToken header on every callback
CSRF_HEADER = "X-CSRFToken"
SECRET_ENV = "IOC_SECRET_KEY"
SECRET_FILE = "secret-key"  # in var/, next to the config folder
FAILED_LOGINS_PER_MINUTE = 20  # per client address (guessing across accounts)
FREE_FAILURES = 3  # per (account, address) before each further attempt has to wait
MAX_WAIT_SECONDS = 300  # the longest wait between two attempts: a delay, never a lockout

# Reachable without a session: sign-in, static files, and machine endpoints with their own credentials.
PUBLIC_PREFIXES = ("/login", "/kiosk", "/assets/", "/_dash-component-suites/", "/_favicon.ico", "/healthz",
                   "/metrics", "/api/v1/readings")
STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
DASH_CALLBACK = "/_dash-update-component"
NOT_FOUND_ACCESS = "wall"  # Dash's "page not found" shows nothing of anyone
UNRESOLVABLE = "unresolvable"  # a router request with no path Dash could resolve: refused as malformed


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


def secret_key(config_dir: Path) -> str:
    """The key that signs session cookies: $IOC_SECRET_KEY, else var/secret-key (created on first start,
    readable by the owner only). It survives restarts, so that wall screens stay signed in."""
    if key := os.environ.get(SECRET_ENV):
        return key
    path = config_dir.parent / "var" / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made by an earlier start, or by another worker a moment ago
        for _ in range(50):
            if key := path.read_text(encoding="utf-8").strip():
                return key
            time.sleep(0.1)
        raise RuntimeError(f"{path} is empty: delete it to make a new key (every session then ends)") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(key + "\n")
    log.info("made the session signing key %s", path)
    return key


def resolve_page(app: dash.Dash, pathname: object, search: object = "") -> tuple[dict, dict] | None:
    """(page, layout arguments) exactly as Dash's router resolves them; page {} is "not found".
    None for a pathname Dash cannot resolve (its router would fail on it)."""
    if not isinstance(pathname, str) or not isinstance(search, str | None):
        return None
    try:
        page, variables = _path_to_page(app.strip_relative_path(pathname))
    except Exception:  # noqa: BLE001 — whatever Dash refuses, the gate refuses
        return None
    return page, {**(variables or {}), **_parse_query_string(search)}


def page_access(app: dash.Dash, pathname: object, search: object = "") -> str | None:
    """The access the page Dash renders for this URL needs (None: refuse)."""
    resolved = resolve_page(app, pathname, search)
    if resolved is None:
        return None
    page = resolved[0]
    return page.get("access") or "admin" if page else NOT_FOUND_ACCESS  # a page that declares nothing: admins


class Throttle:
    """Failed sign-ins per (account, address): a few are free, then each attempt waits twice as long as the
    one before (up to MAX_WAIT_SECONDS). Nobody can lock another person out, and the answer is the same
    whether the account exists or not. Also a per-address ceiling against guessing across accounts."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pairs: dict[tuple[str, str], tuple[int, float]] = {}  # → (failures, next attempt allowed at)
        self._addresses: dict[str, deque[float]] = defaultdict(deque)

    def wait(self, account: str, address: str, now: float | None = None) -> float:
        """Seconds until this (account, address) may try again (0: now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            recent = self._addresses[address]
            while recent and now - recent[0] > 60:
                recent.popleft()
            per_address = 60 - (now - recent[0]) if len(recent) >= FAILED_LOGINS_PER_MINUTE else 0.0
            _failures, allowed_at = self._pairs.get((account, address), (0, now))
            return max(0.0, allowed_at - now, per_address)

    def failed(self, account: str, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._addresses[address].append(now)
            failures = self._pairs.get((account, address), (0, now))[0] + 1
            delay = 0.0 if failures <= FREE_FAILURES else min(MAX_WAIT_SECONDS, 2.0 ** (failures - FREE_FAILURES - 1))
            self._pairs[(account, address)] = (failures, now + delay)
            if len(self._pairs) > 100_000:  # bounded memory under a spray of names
                self._pairs = {k: v for k, v in self._pairs.items() if v[1] > now}

    def succeeded(self, account: str, address: str) -> None:
        with self._lock:
            self._pairs.pop((account, address), None)


def _networks(entries: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(e, strict=False) for e in entries]


def client_address(remote_addr: str | None, forwarded_for: str | None, trusted: list) -> str:
    """The client's address: X-Forwarded-For is believed only as far as it was written by trusted proxies
    (read right to left, the first address that is not a trusted proxy is the client)."""
    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in trusted)

    address = remote_addr or "?"
    if not trusted or not is_trusted(address) or not forwarded_for:
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        address = hop
        if not is_trusted(hop):
            break
    return address


class Auth:
    """Installs sign-in and the gate on a Dash app's Flask server."""

    def __init__(self, app: dash.Dash, db, config_dir: Path, secret: str | None = None,
                 trusted_proxies: list[str] | None = None):
        self.app, self.db = app, db
        server = app.server
        server.secret_key = secret or secret_key(config_dir)
        server.session_interface = _Sessions()
        # The cookie may live long (a wall screen's session lasts until its token is revoked); how long a
        # person's session lasts is decided by the server (auth_store.SESSION_HOURS).
        server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                             PERMANENT_SESSION_LIFETIME=auth_store.KIOSK_SESSION_DAYS * 86400)
        self.throttle = Throttle()
        self.trusted_proxies = _networks(trusted_proxies or [])
        self._csp: str | None = None
        self._bootstrap_admin(config_dir)
        server.add_url_rule("/login", "ioc_login", self.login, methods=["GET", "POST"])
        server.add_url_rule("/logout", "ioc_logout", self.logout, methods=["POST"])
        server.add_url_rule("/kiosk", "ioc_kiosk", self.kiosk, methods=["GET"])
        server.before_request(self.gate)
        server.after_request(self.headers)
        server.extensions["ioc_auth"] = self

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

    def _session_user(self) -> User | None:
        """The user of this request's server-side session, read afresh on every request: an ended session,
        a disabled account or a revoked kiosk token is refused at once."""
        sid = flask.session.get(SESSION_ID)
        if not isinstance(sid, str) or not sid:
            return None
        return auth_store.session_user(self.db, sid)

    def client_address(self) -> str:
        return client_address(flask.request.remote_addr, flask.request.headers.get("X-Forwarded-For"),
                              self.trusted_proxies)

    # --- the gate ----------------------------------------------------------------------------------

    def gate(self):
        path = flask.request.path
        flask.g.user = None
        if path.startswith(PUBLIC_PREFIXES):  # no session needed (and none read: /healthz must answer
            rule = flask.request.url_rule     # while the database is away)
            if path.startswith("/api/") and (rule is None or "<path:" in rule.rule):  # not served by this role
                return flask.jsonify({"error": "not found"}), 404
            return None
        try:
            user = flask.g.user = self._session_user()
        except psycopg.Error as exc:  # the sessions are in the database: without it, nobody can be known
            log.warning("cannot read sessions: %s", exc)
            return flask.jsonify({"error": t("auth.unavailable", normalize_lang(flask.request.args.get("lang")))}), 503
        if user is None:
            if flask.request.method == "GET" and not path.startswith("/_dash"):
                return flask.redirect("/login?" + urlencode({"next": _safe_next(flask.request.full_path)}))
            return _deny(401, "auth.required")
        if flask.request.method in STATE_CHANGING and not self._csrf_ok():
            return _deny(403, "auth.csrf")
        if path == DASH_CALLBACK:
            access = self._callback_access(flask.request.get_json(silent=True))
            if access == UNRESOLVABLE:
                return flask.jsonify({"error": "the router needs a path (text starting with /) and a query"}), 400
            if access is None or not user.may(access):
                log.warning("refused callback for %s (%s): needs %s", user.username, user.role, access)
                return _deny(403, "auth.forbidden")
        elif flask.request.method == "GET" and not path.startswith("/_dash"):
            # The page itself is only a shell (its content comes through the router callback, checked
            # above), but a page one may not open answers as such rather than with an empty frame.
            access = page_access(self.app, path, "?" + flask.request.query_string.decode("latin-1"))
            if access is None or not user.may(access):
                if user.is_kiosk:
                    return flask.redirect("/wall")
                return _human_page(403, "auth.forbidden_title", "auth.forbidden")
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
        if module.startswith("dash"):  # the pages router: the page it will render decides
            return self._routing_access(entry, body)
        page = dash.page_registry.get(module)
        return page.get("access") if page else None

    def _routing_access(self, entry: dict, body: dict) -> str | None:
        """The router's arguments are taken by position, as Dash passes them (whatever ids the request
        names), and the page is resolved by Dash's own function."""
        indices = entry.get("inputs_state_indices")
        if not isinstance(indices, dict) or "pathname_" not in indices or "search_" not in indices:
            return None
        try:
            values = inputs_to_vals(list(body.get("inputs") or []) + list(body.get("state") or []))
            pathname, search = values[indices["pathname_"]], values[indices["search_"]]
        except (AttributeError, IndexError, TypeError):
            return UNRESOLVABLE
        return page_access(self.app, pathname, search) or UNRESOLVABLE

    # --- responses -------------------------------------------------------------------------------

    def headers(self, response: flask.Response) -> flask.Response:
        response.headers.setdefault("Content-Security-Policy", self._policy())
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if flask.session.get(SESSION_ID) and not flask.request.path.startswith("/_dash-component-suites/"):
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

    def login(self):
        lang = normalize_lang(flask.request.args.get("lang") or flask.request.form.get("lang"))
        next_url = _safe_next(flask.request.values.get("next") or "/")
        if flask.request.method == "GET":
            return _login_page(lang, next_url, _new_form_token())
        if not self._csrf_ok():
            return _login_page(lang, next_url, _new_form_token(), t("auth.csrf", lang)), 403
        account = (flask.request.form.get("username") or "").strip().lower()[:100]
        address = self.client_address()
        wait = self.throttle.wait(account, address)
        if wait > 0:  # the same answer whether the account exists or not
            answer = _login_page(lang, next_url, _new_form_token(), t("auth.wait", lang, seconds=int(wait) + 1))
            return answer, 429, {"Retry-After": str(int(wait) + 1)}
        user, _outcome = auth_store.authenticate(self.db, account, flask.request.form.get("password", ""))
        if user is None:
            self.throttle.failed(account, address)
            return _login_page(lang, next_url, _new_form_token(), t("auth.invalid", lang)), 401
        self.throttle.succeeded(account, address)
        self._start_session(user)
        return flask.redirect(next_url)

    def logout(self):
        if isinstance(sid := flask.session.get(SESSION_ID), str):
            auth_store.end_session(self.db, sid)
        flask.session.clear()
        response = flask.redirect("/login")
        response.delete_cookie(CSRF_COOKIE)
        return response

    def kiosk(self):
        user = auth_store.kiosk_user(self.db, flask.request.args.get("token", ""))
        if user is None:
            return _human_page(401, "auth.kiosk_title", "auth.kiosk_invalid")
        self._start_session(user)
        query = urlencode({k: v for k, v in flask.request.args.items() if k != "token"})
        # The fragment never reaches a server: the wall keeps the token to sign in again by itself should
        # its session end (assets/15-session.js), and takes it out of the address.
        token = urlencode({"kiosk": flask.request.args.get("token", "")})
        return flask.redirect("/wall" + (f"?{query}" if query else "") + "#" + token)

    def _start_session(self, user: User) -> None:
        flask.session.clear()  # a new session id on sign-in: no fixation
        flask.session.permanent = True
        flask.session[SESSION_ID] = auth_store.start_session(self.db, user)
        flask.session[SESSION_CSRF] = secrets.token_urlsafe(32)


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


def _human_page(status: int, title_key: str, key: str):
    """A refusal a person reads (a browser opened it): both languages, a way back to sign in."""
    e = html.escape
    parts = "".join(f'<section lang="{lang}"><h1 class="h5">{e(t(title_key, lang))}</h1><p>{e(t(key, lang))}</p>'
                    f'<p><a href="/login?lang={lang}">{e(t("auth.sign_in", lang))}</a></p></section>'
                    for lang in ("vi", "en"))
    page = f"""<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(t(title_key, "vi"))} · {e(t("app.title", "vi"))}</title>
<link rel="stylesheet" href="/assets/00-bootstrap.min.css"><link rel="stylesheet" href="/assets/10-ioc.css"></head>
<body class="theme-light login-body"><main class="login-card">{parts}</main></body></html>"""
    return page, status, {"Content-Type": "text/html; charset=utf-8"}


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
