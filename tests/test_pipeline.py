"""End to end through the broker: publish native messages, count what PostgreSQL holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from feeds import native
from ioc.db import Partitions
from ioc.ingest import Ingestor
from ioc.runtime import Runtime
from ioc.transports.mqtt import MqttIngest, Publisher, Route
from ioc.writer import BatchWriter
from tests.waiting import wait_until


def counts(rt: Runtime) -> tuple[int, int]:
    with rt.db.connection() as conn:
        readings = conn.execute("SELECT count(*) FROM readings").fetchone()[0]
        dead = conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
    return readings, dead


def wait_for_counts(rt: Runtime, readings: int, dead: int, timeout: float = 30) -> tuple[int, int]:
    """The stored counts once they reach (readings, dead) and everything the subscriber has taken so far
    is committed (a second copy of a message it received would be in the counts)."""
    wait_until(lambda: counts(rt) == (readings, dead), timeout)
    assert rt.writer.flush(timeout)
    return counts(rt)


@pytest.fixture
def publisher(clean_db: Runtime):
    pub = Publisher(clean_db.broker_address, clean_db.mqtt_settings)
    pub.connect()
    yield pub
    pub.close()


def pick(rt: Runtime, domain: str, n: int = 1):
    """n entities of a domain with one metric each and a value inside its valid range."""
    config = rt.config
    found = []
    for entity in config.region.entities:
        kind = config.kinds[entity.kind]
        if kind.domain == domain:
            metric = config.metrics[kind.metrics[0]]
            low, high = metric.valid_range
            found.append((entity.id, metric.key, round((low + high) / 2, 3)))
        if len(found) == n:
            return found
    raise AssertionError(f"fewer than {n} entities in {domain}")


def topic(rt: Runtime, domain: str, entity: str) -> str:
    return f"{rt.mqtt_settings.topic_prefix}/{domain}/{entity}"


def test_single_reading_is_stored_with_latest(clean_db, publisher):
    (entity, metric, value), = pick(clean_db, "health")
    ts = datetime.now(UTC).replace(microsecond=0)
    publisher.publish(topic(clean_db, "health", entity),
                      json.dumps({"ts": ts.isoformat(), "values": {metric: value}}).encode())
    assert wait_for_counts(clean_db, 1, 0) == (1, 0)
    with clean_db.db.connection() as conn:
        row = conn.execute("SELECT l.ts, l.value FROM latest l JOIN series s ON s.id = l.series_id "
                           "WHERE s.entity = %s AND s.metric = %s", (entity, metric)).fetchone()
    assert row == (ts, value)


def test_batch_across_entities_and_epoch_times(clean_db, publisher):
    targets = pick(clean_db, "traffic", 5)
    start = datetime.now(UTC) - timedelta(hours=1)
    batch = [{"entity": e, "ts": (start + timedelta(minutes=i)).timestamp(), "values": {m: v}}
             for e, m, v in targets for i in range(20)]
    publisher.publish(topic(clean_db, "traffic", "gateway-1"), json.dumps(batch).encode())
    assert wait_for_counts(clean_db, 100, 0) == (100, 0)


def test_duplicate_message_is_stored_once(clean_db, publisher):
    (entity, metric, value), = pick(clean_db, "education")
    ts = datetime.now(UTC) - timedelta(minutes=3)
    message = json.dumps({"ts": ts.isoformat(), "values": {metric: value}}).encode()
    before = clean_db.writer.stats.readings_duplicate
    for _ in range(3):
        publisher.publish(topic(clean_db, "education", entity), message)
    publisher.drain()
    assert wait_for_counts(clean_db, 1, 0) == (1, 0)
    clean_db.writer.flush()
    assert clean_db.writer.stats.readings_duplicate - before == 2


def test_valid_and_malformed_mixed(clean_db, publisher):
    rt = clean_db
    (h_entity, h_metric, h_value), (h2_entity, _, _) = pick(rt, "health", 2)
    (t_entity, t_metric, t_value), = pick(rt, "traffic")
    now = datetime.now(UTC)
    iso = now.isoformat()
    low, high = rt.config.metrics[h_metric].valid_range
    batch = [
        {"ts": iso, "values": {h_metric: h_value}},                                   # valid
        {"entity": h2_entity, "ts": iso, "values": {h_metric: h_value}},              # valid
        {"ts": (now - timedelta(seconds=1)).isoformat(), "values": {h_metric: "high"}},  # not a number
        {"ts": (now - timedelta(seconds=2)).isoformat(), "values": {"no_such_metric": 1}},
        {"entity": "no-such-entity", "ts": iso, "values": {h_metric: h_value}},
        {"entity": t_entity, "ts": iso, "values": {t_metric: t_value}},               # domain mismatch
        {"ts": (now + timedelta(hours=1)).isoformat(), "values": {h_metric: h_value}},  # future
        {"ts": (now - timedelta(days=400)).isoformat(), "values": {h_metric: h_value}},  # too old
        {"ts": "2026-11-27T08:00:00", "values": {h_metric: h_value}},                  # no offset
        {"ts": (now - timedelta(seconds=3)).isoformat(), "values": {h_metric: high + 1}},  # out of range
        {"values": {h_metric: h_value}},                                              # no time
    ]
    publisher.publish(topic(rt, "health", h_entity), json.dumps(batch).encode())
    publisher.publish(topic(rt, "health", h_entity),
                      b'[{"ts": 1, "values": {"' + h_metric.encode() + b'": NaN}}]')  # NaN: not finite
    publisher.publish(topic(rt, "health", h_entity), b'{"ts": ')                     # invalid JSON
    publisher.publish(topic(rt, "health", h_entity), b'\xff\xfe{"ts": 1}')           # invalid UTF-8
    publisher.publish(topic(rt, "health", h_entity),
                      b" " * (rt.config.settings.ingest.max_payload_bytes + 1))       # oversized
    publisher.publish(topic(rt, "health", h_entity), b"[]")                          # empty batch
    (t2_entity, t2_metric, t2_value), = pick(rt, "traffic")
    publisher.publish(topic(rt, "traffic", t2_entity),                                 # still flowing after
                      json.dumps({"ts": iso, "values": {t2_metric: t2_value}}).encode())
    assert wait_for_counts(rt, 3, 14) == (3, 14)
    with rt.db.connection() as conn:
        reasons = [r for (r,) in conn.execute("SELECT reason FROM dead_letters ORDER BY id")]
    for expected in ("is not a number", "unknown metric", "unknown entity", "domain mismatch", "in the future",
                     "older than the retention", "no UTC offset", "outside its valid range", "ts must be",
                     "not finite", "invalid JSON", "invalid UTF-8", "payload too large", "empty batch"):
        assert any(expected in reason for reason in reasons), (expected, reasons)


def test_message_is_acknowledged_only_after_commit(clean_db, publisher):
    """A subscriber whose writer never commits acknowledges nothing: after it goes away, the broker
    delivers the same messages to the next subscriber of that session, which stores them."""
    rt = clean_db
    targets = pick(rt, "security", 3)
    session = rt.mqtt_settings.model_copy(update={"client_id": f"{rt.mqtt_settings.client_id}-ack"})
    stalled_writer = BatchWriter(rt.db, Partitions(rt.storage), rt.config.settings.ingest)  # not started
    routes = [Route(f"{session.topic_prefix}/security/+", None, native.parse)]
    first = MqttIngest(rt.broker_address, session, Ingestor(rt.config, stalled_writer), routes)
    first.start()
    assert first.connected.wait(10)
    now = datetime.now(UTC)
    for entity, metric, value in targets:
        publisher.publish(topic(rt, "security", entity),
                          json.dumps({"ts": now.isoformat(), "values": {metric: value}}).encode())
    publisher.drain()
    assert wait_until(lambda: first.messages >= len(targets))
    assert first.messages == len(targets)
    # The main subscriber (another session) stored them; clear that to see what the second one stores.
    wait_for_counts(rt, len(targets), 0)
    with rt.db.connection() as conn:
        conn.execute("TRUNCATE readings, latest")
    first.client.loop_stop()  # vanish without acknowledging, as a crashed process would
    first.client.socket().close()
    second = MqttIngest(rt.broker_address, session, rt.ingestor, routes)
    second.start()
    try:
        assert wait_for_counts(rt, len(targets), 0) == (len(targets), 0)
    finally:
        second.stop()


def test_senml_pack_over_mqtt(clean_db, publisher):
    rt = clean_db
    (entity, metric, value), = pick(rt, "agriculture")
    base = int(datetime.now(UTC).timestamp()) - 120
    pack = [{"bn": f"{entity}:", "bt": base, "n": metric, "v": value},
            {"n": metric, "t": 60, "v": value},
            {"n": "no_such_metric", "t": 60, "v": 1}]
    publisher.publish(f"{rt.mqtt_settings.topic_prefix}/senml/gateway-7", json.dumps(pack).encode())
    assert wait_for_counts(rt, 2, 1) == (2, 1)
    with rt.db.connection() as conn:
        assert conn.execute("SELECT DISTINCT feed FROM latest").fetchone()[0] == "mqtt-senml"
