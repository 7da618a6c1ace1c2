"""The alert engine running against PostgreSQL and the broker: crossing readings fire within a second,
`for` is honoured across a restart without duplicates, and only one of two engines evaluates."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from ioc import alert_queries
from ioc.alerts import actions, conditions, store
from ioc.alerts.rules import load_rules
from ioc.alerts.service import AlertService
from ioc.config import load_config
from ioc.health import health
from ioc.runtime import Runtime
from ioc.transports.mqtt import Publisher, make_client
from tests.support import RUN_ID, drop_database, isolated_config, serve_fake_api
from tests.waiting import wait_until

RULES = """
defaults: {catalog_rules: true}
rules:
  - name: hot-beds
    condition: above
    metric: bed_occupancy
    warning: 85
    critical: 95
    for: 2s
notify:
  group_wait: 100ms
  group_interval: 300ms
  channels:
    - {type: webhook, name: ops, url: "WEBHOOK", retries: 2, retry_backoff: 100ms}
    - {type: mqtt, name: bus, topic_prefix: "PREFIX/alerts"}
"""


@pytest.fixture(scope="module")
def alert_rt(tmp_path_factory, pg_server_url, mqtt_url):
    folder = isolated_config(tmp_path_factory.mktemp("alerts-config"), pg_server_url, mqtt_url, "alert",
                             {"ingest": {"batch_max_delay": "20ms"}})
    receiver = serve_fake_api()
    prefix = load_config(folder, environ={}).settings.mqtt.topic_prefix
    (folder / "alerts.yaml").write_text(RULES.replace("WEBHOOK", f"http://127.0.0.1:{receiver.server_port}/hook")
                                        .replace("PREFIX", prefix), encoding="utf-8")
    rt = Runtime(load_config(folder, environ={})).start()
    assert rt.mqtt.connected.wait(10)
    publisher = Publisher(rt.broker_address, rt.mqtt_settings)
    publisher.connect()
    bus: list[dict] = []
    listener = make_client(rt.broker_address, rt.mqtt_settings)
    listener.on_message = lambda client, userdata, message: bus.append(json.loads(message.payload))
    listener.connect(rt.broker_address.host, rt.broker_address.port)
    listener.subscribe(f"{prefix}/alerts/#", qos=1)
    listener.loop_start()
    rt.test_receiver, rt.test_bus = receiver, bus
    yield rt, publisher
    listener.loop_stop()
    publisher.close()
    rt.stop()
    receiver.shutdown()
    drop_database(pg_server_url, f"ioc_test_{RUN_ID}_alert")


def send(rt, publisher, entity: str, metric: str, value: float) -> float:
    domain = rt.config.entity_domain(entity)
    publisher.publish(f"{rt.mqtt_settings.topic_prefix}/{domain}/{entity}",
                      json.dumps({"ts": datetime.now(UTC).isoformat(), "values": {metric: value}}).encode())
    return time.monotonic()


def alerts_of(rt, rule: str, subject: str) -> list[tuple]:
    with rt.db.connection() as conn:
        return conn.execute("SELECT id, state, severity FROM alerts WHERE rule = %s AND subject = %s ORDER BY id",
                            (rule, subject)).fetchall()


def settled(rt) -> None:
    """Wait until the engine has ticked twice more (whatever the last readings cause has been emitted) and
    the notifier has delivered everything it was given."""
    ticks = rt.alerts.ticks
    assert wait_until(lambda: rt.alerts.ticks >= ticks + 2)
    assert rt.notifier.flush(30)


def value_of(rt, alert_id: int) -> float | None:
    with rt.db.connection() as conn:
        return conn.execute("SELECT value FROM alerts WHERE id = %s", (alert_id,)).fetchone()[0]


def entity_of(rt, kind: str, n: int = 0) -> str:
    return [e.id for e in rt.config.region.entities if e.kind == kind][n]


def test_crossing_reading_fires_within_a_second_then_resolves(alert_rt):
    rt, publisher = alert_rt
    station = entity_of(rt, "air_station")
    assert rt.alerts.leader.wait(10)
    sent = send(rt, publisher, station, "vn_aqi", 180)
    fired = wait_until(lambda: [a for a in alerts_of(rt, "catalog:vn_aqi", station) if a[1] == "firing"])
    latency = time.monotonic() - sent
    assert fired and fired[0][2] == "critical"
    assert latency < 1.0, latency

    def events() -> list[dict]:
        return [e for body in rt.test_receiver.posts for e in body["events"] if e["subject"] == station]

    assert wait_until(lambda: [e["kind"] for e in events()] == ["firing"])
    send(rt, publisher, station, "vn_aqi", 40)
    assert wait_until(lambda: alerts_of(rt, "catalog:vn_aqi", station)[-1][1] == "resolved")
    with rt.db.connection() as conn:
        kinds = [k for (k,) in conn.execute("SELECT kind FROM alert_events WHERE alert_id = %s ORDER BY id",
                                            (fired[0][0],))]
    assert kinds == ["firing", "resolved"]
    # Each transition notifies once: one webhook call and one MQTT message for firing, the same for resolve.
    assert wait_until(lambda: [e["kind"] for e in events()] == ["firing", "resolved"])
    settled(rt)
    assert [e["kind"] for e in events()] == ["firing", "resolved"]

    def on_bus() -> list[str]:
        return [e["kind"] for body in rt.test_bus for e in body["events"] if e["subject"] == station]

    assert wait_until(lambda: on_bus() == ["firing", "resolved"]) and on_bus() == ["firing", "resolved"]
    assert events()[0]["severity"] == "critical" and "VN_AQI" in events()[0]["message"]["vi"]


def test_for_survives_a_restart_without_duplicates(alert_rt):
    rt, publisher = alert_rt
    hospital = entity_of(rt, "hospital", 1)
    send(rt, publisher, hospital, "bed_occupancy", 90)
    pending = wait_until(lambda: alerts_of(rt, "hot-beds", hospital))
    assert [a[1] for a in pending] == ["pending"]
    rt.alerts.stop()  # the process goes away mid-pending
    successor = rt.new_alert_service()
    successor.start()
    try:
        assert wait_until(lambda: alerts_of(rt, "hot-beds", hospital)[-1][1] == "firing", timeout=30)
        rows = alerts_of(rt, "hot-beds", hospital)
        assert len(rows) == 1 and rows[0][0] == pending[0][0]  # the same alert, continued
        send(rt, publisher, hospital, "bed_occupancy", 91)  # a repeat updates it, never duplicates it
        assert wait_until(lambda: value_of(rt, rows[0][0]) == 91)
        assert len(alerts_of(rt, "hot-beds", hospital)) == 1
    finally:
        rt.alerts = successor


def test_two_engines_one_evaluates(alert_rt):
    rt, _ = alert_rt
    assert wait_until(lambda: rt.alerts.leader.is_set())
    rules = load_rules(rt.config).rules
    second = AlertService(rt.config, rt.db, rt.database_url, rules)
    second.start()
    try:
        assert wait_until(lambda: second.rounds >= 3)  # it has tried for the lock, and been refused, twice
        assert not second.leader.is_set()
    finally:
        second.stop()


def test_a_silence_holds_notifications_not_the_alert(alert_rt):
    rt, publisher = alert_rt
    station = entity_of(rt, "air_station", 1)
    now = datetime.now(UTC)
    actions.create_silence(rt.db, "Trực ban A", "bảo trì trạm", now - timedelta(minutes=1), now + timedelta(hours=1),
                           rule="catalog:vn_aqi", subject=station)
    held = rt.notifier.counters["silenced"]  # the notifier's first stage reads silences for each event
    send(rt, publisher, station, "vn_aqi", 190)
    assert wait_until(lambda: [a for a in alerts_of(rt, "catalog:vn_aqi", station) if a[1] == "firing"])
    assert wait_until(lambda: rt.notifier.counters["silenced"] > held)
    settled(rt)
    assert not [e for body in rt.test_receiver.posts for e in body["events"] if e["subject"] == station]


def test_rules_edited_by_people_apply_at_once_and_keep_history(alert_rt):
    rt, publisher = alert_rt
    school = entity_of(rt, "school", 2)
    edited = {"name": "quiet-classes", "condition": "below", "metric": "attendance_rate", "warning": 99.5,
              "critical": 50, "labels": {"team": "so-gd"}}
    with pytest.raises(actions.ActionError, match="unknown metric"):
        store.save_rule(rt.db, rt.config, edited | {"metric": "nope"}, "Lê Văn C")
    with pytest.raises(actions.ActionError, match="needs warning"):
        store.save_rule(rt.db, rt.config, {"name": "x", "condition": "above", "metric": "attendance_rate"}, "C")
    store.save_rule(rt.db, rt.config, edited, "Lê Văn C")
    assert wait_until(lambda: any(r.name == "quiet-classes" for r in rt.alerts.rules), timeout=30)
    send(rt, publisher, school, "attendance_rate", 97.0)
    assert wait_until(lambda: [a for a in alerts_of(rt, "quiet-classes", school) if a[1] == "firing"])
    # A restart with the same config keeps the person's rule; reverting removes it and resolves its alert.
    store.sync_rules(rt.db, load_rules(rt.config).rules)
    assert "quiet-classes" in {r.name for r in store.effective_rules(rt.db, rt.config)}
    store.revert_rule(rt.db, "quiet-classes", "Lê Văn C", load_rules(rt.config).rules)
    assert wait_until(lambda: alerts_of(rt, "quiet-classes", school)[-1][1] == "resolved", timeout=30)
    with rt.db.connection() as conn:
        history = conn.execute("SELECT changed_by, definition IS NULL FROM alert_rule_history "
                               "WHERE name = 'quiet-classes' ORDER BY id").fetchall()
    assert history == [("Lê Văn C", False), ("Lê Văn C", True)]


def test_a_rule_message_is_data_with_named_fields_checked_at_save(alert_rt):
    rt, _ = alert_rt
    rule = {"name": "bad-message", "condition": "above", "metric": "bed_occupancy", "warning": 85,
            "message": {"vi": "Giường {nope}", "en": "Beds {nope}"}}
    with pytest.raises(actions.ActionError) as refused:
        store.save_rule(rt.db, rt.config, rule, "Lê Văn C")
    assert "{nope}" in refused.value.message("vi") and "Lời nhắn" in refused.value.message("vi")
    assert "{subject}" in refused.value.message("en")
    for text in ("{value.__class__}", "{value:>10}", "{0}", "lẻ {"):
        with pytest.raises(actions.ActionError):
            store.save_rule(rt.db, rt.config, rule | {"message": {"vi": text, "en": "x"}}, "Lê Văn C")
    with rt.db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM alert_rules WHERE name = 'bad-message'").fetchone()[0] == 0


def test_a_rule_that_raises_is_marked_broken_and_the_others_still_fire(alert_rt):
    rt, publisher = alert_rt

    @conditions.register
    class Explodes(conditions.Above):  # a condition with a bug: it raises on every value
        name = "explodes_in_test"

        def judge(self, rule, value, active, site=None):
            raise RuntimeError("a bug in one rule")

    hospital = entity_of(rt, "hospital", 3)
    try:
        store.save_rule(rt.db, rt.config, {"name": "buggy", "condition": "explodes_in_test",
                                           "metric": "bed_occupancy", "warning": 1}, "Lê Văn C")
        assert wait_until(lambda: any(r.name == "buggy" for r in rt.alerts.rules))
        send(rt, publisher, hospital, "bed_occupancy", 99)
        assert wait_until(lambda: [a for a in alerts_of(rt, "catalog:bed_occupancy", hospital) if a[1] == "firing"])
        assert wait_until(lambda: "buggy" in rt.alerts.broken)
        assert "a bug in one rule" in rt.alerts.broken["buggy"]
        rules = alert_queries.alert_rules(rt.db).set_index("name")
        assert "a bug in one rule" in rules.loc["buggy", "broken"]
        body, ok = health(rt)
        assert ok and body["status"] == "degraded" and "buggy" in body["checks"]["alerts"]["broken_rules"]
    finally:
        store.revert_rule(rt.db, "buggy", "Lê Văn C", load_rules(rt.config).rules)
        assert wait_until(lambda: "buggy" not in rt.alerts.broken)
        del conditions.CONDITIONS["explodes_in_test"]


def test_a_dead_engine_makes_healthz_fail(alert_rt):
    rt, _ = alert_rt
    dead = AlertService(rt.config, rt.db, rt.database_url, [])
    dead.start()
    dead.stop()
    running, rt.alerts = rt.alerts, dead
    try:
        body, ok = health(rt)
    finally:
        rt.alerts = running
    assert not ok and body["status"] == "failing" and "alerts" in body["failing"]
