"""Fixtures that talk to the real services: PostgreSQL, an MQTT broker, the runtime, a browser.

PostgreSQL: $IOC_TEST_DATABASE_URL, else 127.0.0.1:5432 when reachable, else an embedded server;
each run creates a fresh database and drops it. With $IOC_TEST_TIMESCALE_URL (a server that preloads
TimescaleDB), every test that uses the database runs on both storage paths (`pg_server_url` is
parametrized "postgresql" / "timescaledb"); tests of one path's own mechanism say so with
`@pytest.mark.storage(path, why)`, and the TimescaleDB tier (tests/test_timescale.py) runs only then.
MQTT: Mosquitto at 127.0.0.1:1883 when reachable, else the embedded broker. Each run uses its own topic
prefix and client id on the shared broker.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg import sql

from ioc import timescale
from ioc.config import Config, copy_config, load_config
from ioc.embedded import EmbeddedBroker, start_postgres, stop_postgres
from ioc.runtime import Runtime
from ioc.services import free_port, fresh_database

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output"
RUN_ID = secrets.token_hex(3)


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


TIMESCALE_URL = os.environ.get("IOC_TEST_TIMESCALE_URL")
STORAGE_PATHS = ["postgresql"] + (["timescaledb"] if TIMESCALE_URL else [])
ENABLE_TIMESCALE = ("set IOC_TEST_TIMESCALE_URL to a PostgreSQL server with shared_preload_libraries = "
                    "'timescaledb' (docs/OPERATIONS.md, \"Tests against TimescaleDB\")")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "storage(path, why): a test of one storage path's own mechanism "
                                       "(\"postgresql\" or \"timescaledb\"); skipped on the other path")


def pytest_collection_modifyitems(config, items) -> None:
    """Plain-only tests are skipped on the TimescaleDB path with their reason; TimescaleDB-only tests are
    not collected at all without a TimescaleDB server (one summary line says so)."""
    keep, dropped = [], []
    for item in items:
        marker = item.get_closest_marker("storage")
        current = getattr(item, "callspec", None) and item.callspec.params.get("pg_server_url")
        if marker is None:
            keep.append(item)
        elif marker.args[0] == "timescaledb" and not TIMESCALE_URL:
            dropped.append(item)
        else:
            keep.append(item)
            if current is not None and current != marker.args[0]:
                why = marker.args[1] if len(marker.args) > 1 else ""
                item.add_marker(pytest.mark.skip(reason=f"{marker.args[0]} path only: {why}"))
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
    config.timescale_not_run = len(dropped)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not TIMESCALE_URL:
        terminalreporter.write_line(
            f"TimescaleDB tier not run ({getattr(config, 'timescale_not_run', 0)} TimescaleDB tests deselected; "
            f"database tests ran on plain PostgreSQL only): {ENABLE_TIMESCALE}", yellow=True)


@pytest.fixture(scope="session", params=STORAGE_PATHS)
def pg_server_url(request) -> Iterator[str]:
    if request.param == "timescaledb":
        yield TIMESCALE_URL
    elif url := os.environ.get("IOC_TEST_DATABASE_URL"):
        yield url
    elif reachable("127.0.0.1", 5432):
        yield "postgresql://postgres@127.0.0.1:5432/postgres"
    else:
        data = Path(tempfile.mkdtemp(prefix="ioc-test-pg-")) / "data"
        yield start_postgres(data)
        stop_postgres(data)
        shutil.rmtree(data.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def storage_path(pg_server_url: str) -> str:
    """The storage path the tests of this parameter run on."""
    return "timescaledb" if pg_server_url == TIMESCALE_URL else "postgresql"


@pytest.fixture(scope="session")
def database_url(pg_server_url: str) -> Iterator[str]:
    """A fresh database for this test run, dropped at the end."""
    name = f"ioc_test_{RUN_ID}"
    yield fresh_database(pg_server_url, name)
    drop_database(pg_server_url, name)


@pytest.fixture(scope="session")
def mqtt_url() -> Iterator[str]:
    if reachable("127.0.0.1", 1883):
        yield "mqtt://127.0.0.1:1883"
    else:
        broker = EmbeddedBroker(free_port())
        broker.start()
        yield broker.url
        broker.stop()


@pytest.fixture(scope="session")
def test_config(tmp_path_factory, database_url: str, mqtt_url: str) -> Config:
    """The shipped configuration pointed at the test database and broker, simulator off."""
    folder = copy_config(tmp_path_factory.mktemp("config"), {
        "database": {"url": database_url},
        "mqtt": {"url": mqtt_url, "topic_prefix": f"ioctest{RUN_ID}", "client_id": f"ioc-test-{RUN_ID}",
                 "protocol": protocol_for(mqtt_url)},
        "ingest": {"batch_max_delay": "50ms"},
        "http": {"port": free_port()},
        "brief": {"enabled": False},
    }, feeds={"simulator": {"enabled": False}})
    return load_config(folder, environ={})


@pytest.fixture(scope="session")
def runtime(test_config: Config) -> Iterator[Runtime]:
    rt = Runtime(test_config).start()
    assert rt.mqtt.connected.wait(10), "the ingest subscriber did not connect"
    yield rt
    rt.stop()


@pytest.fixture
def clean_db(runtime: Runtime) -> Runtime:
    """An empty readings store (catalog kept) before the test: raw readings and their rollups, which
    charts read for whole minutes and hours."""
    runtime.writer.flush()
    empty_readings(runtime.db, runtime.storage.path, "dead_letters")
    return runtime


def empty_readings(pool, path: str, *also: str) -> None:
    """Truncate readings and what derives from them, on either storage path (continuous aggregates are
    views: they are re-materialized, not truncated)."""
    with pool.connection() as conn:
        if path == "timescaledb":
            conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(
                map(sql.Identifier, ["readings", "latest", "rollup_dirty", *also]))))
            conn.commit()
            conn.autocommit = True
            try:
                timescale.clear_materialized(conn)
            finally:
                conn.autocommit = False
        else:
            conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(
                map(sql.Identifier, ["readings", "latest", "rollup_1m", "rollup_1h", "rollup_dirty", *also]))))


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT



def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def protocol_for(mqtt_url: str) -> int:
    """MQTT 5 for Mosquitto; the embedded broker (amqtt) speaks 3.1.1 only."""
    return 5 if mqtt_url.endswith(":1883") else 311


def isolated_config(folder: Path, pg_server_url: str, mqtt_url: str, tag: str, overrides: dict | None = None,
                    feeds: dict | None = None) -> Path:
    """The shipped config with its own fresh database `ioc_test_<run>_<tag>` and its own MQTT topics and
    session, so that one test's runtime never sees another's data (drop the database afterwards)."""
    settings = {
        "database": {"url": fresh_database(pg_server_url, f"ioc_test_{RUN_ID}_{tag}")},
        "mqtt": {"url": mqtt_url, "topic_prefix": f"ioc{tag}{RUN_ID}", "client_id": f"ioc-{tag}-{RUN_ID}",
                 "protocol": protocol_for(mqtt_url)},
    }
    for section, values in (overrides or {}).items():
        settings.setdefault(section, {}).update(values)
    return copy_config(folder, settings, feeds={"simulator": {"enabled": False}} if feeds is None else feeds)


def add_feeds(folder: Path, *feeds: dict) -> None:
    """Append feed entries to a config folder's feeds.yaml."""
    path = folder / "feeds.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["feeds"].extend(feeds)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="session")
