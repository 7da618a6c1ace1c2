"""Sessions the server can end, a signing key that survives restarts, and sign-in throttling that cannot be
turned against the people it protects — on the real server."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time

import pytest
import requests

from ioc.auth import store as auth_store
from ioc.auth.http import FREE_FAILURES, MAX_WAIT_SECONDS, SECRET_ENV, Throttle, _networks, client_address, secret_key
from ioc.services import free_port
from tests.support import PASSWORD, RUN_ID, drop_database, isolated_config, serve
from tests.test_security import Browserish, session_for
from tests.waiting import wait_until


def _signed_in(session: requests.Session, web_url: str) -> bool:
    return session.get(web_url + "/_dash-layout").status_code == 200


def _copy(session: requests.Session) -> Browserish:
    """Another client holding the same cookies (a stolen or kept copy of the session)."""
    other = Browserish()
    other.cookies.update(session.cookies)
    other.headers.update(session.headers)
    return other


def test_logout_ends_the_session_on_the_server(web_url, people):
    session = session_for(web_url, "an")
    kept = _copy(session)
    assert _signed_in(kept, web_url)
    assert session.post(web_url + "/logout", allow_redirects=False).status_code == 302
    assert not _signed_in(kept, web_url)  # the old cookie is worth nothing


def test_a_password_change_or_a_disabled_account_ends_every_session(web_url, simulated, people):
    name = f"s{RUN_ID}"
    auth_store.add_user(simulated.db, name, PASSWORD, "operator", actor="tests")
    first, second = session_for(web_url, name), session_for(web_url, name)
    auth_store.update_user(simulated.db, name, "tests", password=PASSWORD + "-new")
    assert not _signed_in(first, web_url) and not _signed_in(second, web_url)  # at once
    third = session_for(web_url, name, PASSWORD + "-new")
    assert _signed_in(third, web_url)
    auth_store.update_user(simulated.db, name, "tests", active=False)
    assert not _signed_in(third, web_url)
    auth_store.update_user(simulated.db, name, "tests", active=True)
    assert not _signed_in(third, web_url)  # re-enabling does not revive an ended session


def test_a_revoked_kiosk_token_ends_its_open_screens(web_url, simulated, people):
    token = auth_store.create_kiosk_token(simulated.db, "Phòng họp", "tests")
    screens = []
    for _ in range(2):
        screen = Browserish()
        screen.get(web_url + f"/kiosk?token={token}", allow_redirects=False)
        assert _signed_in(screen, web_url)
        screens.append(screen)
    kiosk_id = int(auth_store.kiosk_tokens(simulated.db)["id"].max())
    auth_store.revoke_kiosk_token(simulated.db, kiosk_id, "tests")
    assert not any(_signed_in(s, web_url) for s in screens)


def test_the_signing_key_persists_owner_only(tmp_path, monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    key = secret_key(config_dir)
    path = tmp_path / "var" / "secret-key"
    assert len(key) >= 64 and path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_key(config_dir) == key  # the next start signs with the same key
    monkeypatch.setenv(SECRET_ENV, "from-the-environment")
    assert secret_key(config_dir) == "from-the-environment"


# --- throttling ----------------------------------------------------------------------------------

def test_throttle_grows_per_account_and_address_and_never_locks():
    throttle, now = Throttle(), 1000.0
    for _ in range(FREE_FAILURES):
        assert throttle.wait("an", "10.0.0.9", now) == 0
        throttle.failed("an", "10.0.0.9", now)
    waits = []
    for _ in range(12):
        throttle.failed("an", "10.0.0.9", now)
        waits.append(throttle.wait("an", "10.0.0.9", now))
        assert throttle.wait("an", "10.0.0.9", now + waits[-1]) == 0  # waiting as told is enough
        now += waits[-1]
    assert waits[:5] == [1, 2, 4, 8, 16] and waits[-1] == MAX_WAIT_SECONDS  # growing, bounded: never a lock
    assert throttle.wait("an", "10.0.0.10", now) == 0  # the owner, elsewhere, is not kept out
    assert throttle.wait("ha", "10.0.0.9", now) == 0  # nor another account from the same address
    throttle.succeeded("an", "10.0.0.9")
    assert throttle.wait("an", "10.0.0.9", now) == 0


def test_forwarded_for_is_believed_from_trusted_proxies_only():
    proxies = _networks(["10.1.0.0/16", "127.0.0.1"])
    assert client_address("127.0.0.1", "203.0.113.7", proxies) == "203.0.113.7"
    assert client_address("127.0.0.1", "198.51.100.1, 203.0.113.7, 10.1.2.3", proxies) == "203.0.113.7"
    assert client_address("192.0.2.50", "203.0.113.7", proxies) == "192.0.2.50"  # not a proxy: ignored
    assert client_address("127.0.0.1", "203.0.113.7", []) == "127.0.0.1"  # none configured: ignored
    assert client_address("127.0.0.1", "not-an-ip", proxies) == "not-an-ip"  # said by a trusted proxy


@pytest.fixture
def own_server(simulated, people):
    """The product's app on its own port, with its own throttle (other tests' sign-ins do not count)."""
    from ioc.web import create_app

    app = create_app(simulated.config, simulated)
    url, stop = serve(app.server, clear_untrusted_proxy_headers=False)
    yield url, app.server.extensions["ioc_auth"]
    stop()


def _attempt(url: str, username: str, password: str, headers: dict | None = None) -> requests.Response:
    session = Browserish()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', session.get(url + "/login").text).group(1)
    return session.post(url + "/login", data={"username": username, "password": password, "csrf_token": csrf},
                        headers=headers or {}, allow_redirects=False)


def _message(answer: requests.Response) -> str:
    return re.search(r'role="alert">([^<]*)<', answer.text).group(1)


def _until_throttled(url: str, username: str) -> list[requests.Response]:
    answers = []
    for _ in range(FREE_FAILURES + 8):  # the delays grow (1, 2, 4 … s): one soon outlasts an attempt
        answers.append(_attempt(url, username, "wrong-password-x"))
        if answers[-1].status_code == 429:
            return answers
    raise AssertionError(f"never throttled: {[a.status_code for a in answers]}")


def test_sign_in_answers_the_same_for_known_and_unknown_users(own_server):
    url, _auth = own_server
    known, unknown = _until_throttled(url, "an"), _until_throttled(url, "nobody-at-all")
    assert len(known) > FREE_FAILURES and len(unknown) > FREE_FAILURES
    assert {a.status_code for a in known[:-1]} == {a.status_code for a in unknown[:-1]} == {401}
    assert {_message(a) for a in known[:-1]} == {_message(a) for a in unknown[:-1]}
    assert re.sub(r"\d+", "N", _message(known[-1])) == re.sub(r"\d+", "N", _message(unknown[-1]))
    assert "Retry-After" in known[-1].headers and "Retry-After" in unknown[-1].headers
    # A delay, not a lock: after waiting as told, the right password lets the owner in.
    answer = _attempt(url, "an", PASSWORD)
    if answer.status_code == 429:
        time.sleep(float(answer.headers["Retry-After"]))
        answer = _attempt(url, "an", PASSWORD)
    assert answer.status_code == 302


def test_forwarded_for_from_a_trusted_proxy_separates_clients(own_server):
    url, auth = own_server
    for _ in range(FREE_FAILURES + 8):  # a guesser's failures, without spending minutes on them
        auth.throttle.failed("nam", "127.0.0.1")
    # No proxy is trusted: everyone is 127.0.0.1 and the header changes nothing.
    assert _attempt(url, "nam", PASSWORD, {"X-Forwarded-For": "198.51.100.1"}).status_code == 429
    auth.trusted_proxies = _networks(["127.0.0.1"])
    for _ in range(FREE_FAILURES + 8):
        auth.throttle.failed("ha", "203.0.113.7")
    assert _attempt(url, "ha", PASSWORD, {"X-Forwarded-For": "203.0.113.7"}).status_code == 429
    assert _attempt(url, "ha", PASSWORD, {"X-Forwarded-For": "198.51.100.1"}).status_code == 302  # another client


# --- a real restart under an open wall screen --------------------------------------------------------

def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    def answers() -> bool:
        assert process.poll() is None, "app.py exited"
        try:
            return requests.get(url + "/healthz", timeout=2).status_code in (200, 503)
        except requests.RequestException:
            return False

    assert wait_until(answers, timeout=timeout, interval=0.5), "app.py did not answer /healthz"


def test_an_open_kiosk_screen_shows_live_data_again_after_a_server_restart(browser, tmp_path, pg_server_url,
                                                                           mqtt_url, output_dir):
    from ioc.config import load_config
    from ioc.runtime import Runtime

    port = free_port()
    folder = isolated_config(tmp_path / "cfg", pg_server_url, mqtt_url, "restart", {"http": {"port": port}},
                             feeds={"simulator": {"options": {"backfill": "10m", "interval": "1s"}}})
    env = {key: value for key, value in os.environ.items() if key != SECRET_ENV}  # the key comes from var/
    env["IOC_CONFIG_DIR"] = str(folder)
    url = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "app.log", "w")  # noqa: SIM115 (closed below, after both runs)

    def start() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "app.py"], env=env, stdout=log, stderr=subprocess.STDOUT)

    process = start()
    context = None
    try:
        _wait_healthy(url, process)
        runtime = Runtime(load_config(folder, environ={}), with_simulator=False).open_storage()
        try:
            token = auth_store.create_kiosk_token(runtime.db, "Màn hình khởi động lại", "tests")
        finally:
            runtime.stop()
        context = browser.new_context(viewport={"width": 1920, "height": 1080}, bypass_csp=True)
        page = context.new_page()
        page.goto(f"{url}/kiosk?token={token}")
        page.wait_for_selector("#wall .wall-tile:not(.status-nodata)", timeout=60_000)
        assert stat.S_IMODE((tmp_path / "var" / "secret-key").stat().st_mode) == 0o600
        process.terminate()
        process.wait(timeout=60)
        page.wait_for_selector("#wall.offline #wall-offline", state="visible", timeout=60_000)
        process = start()
        _wait_healthy(url, process)
        back = time.monotonic()

        def live(response) -> bool:
            return ("_dash-update-component" in response.url and response.status == 200
                    and "wall-heartbeat" in (response.request.post_data or ""))
        with page.expect_response(live, timeout=30_000):
            pass
        page.wait_for_selector("#wall-offline", state="hidden", timeout=30_000)
        page.wait_for_selector("#wall .wall-tile:not(.status-nodata)", timeout=30_000)
        took = time.monotonic() - back
        assert took < 30, took
        assert "/login" not in page.url
        page.screenshot(path=str(output_dir / "wall-after-restart.png"))
        print(f"kiosk screen live again {took:.1f} s after the restarted server answered")
    finally:
        if context is not None:
            context.close()
        process.terminate()
        process.wait(timeout=60)
        log.close()
        drop_database(pg_server_url, f"ioc_test_{RUN_ID}_restart")


def test_a_wall_screen_signs_in_again_by_itself_when_its_session_ends(browser, web_url, simulated, people,
                                                                      output_dir):
    token = auth_store.create_kiosk_token(simulated.db, "Màn hình tự đăng nhập", "tests")
    kiosk_id = int(auth_store.kiosk_tokens(simulated.db)["id"].max())
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(f"{web_url}/kiosk?token={token}&lang=vi")
        page.wait_for_selector("#wall .wall-tile:not(.status-nodata)", timeout=60_000)
        assert "#" not in page.url and token not in page.url  # the token left the address
        with simulated.db.connection() as conn:  # the server forgets the screen's session
            conn.execute("UPDATE sessions SET ended_at = now() WHERE kiosk_id = %s", (kiosk_id,))
        with page.expect_response(lambda r: "/kiosk?token=" in r.url, timeout=30_000):
            pass
        page.wait_for_selector("#wall .wall-tile:not(.status-nodata)", timeout=60_000)
        assert page.url.endswith("/wall?lang=vi"), page.url
        with simulated.db.connection() as conn:
            assert conn.execute("SELECT count(*) FROM sessions WHERE kiosk_id = %s AND ended_at IS NULL",
                                (kiosk_id,)).fetchone()[0] == 1
        # A revoked token is the end: the screen shows why, in both languages, and stops there.
        auth_store.revoke_kiosk_token(simulated.db, kiosk_id, "tests")
        page.wait_for_selector("text=Unknown or revoked wall-screen token", timeout=30_000)
        page.screenshot(path=str(output_dir / "kiosk-revoked.png"))
    finally:
        context.close()
