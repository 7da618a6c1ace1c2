"""Sign-in, roles and their enforcement on the real server: every route and every callback, without a
session and with each role; CSRF; kiosk tokens; lockout; security headers; the audit log."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import dash
import pytest
import requests

from ioc.alerts import actions
from ioc.audit import audit_log
from ioc.auth import User
from ioc.auth import store as auth_store
from ioc.auth.http import CSRF_COOKIE, CSRF_HEADER
from tests.support import PASSWORD, serve

# What each role may open, by the access a page declares.
EXPECTED = {
    "operator": {"wall", "read"},
    "officer": {"wall", "read", "manual"},
    "leader": {"wall", "read", "brief"},
    "admin": {"wall", "read", "brief", "manual", "admin"},
    "kiosk": {"wall"},
}


def test_roles_are_a_table():
    officer = User("hoa", "Hoa", "officer", ("education",))
    assert officer.can_read("education") and not officer.can_read("health")
    assert officer.can_edit_rules("education") and not officer.can_edit_rules("health")
    assert not officer.can_edit_rules(None)  # a rule of every domain is an admin's
    assert officer.can_enter("education") and not officer.can_enter("health")
    operator = User("an", "An", "operator")
    assert operator.can_acknowledge("health") and not operator.can_edit_rules("health")
    assert not User("nam", "Nam", "leader").can_acknowledge("health")
    kiosk = User("kiosk:1", "Wall", "kiosk")
    assert kiosk.may("wall") and not kiosk.may("read")
    for role, allowed in EXPECTED.items():
        user = User("x", "x", role, ("health",))
        assert {a for a in ("wall", "read", "brief", "manual", "admin") if user.may(a)} == allowed, role


def test_passwords_never_lock_an_account_and_kiosk_tokens(runtime):
    db = runtime.db
    name = f"lock{datetime.now(UTC):%H%M%S%f}"[:30]
    auth_store.add_user(db, name, "a-long-password-1", "operator")
    with db.connection() as conn:
        stored = conn.execute("SELECT password_hash FROM users WHERE username = %s", (name,)).fetchone()[0]
    assert stored.startswith("$argon2id$") and "a-long-password-1" not in stored
    with pytest.raises(auth_store.UserError):
        auth_store.add_user(db, name + "x", "short", "operator")
    with pytest.raises(auth_store.UserError):
        auth_store.add_user(db, name + "y", "a-long-password-1", "officer")  # an officer needs domains
    assert auth_store.authenticate(db, name, "a-long-password-1")[1] == "ok"
    assert auth_store.authenticate(db, "nobody-here", "whatever")[1] == "invalid"
    # Whoever guesses cannot keep the owner out: no lock however many failures (the web server slows
    # the guesser down per account and address instead).
    assert {auth_store.authenticate(db, name, "wrong")[1] for _ in range(8)} == {"invalid"}
    assert auth_store.authenticate(db, name, "a-long-password-1")[1] == "ok"
    auth_store.update_user(db, name, "tests", active=False)
    assert auth_store.authenticate(db, name, "a-long-password-1")[1] == "invalid"  # as for an unknown user

    token = auth_store.create_kiosk_token(db, "Màn hình 1", "tests")
    kiosk = auth_store.kiosk_user(db, token)
    assert kiosk is not None and kiosk.is_kiosk and auth_store.kiosk_user(db, token + "x") is None
    auth_store.revoke_kiosk_token(db, int(kiosk.username.split(":")[1]), "tests")
    assert auth_store.kiosk_user(db, token) is None
    actions_logged = set(audit_log(db)["action"])
    assert {"user.add", "user.update", "kiosk.create", "kiosk.revoke"} <= actions_logged


# --- the real server -------------------------------------------------------------------------------

class Browserish(requests.Session):
    """A client that, like browsers, sends Secure cookies to loopback addresses over plain HTTP."""

    def request(self, *args, **kwargs):
        answer = super().request(*args, **kwargs)
        for cookie in self.cookies:
            cookie.secure = False
        return answer


def session_for(web_url: str, username: str, password: str = PASSWORD) -> requests.Session:
    session = Browserish()
    form = session.get(web_url + "/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    answer = session.post(web_url + "/login", data={"username": username, "password": password,
                                                    "csrf_token": csrf, "next": "/"}, allow_redirects=False)
    assert answer.status_code == 302, answer.text[:300]
    assert "; Secure" in answer.headers["Set-Cookie"] and "HttpOnly" in answer.headers["Set-Cookie"]
    session.get(web_url + "/")  # sets the CSRF cookie
    session.headers[CSRF_HEADER] = session.cookies.get(CSRF_COOKIE)
    return session


def callbacks(session: requests.Session, web_url: str) -> list[dict]:
    answer = session.get(web_url + "/_dash-dependencies")
    assert answer.status_code == 200
    return answer.json()


def call(session: requests.Session, web_url: str, dependency: dict, inputs: list | None = None) -> requests.Response:
    body = {"output": dependency["output"], "outputs": [], "inputs": inputs or [], "state": [],
            "changedPropIds": []}
    return session.post(web_url + "/_dash-update-component", json=body)


def test_nothing_answers_without_a_session(web_url, people):
    anonymous = Browserish()
    for page in dash.page_registry.values():
        path = page.get("path_template") or page["path"]
        path = re.sub(r"<[^>]+>", "x", path)
        answer = anonymous.get(web_url + path, allow_redirects=False)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"], path
    for path in ("/_dash-layout", "/_dash-dependencies"):
        assert anonymous.get(web_url + path).status_code == 401, path
    admin = session_for(web_url, "ha")
    for dependency in callbacks(admin, web_url):
        if dependency.get("clientside_function"):
            continue
        answer = anonymous.post(web_url + "/_dash-update-component", json={"output": dependency["output"]})
        assert answer.status_code == 401, dependency["output"]
    assert anonymous.get(web_url + "/healthz").status_code in (200, 503)
    assert anonymous.get(web_url + "/assets/10-ioc.css").status_code == 200


@pytest.mark.parametrize("username", ["an", "hoa", "nam", "ha"])
def test_every_callback_is_gated_by_role(web_url, web_app, people, username):
    role = people[username][1]
    session = session_for(web_url, username)
    app_callbacks = _callback_access(web_app)
    for dependency in callbacks(session, web_url):
        if dependency.get("clientside_function") or dependency["output"] not in app_callbacks:
            continue
        access = app_callbacks[dependency["output"]]
        if access is None:
            continue  # the router: checked below with each page's path
        answer = call(session, web_url, dependency)
        if access in EXPECTED[role]:
            assert answer.status_code not in (401, 403), (role, dependency["output"])
        else:
            assert answer.status_code == 403, (role, dependency["output"], answer.status_code)
    for page in dash.page_registry.values():
        path = re.sub(r"<[^>]+>", "x", page.get("path_template") or page["path"])
        body = {"output": "..._pages_content.children...", "outputs": [], "state": [], "changedPropIds": [],
                "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                           {"id": "_pages_location", "property": "search", "value": ""}]}
        routed = _router_output(session, web_url)
        body["output"] = routed
        answer = session.post(web_url + "/_dash-update-component", json=body)
        allowed = page.get("access", "admin") in EXPECTED[role]
        assert (answer.status_code == 403) != allowed, (role, path, answer.status_code)


def _callback_access(app: dash.Dash) -> dict[str, str | None]:
    """output → the access its page declares ('wall' for the shell, None for the router)."""
    result = {}
    for output, entry in app.callback_map.items():
        module = getattr(entry.get("callback"), "__module__", "")
        if module == "ioc.web":
            result[output] = "wall"
        elif module.startswith("dash"):
            result[output] = None
        else:
            page = dash.page_registry.get(module)
            result[output] = page.get("access") if page else "admin"
    return result


def _router_output(session: requests.Session, web_url: str) -> str:
    return next(d["output"] for d in callbacks(session, web_url) if "_pages_content" in d["output"])


def test_an_officer_gets_nothing_of_another_domain(web_url, people):
    session = session_for(web_url, "hoa")  # education only
    tiles = next(d for d in callbacks(session, web_url) if '"type":"domain-tiles"' in d["output"].replace(" ", ""))
    outputs = [[{"id": {"domain": d, "type": kind}, "property": prop} for d in ("education", "health")]
               for kind, prop in (("domain-tiles", "children"), ("domain-status", "children"),
                                  ("domain-card", "className"))]
    outputs += [{"id": i, "property": p} for i, p in (("overview-refreshed", "children"), ("overview-error", "hidden"),
                                                    ("overview-heartbeat", "data"))]
    body = {"output": tiles["output"], "outputs": outputs, "changedPropIds": ["overview-tick.n_intervals"],
            "inputs": [{"id": "overview-tick", "property": "n_intervals", "value": 1}],
            "state": [{"id": "overview-lang", "property": "data", "value": "vi"}]}
    answer = session.post(web_url + "/_dash-update-component", json=body)
    assert answer.status_code == 200, answer.text[:300]
    text = answer.text
    assert '"data-metric": "attendance_rate"' in text.replace('":"', '": "')
    assert "bed_occupancy" not in text  # the health card came back empty


def test_csrf_and_security_headers(web_url, people):
    session = session_for(web_url, "an")
    badge = next(d for d in callbacks(session, web_url) if "alert-badge.children" in d["output"])
    without = Browserish()
    without.cookies.update(session.cookies)
    answer = without.post(web_url + "/_dash-update-component", json={"output": badge["output"]})
    assert answer.status_code == 403
    page = session.get(web_url + "/")
    policy = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy and "unsafe-eval" not in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    # a bad next= is not an open redirect
    form = requests.get(web_url + "/login?next=//evil.example/").text
    assert "evil.example" not in re.search(r'name="next" value="([^"]*)"', form).group(1)


def test_kiosk_token_reads_the_wall_only_and_can_be_revoked(web_url, simulated, people):
    token = auth_store.create_kiosk_token(simulated.db, "Phòng điều hành", "tests")
    screen = Browserish()
    answer = screen.get(web_url + f"/kiosk?token={token}", allow_redirects=False)
    assert answer.status_code == 302 and answer.headers["Location"].split("#")[0].endswith("/wall")
    assert screen.get(web_url + "/alerts", allow_redirects=False).headers["Location"].endswith("/wall")
    screen.get(web_url + "/wall", allow_redirects=False)
    screen.headers[CSRF_HEADER] = screen.cookies.get(CSRF_COOKIE)
    router = _router_output(screen, web_url)
    body = {"output": router, "outputs": [], "state": [], "changedPropIds": [],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": "/alerts"},
                       {"id": "_pages_location", "property": "search", "value": ""}]}
    assert screen.post(web_url + "/_dash-update-component", json=body).status_code == 403
    kiosk_id = int(auth_store.kiosk_tokens(simulated.db)["id"].max())
    auth_store.revoke_kiosk_token(simulated.db, kiosk_id, "tests")
    assert screen.get(web_url + "/_dash-layout").status_code == 401  # at once: the session is on the server
    refused = requests.get(web_url + f"/kiosk?token={token}", allow_redirects=False)
    assert refused.status_code == 401 and refused.headers["Content-Type"].startswith("text/html")
    assert "Mã màn hình không hợp lệ" in refused.text and "Unknown or revoked wall-screen token" in refused.text


def test_failed_sign_ins_are_rate_limited_per_address(simulated, people):
    from ioc.web import create_app

    app = create_app(simulated.config, simulated)  # its own limiter, so other tests' sign-ins are not counted
    url, stop = serve(app.server)
    try:
        session = Browserish()
        codes = []
        for i in range(22):
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', session.get(url + "/login").text).group(1)
            codes.append(session.post(url + "/login", data={"username": f"guess{i}", "password": "x" * 12,
                                                            "csrf_token": csrf}).status_code)
        assert codes[0] == 401 and codes[-1] == 429
    finally:
        stop()


def test_actions_check_the_role_and_write_the_audit_log(runtime):
    db = runtime.db
    with db.connection() as conn:
        alert_id = conn.execute(
            "INSERT INTO alerts (rule, subject, domain, state, severity, value, threshold, pending_since, "
            "firing_since, last_active) VALUES ('sec-test', %s, 'health', 'firing', 'critical', 97, 95, now(), "
            "now(), now()) RETURNING id", (f"hosp-sec-{datetime.now(UTC):%H%M%S%f}",)).fetchone()[0]
    with pytest.raises(actions.ActionError) as refused:
        actions.acknowledge(db, alert_id, User("hoa", "Nguyễn Thị Hoa", "officer", ("education",)))
    assert refused.value.key == "action.forbidden"
    with pytest.raises(actions.ActionError):
        actions.acknowledge(db, alert_id, User("nam", "Hoàng Văn Nam", "leader"))
    actions.acknowledge(db, alert_id, User("minh", "Lê Văn Minh", "officer", ("health",)), "đã gọi")
    row = audit_log(db, 5).iloc[0]
    assert (row["actor"], row["action"], row["target"]) == ("Lê Văn Minh", "alert.acknowledge", f"alert:{alert_id}")
    with pytest.raises(actions.ActionError):
        actions.create_silence(db, User("hoa", "Hoa", "officer", ("education",)), "bảo trì",
                               datetime.now(UTC), datetime.now(UTC) + timedelta(hours=1), domain="health")


def test_pages_work_under_the_content_security_policy(browser, web_url, people, output_dir):
    """No bypass here: the pages render and run under our policy, and the browser reports no violation."""
    from tests.support import sign_in

    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN")
    page = context.new_page()
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        page.goto(web_url + "/alerts")
        assert "/login" in page.url  # signed out: the login form
        page.screenshot(path=str(output_dir / "login.png"))
        sign_in(page, web_url, "an")
        page.goto(web_url + "/")
        page.locator(".domain-card .js-plotly-plot").first.wait_for(timeout=30_000)
        page.locator("#clock").wait_for()
        page.goto(web_url + "/alerts")
        page.locator("#alerts-active-grid .ag-root").wait_for(timeout=20_000)
        assert page.locator("#user-name").inner_text() == "Nguyễn Văn An"
        assert "Nhật ký thay đổi" not in page.locator("#nav-links").inner_text()  # an admin's page
        page.click("#sign-out")
        page.wait_for_url("**/login*")
    finally:
        context.close()
    assert violations == []


def test_users_and_kiosk_from_the_command_line(tmp_path, pg_server_url, mqtt_url):
    import os
    import subprocess
    import sys

    from ioc.config import load_config
    from ioc.runtime import Runtime
    from tests.support import RUN_ID, drop_database, isolated_config

    folder = isolated_config(tmp_path / "cfg", pg_server_url, mqtt_url, "cli")
    env = {**os.environ, "IOC_CONFIG_DIR": str(folder)}

    def app(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "app.py", *args], input=stdin, capture_output=True, text=True,
                              env=env, timeout=120)

    try:
        added = app("users", "add", "thu", "--role", "officer", "--domains", "health,agriculture",
                    "--name", "Đỗ Minh Thu", "--password-stdin", stdin="mot-mat-khau-dai\n")
        assert added.returncode == 0, added.stderr
        bad = app("users", "add", "bad", "--role", "officer", "--domains", "weather", "--password-stdin",
                  stdin="mot-mat-khau-dai\n")
        assert bad.returncode == 2 and "unknown domain" in bad.stderr
        kiosk = app("kiosk", "add", "Màn hình phòng họp")
        assert kiosk.returncode == 0 and "/kiosk?token=" in kiosk.stdout
        listed = app("users", "list")
        assert "thu" in listed.stdout and "officer" in listed.stdout
        runtime = Runtime(load_config(folder, environ={}), with_simulator=False).open_storage()
        try:
            user, outcome = auth_store.authenticate(runtime.db, "thu", "mot-mat-khau-dai")
            assert outcome == "ok" and user.domains == ("agriculture", "health")
        finally:
            runtime.stop()
    finally:
        drop_database(pg_server_url, f"ioc_test_{RUN_ID}_cli")


def test_admin_manages_users_and_screens_in_the_browser(page, web_url, simulated, output_dir):
    page.goto(web_url + "/users")
    page.wait_for_selector("#users-grid .ag-row")
    page.fill("#users-username", "tuan")
    page.fill("#users-name", "Vũ Anh Tuấn")
    page.fill("#users-password", "mot-mat-khau-rat-dai")
    page.click("#users-add")
    page.wait_for_selector("#users-result .alert-success", timeout=10_000)
    page.wait_for_selector("#users-grid .ag-row[row-id='tuan']")
    page.fill("#kiosk-name", "Phòng họp tầng 3")
    page.click("#kiosk-add")
    url = page.locator("#kiosk-url").inner_text()
    assert url.startswith("/kiosk?token=")
    page.screenshot(path=str(output_dir / "users.png"), full_page=True)
    assert auth_store.authenticate(simulated.db, "tuan", "mot-mat-khau-rat-dai")[1] == "ok"
    assert auth_store.kiosk_user(simulated.db, url.split("=", 1)[1]) is not None
    actions = list(audit_log(simulated.db, 10)["action"])
    assert "user.add" in actions and "kiosk.create" in actions


def test_an_officer_cannot_open_another_domain_or_its_sites(web_url, people, simulated):
    session = session_for(web_url, "hoa")  # education only
    router = _router_output(session, web_url)
    hospital = next(e for e in simulated.config.region.entities if e.kind == "hospital")
    school = next(e.id for e in simulated.config.region.entities if e.kind == "school")

    def open_page(path: str) -> str:
        body = {"output": router, "outputs": [{"id": "_pages_content", "property": "children"},
                                              {"id": "_pages_store", "property": "data"}],
                "changedPropIds": ["_pages_location.pathname"], "state": [],
                "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                           {"id": "_pages_location", "property": "search", "value": ""},
                           {"id": "lang", "property": "data", "value": "vi"}]}
        answer = session.post(web_url + "/_dash-update-component", json=body)
        assert answer.status_code == 200, (path, answer.status_code)
        return answer.text

    assert '"data-domain": "education"' in open_page("/domain/education").replace('":"', '": "')
    health = open_page("/domain/health")
    assert "bed_occupancy" not in health and "/domain/health" not in health  # as if unknown; no link to it
    foreign = open_page(f"/entity/{hospital.id}")  # "unknown site", as for one that does not exist
    assert "bed_occupancy" not in foreign and hospital.name.vi.encode("unicode_escape").decode() not in foreign
    assert school in open_page(f"/entity/{school}")
