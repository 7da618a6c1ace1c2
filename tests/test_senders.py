"""Hostile senders: each broker message is processed once whatever subscriptions overlap (Mosquitto, MQTT 5),
one bad or spoofed message is counted rather than a verdict on its feed, and everything a sender
controls (topic and excerpt lengths, metric labels, the number of dead-letter rows) is bounded."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ioc.config import FeedSpec, load_config
from ioc.feed_health import REJECT_MIN, FeedHealth
from ioc.health import health
from ioc.ingest import DEAD_LETTER_BURST, DEAD_LETTER_RATE, MAX_DEAD_PER_MESSAGE, MAX_SOURCE, REASON_CODES
from ioc.runtime import Runtime
from ioc.transports.mqtt import BrokerAddress, Publisher, collapse, covers
from tests.support import RUN_ID, add_feeds, drop_database, isolated_config, native_payload
from tests.waiting import wait_until


def count(rt: Runtime, table: str) -> int:
    with rt.db.connection() as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# --- one message, one ingest -----------------------------------------------------------------------

@pytest.mark.parametrize(("wide", "narrow", "expected"), [
    ("ioc/health/+", "ioc/health/simulator", True), ("ioc/health/simulator", "ioc/health/+", False),
    ("ioc/#", "ioc/health/+", True), ("ioc/+/+", "ioc/health/x", True), ("ioc/+", "ioc/health/x", False),
    ("ioc/health/+", "ioc/health/#", False), ("ioc/senml/#", "ioc/senml", True), ("ioc/a", "ioc/a", True),
])
def test_filter_coverage(wide, narrow, expected):
    assert covers(wide, narrow) is expected


def test_overlapping_filters_collapse_to_the_widest():
    subscribed, covered = collapse(["p/health/simulator", "p/health/+", "p/senml/+", "p/senml/#", "p/health/+"])
    assert subscribed == ["p/health/+", "p/senml/#"]
    assert covered == ["p/health/simulator", "p/senml/+"]


@pytest.fixture
def overlapping(tmp_path, pg_server_url, mqtt_url):
    """The shipped feeds (simulator `{domain}/simulator` within mqtt-native's `{domain}/+`) plus a SenML feed
    whose `senml/#` overlaps `senml/+`, on Mosquitto with MQTT 5."""
    if not mqtt_url.endswith(":1883"):
        pytest.skip("needs Mosquitto (MQTT 5 delivers one copy per matching subscription)")
    folder = isolated_config(tmp_path / "cfg", pg_server_url, mqtt_url, "overlap", {"mqtt": {"protocol": 5}},
                             feeds={})
    add_feeds(folder, {"name": "senml-all", "transport": "mqtt", "parser": "senml", "topic": "senml/#",
                       "stale_after": "1h"})
    config = load_config(folder, environ={})
    prefix = config.settings.mqtt.topic_prefix
    # A session left by an earlier version that subscribed the overlapping filter itself.
    old = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=config.settings.mqtt.client_id, protocol=mqtt.MQTTv5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 600
    old.connect("127.0.0.1", 1883, clean_start=True, properties=props)
    subscribed = threading.Event()
    old.on_subscribe = lambda *_: subscribed.set()
    old.loop_start()
    assert old.subscribe(f"{prefix}/health/simulator", qos=1)[0] == mqtt.MQTT_ERR_SUCCESS
    assert subscribed.wait(30)  # the broker holds the overlapping subscription in the kept session
    old.disconnect()
    old.loop_stop()
    rt = Runtime(config, with_simulator=False).start()
    assert rt.mqtt.connected.wait(20)
    yield rt
    rt.stop()
    drop_database(pg_server_url, f"ioc_test_{RUN_ID}_overlap")


def test_each_message_is_ingested_once_whatever_subscriptions_overlap(overlapping):
    rt = overlapping
    prefix = rt.config.settings.mqtt.topic_prefix
    assert not [(a, b) for a in rt.mqtt.topics for b in rt.mqtt.topics if a != b and covers(a, b)]
    entity = next(e for e in rt.config.region.entities if rt.config.kinds[e.kind].domain == "health")
    metric = rt.config.entity_metrics(entity.id)[0]
    low, high = rt.config.metrics[metric].valid_range
    pub = Publisher(BrokerAddress.from_url(rt.config.settings.mqtt.url), rt.mqtt_settings,
                    client_id=f"overlap-pub-{RUN_ID}")
    pub.connect()
    pub.publish(f"{prefix}/health/simulator", native_payload(rt, 3))  # the simulator's route, inside {domain}/+
    pub.publish(f"{prefix}/health/simulator", b"not json at all")  # one dead letter, not two
    # SenML without a time: stamped on arrival, so a second copy would be a second row.
    pub.publish(f"{prefix}/senml/gw-1", json.dumps([{"n": f"{entity.id}:{metric}", "v": (low + high) / 2}]).encode())
    pub.close()
    assert wait_until(lambda: count(rt, "readings") >= 4 and count(rt, "dead_letters") >= 1, timeout=60)
    # Every copy Mosquitto would send was queued with the first; a flush after the last counted one
    # leaves nothing in flight.
    assert wait_until(lambda: rt.mqtt.messages >= 3, timeout=60)
    rt.writer.flush()
    assert rt.mqtt.messages == 3
    assert (count(rt, "readings"), count(rt, "dead_letters")) == (4, 1)
    assert rt.writer.stats.readings_duplicate == 0
    # The most specific feed still owns each topic.
    assert rt.mqtt.route(f"{prefix}/health/simulator").feed == "simulator"
    assert rt.mqtt.route(f"{prefix}/senml/gw-1").feed == "mqtt-senml"


# --- feed health -----------------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_one_bad_message_is_counted_not_a_verdict():
    clock = Clock()
    health = FeedHealth([FeedSpec(name="gw", transport="mqtt", topic="{domain}/+",
                                  stale_after=timedelta(minutes=5))], clock)
    for _ in range(50):
        clock.now += timedelta(seconds=1)
        health.success("gw", 10)
    health.rejected("gw", "invalid JSON")  # one spoofed message
    assert health.feeds["gw"].state == "ok" and health.feeds["gw"].last_error == "invalid JSON"
    for _ in range(REJECT_MIN * 2):  # a stream of junk amid the good readings: still mostly good
        health.rejected("gw", "invalid JSON")
    assert health.feeds["gw"].state == "ok"
    for _ in range(60):  # mostly junk: now the feed is failing
        clock.now += timedelta(milliseconds=200)
        health.rejected("gw", "invalid JSON")
    assert health.feeds["gw"].state == "failing"
    clock.now += timedelta(minutes=2)  # the junk is out of the window; good readings flow again
    health.success("gw", 10)
    assert health.feeds["gw"].state == "ok"
    clock.now += timedelta(seconds=1)
    health.failure("gw", "HTTP 503 after 3 attempt(s)")  # a failed fetch is a verdict at once
    assert health.feeds["gw"].state == "failing"
    assert len(health.feeds["gw"].recent) <= 61  # one tally per second of the window


def test_an_ingest_only_worker_is_judged_on_what_it_runs(tmp_path, pg_server_url, mqtt_url):
    folder = isolated_config(tmp_path / "cfg", pg_server_url, mqtt_url, "ingestrole")
    rt = Runtime(load_config(folder, environ={}), role="ingest").start()
    try:
        assert rt.mqtt.connected.wait(20)
        body, ok = wait_until(lambda: (result := health(rt))[1] and result, 30) or health(rt)
        assert ok, body
        assert "scheduler" not in body["checks"] and body["role"] == "ingest"
    finally:
        rt.stop()
        drop_database(pg_server_url, f"ioc_test_{RUN_ID}_ingestrole")


# --- bounds ----------------------------------------------------------------------------------------

def dead_letter_series(rt: Runtime) -> dict[str, float]:
    text = generate_latest(rt.metrics.registry).decode()
    return {f"{s.name}{s.labels}": s.value for family in text_string_to_metric_families(text)
            if family.name in ("ioc_dead_letters", "ioc_dead_letters_dropped") for s in family.samples
            if s.name.endswith("_total")}


def test_a_hostile_sender_gets_bounded_rows_and_bounded_series(clean_db):
    rt = clean_db
    prefix = rt.config.settings.mqtt.topic_prefix
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    dropped_before = rt.ingestor.dead_letters_dropped["mqtt-native"]
    pub = Publisher(BrokerAddress.from_url(rt.config.settings.mqtt.url), rt.mqtt_settings,
                    client_id=f"hostile-pub-{RUN_ID}")
    pub.connect()
    began = time.monotonic()
    # One message on a 60,000-character topic, carrying 500 rejections of its own.
    pub.publish(f"{prefix}/health/" + "x" * 60_000,
                json.dumps([{"entity": f"nope-{i}", "ts": now, "values": {"m": 1}} for i in range(500)]).encode())
    flood = 400  # then a flood of distinct rejection texts, one per message
    for i in range(flood):
        pub.publish(f"{prefix}/health/gw-{i % 7}",
                    json.dumps({"entity": f"spoof-{i}-{'z' * (i % 50)}", "ts": now, "values": {"m": 1}}).encode())
    pub.close()

    def accounted():
        with rt.db.connection() as conn:
            one_by_one, summaries, longest = conn.execute(
                "SELECT count(*) FILTER (WHERE reason NOT LIKE '%more rejection(s) in this message%'), "
                "count(*) FILTER (WHERE reason LIKE '%more rejection(s) in this message%'), "
                "coalesce(max(length(source)), 0) FROM dead_letters").fetchone()
        dropped = rt.ingestor.dead_letters_dropped["mqtt-native"] - dropped_before
        return (one_by_one + dropped == 500 + flood) and (one_by_one, summaries, longest, dropped)

    result = wait_until(accounted, 120)
    assert result, "every rejection is either stored or counted as dropped"
    one_by_one, summaries, longest, dropped = result
    elapsed = time.monotonic() - began
    assert summaries == 1 and longest <= MAX_SOURCE + 20
    assert one_by_one + summaries <= DEAD_LETTER_BURST + DEAD_LETTER_RATE * elapsed + 1
    assert dropped >= 500 - MAX_DEAD_PER_MESSAGE + 1
    with rt.db.connection() as conn:
        longest_payload, longest_reason = conn.execute(
            "SELECT max(length(payload)), max(length(reason)) FROM dead_letters").fetchone()
    assert longest_payload <= 700 and longest_reason <= 700
    series = dead_letter_series(rt)
    reasons = {k for k in series if k.startswith("ioc_dead_letters_total")}
    assert len(reasons) == len(REASON_CODES)  # fixed, whatever was sent
    assert series["ioc_dead_letters_total{'reason': 'unknown_entity'}"] >= 500 + flood
    assert series["ioc_dead_letters_dropped_total{'feed': 'mqtt-native'}"] >= dropped
