"""Feeds declared in feeds.yaml, run by the runtime: an HTTP source on APScheduler, health in the database."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from ioc.config import ConfigError, copy_config, load_config
from ioc.runtime import Runtime, register_plugins
from ioc.transports.contract import feed_parsers
from tests.support import ROOT, RUN_ID, add_feeds, drop_database, isolated_config, native_payload
from tests.waiting import wait_until


@pytest.fixture
def feeds_runtime(tmp_path, pg_server_url, mqtt_url, api, runtime):
    folder = isolated_config(tmp_path / "config", pg_server_url, mqtt_url, "feeds")
    base = f"http://127.0.0.1:{api.server_port}"
    add_feeds(folder,
              {"name": "dept-health", "transport": "http_poll", "parser": "native", "url": f"{base}/ok",
               "interval": "1s", "timeout": "10s", "retries": 0, "stale_after": "1m"},
              {"name": "dept-broken", "transport": "http_poll", "parser": "native", "url": f"{base}/down",
               "interval": "1s", "timeout": "10s", "retries": 0, "stale_after": "1m"})
    api.script = [(200, native_payload(runtime, 4), {})]
    api.routes = {"/down": (500, b"maintenance", {})}
    rt = Runtime(load_config(folder, environ={})).start()
    yield rt
    rt.stop()
    drop_database(pg_server_url, f"ioc_test_{RUN_ID}_feeds")


def health_rows(rt):
    with rt.db.connection() as conn:
        return {feed: state for feed, state in conn.execute("SELECT feed, state FROM feed_health")}


def test_http_feeds_run_on_schedule_and_report_health(feeds_runtime):
    rt = feeds_runtime
    states = wait_until(lambda: (h := health_rows(rt)).get("dept-health") == "ok"
                        and h.get("dept-broken") == "failing" and h, timeout=40)
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


def test_json_and_csv_sources_are_one_yaml_entry_each(tmp_path, pg_server_url, mqtt_url, api, runtime,
                                                       monkeypatch):
    """The README's two department examples, pointed at a local server, land in PostgreSQL."""
    examples = yaml.safe_load((ROOT / "docs" / "examples" / "feeds-department.yaml").read_text(encoding="utf-8"))
    base = f"http://127.0.0.1:{api.server_port}"
    examples[0]["url"], examples[1]["url"] = f"{base}/beds", f"{base}/lychee.csv"
    for entry in examples:
        entry["interval"] = "1s"
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%d/%m/%Y")
    csv = ("\ufeffHuyện;Ngày báo cáo;Sản lượng thu hoạch (tấn);Giá tại vườn (đồng/kg)\n"
           f"Lục Ngạn;{today};1.520,5;32.000\nTân Yên;{today};410;28.500\n").encode()
    # The recorded answer, moved to a day inside the retention window whatever the date of the run.
    yesterday = (datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")) - timedelta(days=1)).strftime("%Y-%m-%d")
    beds = (ROOT / "tests" / "fixtures" / "dept_health_beds.json").read_bytes().replace(b"2026-11-27",
                                                                                        yesterday.encode())
    api.routes = {"/beds": (200, beds, {"Content-Type": "application/json"}),
                  "/lychee.csv": (200, csv, {"Content-Type": "text/csv"})}
    monkeypatch.setenv("IOC_TOKEN_SO_Y_TE", "so-y-te-secret")
    folder = isolated_config(tmp_path / "config", pg_server_url, mqtt_url, "dept")
    add_feeds(folder, *examples)
    rt = Runtime(load_config(folder, environ={})).start()
    try:
        def stored():
            with rt.db.connection() as conn:
                return conn.execute("SELECT s.entity, s.metric, r.value, l.feed FROM readings r "
                                    "JOIN series s ON s.id = r.series_id JOIN latest l ON l.series_id = s.id "
                                    "ORDER BY 1, 2").fetchall()
        rows = wait_until(lambda: len(r := stored()) >= 6 and r)
        assert ("agri-lng", "lychee_harvest", 1520.5, "dept-agri-lychee") in rows
        assert ("agri-tye", "lychee_price", 28500.0, "dept-agri-lychee") in rows
        assert ("hosp-bgc-01", "bed_occupancy", pytest.approx(93.4), "dept-health-beds") in rows
        assert any(r.get("Authorization") == "Bearer so-y-te-secret" for r in api.requests)
        assert rt.feed_health.feeds["dept-health-beds"].state == "ok"
    finally:
        rt.stop()
        drop_database(pg_server_url, f"ioc_test_{RUN_ID}_dept")


def test_bad_simulator_option_fails_check_config(tmp_path):
    folder = copy_config(tmp_path / "config", {}, feeds={"simulator": {"options": {"anomaly_rate": 7}}})
    register_plugins()
    with pytest.raises(ConfigError) as err:
        feed_parsers(load_config(folder, environ={}))
    assert err.value.key == "feeds.0.options.anomaly_rate" and "less than or equal to 1" in err.value.reason


@pytest.mark.parametrize("feed, where, reason", [
    ({"name": "gw", "transport": "mqtt", "stale_after": "10m"}, "", "needs topic"),
    ({"name": "dept", "transport": "http_poll", "url": "http://127.0.0.1:9/", "stale_after": "10m"}, "",
     "needs interval"),
    ({"name": "bird", "transport": "carrier_pigeon", "topic": "x", "stale_after": "10m"}, ".transport",
     "not registered"),
])
def test_each_transport_checks_what_it_needs(tmp_path, feed, where, reason):
    folder = copy_config(tmp_path / "config", {})
    add_feeds(folder, feed)
    register_plugins()
    config = load_config(folder, environ={})
    index = next(i for i, spec in enumerate(config.feeds) if spec.name == feed["name"])
    with pytest.raises(ConfigError) as err:
        feed_parsers(config)
    assert err.value.key == f"feeds.{index}{where}" and reason in err.value.reason
