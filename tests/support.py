"""Helpers shared by the tests (fixtures live in conftest.py and use these; tests import them from here)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import yaml
from psycopg import sql
from waitress import create_server

from ioc import timescale
from ioc.config import copy_config
from ioc.runtime import Runtime
from ioc.services import free_port, fresh_database

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output"
RUN_ID = secrets.token_hex(3)
TIMESCALE_URL = os.environ.get("IOC_TEST_TIMESCALE_URL")  # a server that preloads TimescaleDB: the second tier


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False

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

# The people of the live runtime: username → (display name, role, domains). One password for all.
PEOPLE = {
    "ha": ("Phạm Thu Hà", "admin", []),
    "an": ("Nguyễn Văn An", "operator", []),
    "hoa": ("Nguyễn Thị Hoa", "officer", ["education"]),
    "minh": ("Lê Văn Minh", "officer", ["health"]),
    "nam": ("Hoàng Văn Nam", "leader", []),
}
PASSWORD = "mat-khau-thu-nghiem-2026"

def sign_in(page, web_url: str, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login form (as a person would) and wait for the product."""
    page.goto(web_url + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url, timeout=10_000)

def serve(app, threads: int = 2, port: int | None = None, **options) -> tuple[str, Callable[[], None]]:
    """A WSGI app served by waitress in a daemon thread, on `port` or a free one: (its URL, a function that
    stops it). `options` go to waitress.

    The stop closes every socket from inside the server's own loop and waits for it to end: closing them from
    another thread races the loop's select (EBADF in the server thread). wasyncore keeps the sockets the loop
    watches in the server's `_map`."""
    server = create_server(app, host="127.0.0.1", port=port or free_port(), threads=threads, **options)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()

    def stop() -> None:
        server.trigger.pull_trigger(lambda: [channel.close() for channel in list(server._map.values())])
        thread.join(10)
        server.task_dispatcher.shutdown()

    return f"http://127.0.0.1:{server.effective_port}", stop


BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]

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

def native_payload(rt: Runtime, n: int = 3) -> bytes:
    """n valid native readings of one health entity, a minute apart, ending now."""
    entity = next(e for e in rt.config.region.entities if rt.config.kinds[e.kind].domain == "health")
    metric = rt.config.entity_metrics(entity.id)[0]
    now = datetime.now(UTC).replace(microsecond=0)
    low, high = rt.config.metrics[metric].valid_range
    return json.dumps([{"entity": entity.id, "ts": (now - timedelta(minutes=i)).isoformat(),
                        "values": {metric: (low + high) / 2}} for i in range(n)]).encode()


# A browser test waits for the page's own readiness signal: Dash draws `._dash-loading` until the layout is
# rendered and `._dash-loading-callback` while any callback is in flight. The timeout only bounds how long a
# failing test waits on a busy machine.
PAGE_TIMEOUT = 120_000  # ms
DASH_READY = ("() => !!document.querySelector('#react-entry-point') && !document.querySelector('._dash-loading')"
              " && !document.querySelector('._dash-loading-callback')")


def wait_ready(page, timeout: int = PAGE_TIMEOUT) -> None:
    """Wait until Dash has rendered the page and no callback is running."""
    page.wait_for_function(DASH_READY, timeout=timeout)


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
