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

import os
import shutil
import tempfile
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from ioc.config import Config, copy_config, load_config
from ioc.embedded import EmbeddedBroker, start_postgres, stop_postgres
from ioc.runtime import Runtime
from ioc.services import free_port, fresh_database
from tests.support import (
    BROWSER_ARGS,
    OUTPUT,
    PASSWORD,
    PEOPLE,
    RUN_ID,
    TIMESCALE_URL,
    drop_database,
    empty_readings,
    isolated_config,
    protocol_for,
    reachable,
    serve,
    serve_fake_api,
    sign_in,
)

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


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT


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
    url, stop = serve(web_app.server, threads=4, port=simulated.config.settings.http.port)
    yield url
    stop()


@pytest.fixture(scope="session")
def people(simulated: Runtime, web_url: str) -> dict:
    """PEOPLE as users of the live runtime (created after the web app, which bootstraps `admin`)."""
    from ioc.auth import store as auth_store

    existing = set(auth_store.users(simulated.db)["username"])
    for username, (name, role, domains) in PEOPLE.items():
        if username not in existing:
            auth_store.add_user(simulated.db, username, PASSWORD, role, domains, name, actor="tests")
    return PEOPLE


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


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                      args=BROWSER_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def api() -> Iterator[ThreadingHTTPServer]:
    server = serve_fake_api()
    yield server
    server.shutdown()
