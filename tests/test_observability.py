"""/healthz and /metrics: every part named, overload and outages visible, Prometheus text format."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import flask
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ioc.config import load_config
from ioc.runtime import Runtime
from ioc.services import Postgres
from ioc.transports.mqtt import BrokerAddress, Publisher
from tests.support import isolated_config, native_payload, serve
from tests.waiting import wait_until


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def samples(text: str) -> dict[str, float]:
    """{'name{label="v"}': value} from the Prometheus text format (parsed by its reference parser)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return out


def test_healthz_names_every_part(web_url):
    status, body = get(f"{web_url}/healthz")
    health = json.loads(body)
    assert set(health["checks"]) >= {"database", "broker", "writer", "spool", "storage", "scheduler", "feeds",
                                     "alerts"}
    assert health["checks"]["storage"]["path"] in ("timescaledb", "postgresql")
    assert health["checks"]["spool"]["state"] == "empty"
    assert health["checks"]["scheduler"]["state"] == "running"
    assert "simulator" in health["checks"]["feeds"]["details"]
    assert (status == 200) == (health["status"] == "ok") and health["failing"] == [
        name for name, check in health["checks"].items() if not check["ok"]]


def test_metrics_in_prometheus_format_with_callback_latency(web_url, page):
    page.goto(f"{web_url}/?lang=en")  # the page's callbacks go through /_dash-update-component
    page.wait_for_selector("#nav-links", timeout=30_000)
    page.wait_for_timeout(1500)
    status, text = get(f"{web_url}/metrics")
    assert status == 200
    values = samples(text)
    for name in ("ioc_ingest_readings_total", "ioc_ingest_rate", "ioc_writer_queue_depth", "ioc_spool_bytes",
                 "ioc_spool_batches", "ioc_ingest_dropped", "ioc_broker_connected", "ioc_database_up",
                 'ioc_alerts{state="firing"}', "ioc_ingest_lag_seconds_count"):
        assert name in values, name
    assert values["ioc_ingest_readings_total"] > 0 and values["ioc_ingest_lag_seconds_count"] > 0
    assert values["ioc_ingest_dropped"] == 0 and values["ioc_database_up"] == 1
    assert any(k.startswith("ioc_feed_state{") and 'feed="simulator"' in k for k in values)
    assert values["ioc_dash_callback_seconds_count"] > 0


@pytest.fixture
def outage(tmp_path, mqtt_url):
    """A runtime on a PostgreSQL of our own (so that it can be stopped), serving /healthz and /metrics."""
    pg = Postgres().start()
    folder = isolated_config(tmp_path / "config", pg.url, mqtt_url, "outage", {"ingest": {"batch_max_delay": "50ms"}})
    rt = Runtime(load_config(folder, environ={}), with_simulator=False).start()
    assert rt.mqtt.connected.wait(10)
    server = flask.Flask("outage-test")
    rt.register_http(server)
    url, stop_http = serve(server)
    yield rt, pg, url
    stop_http()
    rt.stop()
    pg.remove()


def test_database_outage_is_visible_and_nothing_is_lost(outage):
    rt, pg, url = outage
    entity = next(e for e in rt.config.region.entities if rt.config.kinds[e.kind].domain == "health")
    topic = f"{rt.config.settings.mqtt.topic_prefix}/health/{entity.id}"
    pub = Publisher(BrokerAddress.from_url(rt.config.settings.mqtt.url), rt.config.settings.mqtt)
    pub.connect()
    pg.stop()
    pub.publish(topic, native_payload(rt, 5))
    pub.drain()
    assert wait_until(lambda: not rt.spool.empty)
    status, body = get(f"{url}/healthz")
    health = json.loads(body)
    assert status == 503 and {"database", "spool"} <= set(health["failing"])
    assert health["checks"]["spool"]["state"] == "holding" and health["checks"]["spool"]["bytes"] > 0
    values = samples(get(f"{url}/metrics")[1])
    assert values["ioc_database_up"] == 0 and values["ioc_spool_bytes"] > 0 and values["ioc_spool_batches"] >= 1
    pg.start()
    assert wait_until(lambda: rt.spool.empty and get(f"{url}/healthz")[0] == 200, 60), get(f"{url}/healthz")[1]
    with rt.db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM readings").fetchone()[0] == 5
    values = samples(get(f"{url}/metrics")[1])
    assert values["ioc_spool_bytes"] == 0 and values["ioc_spool_replayed_batches_total"] >= 1
    pub.close()


def test_overload_is_visible_bounded_and_lossless(tmp_path, mqtt_url):
    """Database down and a spool too small: the spool fills, the writer queue fills to its bound, ingest
    blocks (the broker keeps the rest) — all of it shown in /healthz and /metrics — and once the
    database is back every reading is stored."""
    pg = Postgres().start()
    folder = isolated_config(tmp_path / "config", pg.url, mqtt_url, "overload", {"ingest": {
        "batch_max_delay": "50ms", "spool_max_bytes": 65_536, "queue_max_messages": 10, "queue_max_readings": 1000}})
    rt = Runtime(load_config(folder, environ={}), with_simulator=False).start()
    server = flask.Flask("overload-test")
    rt.register_http(server)
    url, stop_http = serve(server)
    try:
        assert rt.mqtt.connected.wait(10)
        config = rt.config
        series = [(e.id, m) for e in config.region.entities if config.kinds[e.kind].domain == "health"
                  for m in config.entity_metrics(e.id)]
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        pub = Publisher(BrokerAddress.from_url(config.settings.mqtt.url), config.settings.mqtt)
        pub.connect()
        pg.stop()
        sent = 0
        for i in range(120):
            entity, metric = series[i % len(series)]
            low, high = config.metrics[metric].valid_range
            pub.publish(f"{config.settings.mqtt.topic_prefix}/health/{entity}", json.dumps(
                [{"ts": (now - timedelta(minutes=i * 50 + j)).isoformat(), "values": {metric: (low + high) / 2}}
                 for j in range(50)]).encode())
            sent += 50
        pub.drain()
        assert wait_until(lambda: rt.spool.full and rt.writer.queue_depth > 0, 60)
        health = json.loads(get(f"{url}/healthz")[1])
        assert health["checks"]["spool"]["state"] == "full" and "not acknowledged" not in health["checks"]["spool"]
        assert "spool full" in health["checks"]["spool"]["error"]
        values = samples(get(f"{url}/metrics")[1])
        assert values["ioc_spool_full"] == 1 and values["ioc_ingest_dropped"] == 0
        assert values["ioc_writer_queue_readings"] <= 1000 + 50  # bounded, whatever arrives
        pg.start()
        assert wait_until(lambda: rt.spool.empty and count(rt) == sent, 90), (count(rt), sent)
        assert wait_until(lambda: get(f"{url}/healthz")[0] == 200, 30), get(f"{url}/healthz")[1]
        pub.close()
    finally:
        stop_http()
        rt.stop()
        pg.remove()


def count(rt: Runtime) -> int:
    try:
        with rt.db.connection(timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM readings").fetchone()[0]
    except Exception:
        return -1
