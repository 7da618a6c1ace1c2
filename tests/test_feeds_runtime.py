"""Feeds declared in feeds.yaml, run by the runtime: an HTTP source on APScheduler, health in the database."""

from __future__ import annotations

import time

import pytest
import yaml

from ioc.config import ConfigError, copy_config, load_config
from ioc.runtime import Runtime
from tests.conftest import RUN_ID, drop_database, fresh_database, native_payload


def add_feeds(folder, *feeds):
    path = folder / "feeds.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["feeds"].extend(feeds)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


def wait_until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    return predicate()


@pytest.fixture
def feeds_runtime(tmp_path, pg_server_url, mqtt_url, api, runtime):
    name = f"ioc_test_{RUN_ID}_feeds"
    folder = copy_config(tmp_path / "config", {
        "database": {"url": fresh_database(pg_server_url, name)},
        "mqtt": {"url": mqtt_url, "topic_prefix": f"iocfeeds{RUN_ID}", "client_id": f"ioc-feeds-{RUN_ID}",
                 "protocol": runtime.mqtt_settings.protocol},
    }, feeds={"simulator": {"enabled": False}})
    base = f"http://127.0.0.1:{api.server_port}"
    add_feeds(folder,
              {"name": "dept-health", "transport": "http_poll", "parser": "native", "url": f"{base}/ok",
               "interval": "1s", "timeout": "2s", "retries": 0, "stale_after": "1m"},
              {"name": "dept-broken", "transport": "http_poll", "parser": "native", "url": f"{base}/down",
               "interval": "1s", "timeout": "2s", "retries": 0, "stale_after": "1m"})
    api.script = [(200, native_payload(runtime, 4), {})]
    api.routes = {"/down": (500, b"maintenance", {})}
    rt = Runtime(load_config(folder, environ={})).start()
    yield rt
    rt.stop()
    drop_database(pg_server_url, name)


def health_rows(rt):
    with rt.db.connection() as conn:
        return {feed: state for feed, state in conn.execute("SELECT feed, state FROM feed_health")}


def test_http_feeds_run_on_schedule_and_report_health(feeds_runtime):
    rt = feeds_runtime
    states = wait_until(lambda: (h := health_rows(rt)).get("dept-health") == "ok"
                        and h.get("dept-broken") == "failing" and h)
    expected = {spec.name: "waiting" if spec.enabled else "disabled" for spec in rt.config.feeds}
    expected.update({"dept-health": "ok", "dept-broken": "failing"})
    assert states == expected
    with rt.db.connection() as conn:
        assert conn.execute("SELECT count(*), min(feed), max(feed) FROM latest").fetchone() == (1, "dept-health",
                                                                                                "dept-health")
        assert conn.execute("SELECT last_error FROM feed_health WHERE feed = 'dept-broken'").fetchone()[0] == \
            "HTTP 500 after 1 attempt(s)"


def test_bad_parser_options_stop_start_up(tmp_path):
    folder = copy_config(tmp_path / "config", {})
    shipped = len(load_config(folder, environ={}).feeds)
    add_feeds(folder, {"name": "dept", "transport": "http_poll", "parser": "native", "url": "http://127.0.0.1:9/",
                       "interval": "1m", "stale_after": "1h", "options": {"colour": "blue"}})
    with pytest.raises(ConfigError) as err:
        Runtime(load_config(folder, environ={})).start()
    assert (err.value.key, err.value.reason) == (f"feeds.{shipped}.options.colour", "unknown key")
    add_feeds(folder, {"name": "dept2", "transport": "http_poll", "url": "ftp://x", "interval": "1m",
                       "stale_after": "1h"})
    with pytest.raises(ConfigError) as err:
        load_config(folder, environ={})
    assert err.value.key == f"feeds.{shipped + 1}" and "http://" in err.value.reason