def simulated(tmp_path_factory, pg_server_url: str, mqtt_url: str) -> Iterator[Runtime]:
    """The product as `python app.py` runs it, simulator included, in its own database and topics
    (so that its live data never meets the exact counts of the pipeline tests)."""
    folder = isolated_config(tmp_path_factory.mktemp("live-config"), pg_server_url, mqtt_url, "live",
                             {"http": {"port": free_port()}},
                             feeds={"simulator": {"options": {"backfill": "1h", "interval": "1s"}}})
    rt = Runtime(load_config(folder, environ={})).start()
    yield rt
    rt.stop()
    drop_database(pg_server_url, f"ioc_test_{RUN_ID}_live")


@pytest.fixture(scope="session")
def web_app(simulated: Runtime):
    """The product's Dash app on the live runtime, with the runtime's HTTP routes."""
    from ioc.web import create_app

    app = create_app(simulated.config, simulated)
    simulated.register_http(app.server)
    return app


@pytest.fixture(scope="session")
def web_url(simulated: Runtime, web_app) -> Iterator[str]:
    """The product's web server (the same app and WSGI server as app.py) on a free port."""
    from waitress import create_server

    app = web_app
    server = create_server(app.server, host="127.0.0.1", port=simulated.config.settings.http.port, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{simulated.config.settings.http.port}"
    server.close()


# The people of the live runtime: username → (display name, role, domains). One password for all.
PEOPLE = {
    "ha": ("Phạm Thu Hà", "admin", []),
    "an": ("Nguyễn Văn An", "operator", []),
    "hoa": ("Nguyễn Thị Hoa", "officer", ["education"]),
    "minh": ("Lê Văn Minh", "officer", ["health"]),
    "nam": ("Hoàng Văn Nam", "leader", []),
}
PASSWORD = "mat-khau-thu-nghiem-2026"


@pytest.fixture(scope="session")
def people(simulated: Runtime, web_url: str) -> dict:
    """PEOPLE as users of the live runtime (created after the web app, which bootstraps `admin`)."""
    from ioc.auth import store as auth_store

    existing = set(auth_store.users(simulated.db)["username"])
    for username, (name, role, domains) in PEOPLE.items():
        if username not in existing:
            auth_store.add_user(simulated.db, username, PASSWORD, role, domains, name, actor="tests")
    return PEOPLE


def sign_in(page, web_url: str, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login form (as a person would) and wait for the product."""
    page.goto(web_url + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url, timeout=10_000)


@pytest.fixture
def page(browser, web_url, people):
    """A fresh browser page on the product, signed in as the admin "ha", recording every request it makes
    (air-gap checks)."""
    # Playwright's wait_for_function evaluates strings, which our content security policy forbids;
    # tests/test_security.py checks the pages under the policy.
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="vi-VN", bypass_csp=True)
    page = context.new_page()
    page.requests = []
    page.on("request", lambda request: page.requests.append(request.url))
    sign_in(page, web_url, "ha")
    yield page
    context.close()


BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                      args=BROWSER_ARGS)
        yield chromium
        chromium.close()


class FakeApi(BaseHTTPRequestHandler):
    """Serves `self.server.script`: a list of (status, body, headers) answered in turn (the last repeats)."""

    def do_GET(self):  # noqa: N802 (the http.server API)
        server = self.server
        if self.path in server.routes:  # fixed answers by path, for feeds polled on a schedule
            status, body, headers = server.routes[self.path]
            server.requests.append(dict(self.headers))
            return self._answer(status, body, headers)
        server.requests.append(dict(self.headers))
        status, body, headers = server.script[min(len(server.requests) - 1, len(server.script) - 1)]
        if status == "sleep":
            time.sleep(body)
            status, body, headers = 200, b"[]", {}
        if headers.get("ETag") and self.headers.get("If-None-Match") == headers["ETag"]:
            status, body = 304, b""
        self._answer(status, body, headers)

    def _answer(self, status, body, headers):
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError):  # the client gave up (the timeout test)
            self.wfile.write(body)

    def do_POST(self):  # noqa: N802 (a webhook receiver: records the body, answers 200)
        length = int(self.headers.get("Content-Length") or 0)
        self.server.posts.append(json.loads(self.rfile.read(length) or b"null"))
        self._answer(200, b"{}", {"Content-Type": "application/json"})

    def log_message(self, *args):
        pass


def serve_fake_api() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    server.requests, server.script, server.routes, server.posts = [], [], {}, []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def api() -> Iterator[ThreadingHTTPServer]:
    server = serve_fake_api()
    yield server
    server.shutdown()


def native_payload(rt: Runtime, n: int = 3) -> bytes:
    """n valid native readings of one health entity, a minute apart, ending now."""
    entity = next(e for e in rt.config.region.entities if rt.config.kinds[e.kind].domain == "health")
    metric = rt.config.entity_metrics(entity.id)[0]
    now = datetime.now(UTC).replace(microsecond=0)
    low, high = rt.config.metrics[metric].valid_range
    return json.dumps([{"entity": entity.id, "ts": (now - timedelta(minutes=i)).isoformat(),
                        "values": {metric: (low + high) / 2}} for i in range(n)]).encode()
