"""The notification pipeline against real endpoints: a local webhook receiver, the test broker and
a local SMTP server. Timings are small (group_wait 200 ms) so the file runs in seconds."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import paho.mqtt.client as mqtt
import pytest
import yaml
from aiosmtpd.controller import Controller
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import ValidationError

from ioc.alerts.events import AlertEvent
from ioc.alerts.notify import Notifier
from ioc.alerts.notify_settings import NotifySettings
from ioc.config import MqttSettings
from ioc.services import free_port
from ioc.transports.mqtt import BrokerAddress
from tests.waiting import wait_until

AT = datetime(2025, 5, 20, 7, 5, tzinfo=UTC)  # 14:05 in Bắc Giang


def event(alert_id: int = 1, kind: str = "firing", domain: str | None = "water", severity: str = "warning",
          at: datetime = AT, **extra) -> AlertEvent:
    return AlertEvent(kind=kind, alert_id=alert_id, rule="river_level", subject="st-thuong",
                      subject_name_vi="Trạm Phủ Lạng Thương", subject_name_en="Phu Lang Thuong station",
                      domain=domain, area="bg-city", severity=severity, value=5.25, threshold=5.0, at=at,
                      message_vi="Mực nước sông Thương vượt báo động 3",
                      message_en="Thuong river level above alarm 3", **extra)


# --- a webhook receiver ------------------------------------------------------------------------

class Receiver(BaseHTTPRequestHandler):
    """Records every POST; answers from `server.script` in turn (then 200)."""

    def do_POST(self):  # noqa: N802 (the http.server API)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        server = self.server
        with server.lock:
            n = len(server.calls)
            status = server.script[n] if n < len(server.script) else 200
            server.calls.append({"path": self.path, "body": body, "status": status, "t": time.monotonic(),
                                 "content_type": self.headers.get("Content-Type")})
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Webhook(ThreadingHTTPServer):
    def __init__(self):
        super().__init__(("127.0.0.1", 0), Receiver)
        self.calls: list[dict] = []
        self.script: list[int] = []
        self.lock = threading.Lock()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def ok(self, path: str | None = None) -> list[dict]:
        """Bodies answered 2xx (at `path`)."""
        return [json.loads(c["body"]) for c in self.calls
                if c["status"] < 300 and (path is None or c["path"] == path)]


@pytest.fixture
def hook() -> Iterator[Webhook]:
    server = Webhook()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


# --- an SMTP server ----------------------------------------------------------------------------

class Mailbox:
    def __init__(self):
        self.mails: list[dict] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (the aiosmtpd API)
        self.mails.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                           "message": email.message_from_bytes(envelope.original_content or envelope.content,
                                                               policy=email.policy.default)})
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


# --- an MQTT subscriber ------------------------------------------------------------------------

@pytest.fixture
def broker(mqtt_url: str) -> tuple[BrokerAddress, MqttSettings]:
    return BrokerAddress.from_url(mqtt_url), MqttSettings(url=mqtt_url,
                                                          protocol=5 if mqtt_url.endswith(":1883") else 311)


@pytest.fixture
def subscriber(broker) -> Iterator[tuple[str, list]]:
    """A unique topic prefix and the messages received under it."""
    address, settings = broker
    prefix = f"ioctest{secrets.token_hex(4)}/alerts"
    received: list[tuple[str, bytes]] = []
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2,
                         protocol=mqtt.MQTTv5 if settings.protocol == 5 else mqtt.MQTTv311)
    client.on_connect = lambda c, *a: c.subscribe(f"{prefix}/#", qos=1)
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_message = lambda c, u, m: received.append((m.topic, m.payload))
    client.connect(address.host, address.port)
    client.loop_start()
    assert subscribed.wait(10), "the test subscriber did not subscribe"
    yield prefix, received
    client.disconnect()
    client.loop_stop()


def settings(*channels: dict, **timing) -> NotifySettings:
    return NotifySettings.model_validate({"group_wait": "200ms", "group_interval": "500ms",
                                          **timing, "channels": list(channels)})


def webhook(hook: Webhook, name: str = "hook", path: str = "/hook", **extra) -> dict:
    return {"type": "webhook", "name": name, "url": hook.url(path), "retry_backoff": "50ms", "timeout": "2s",
            **extra}


@pytest.fixture
def running() -> Iterator:
    """Start notifiers through this and they are stopped after the test."""
    started: list[Notifier] = []

    def start(*args, **kwargs) -> Notifier:
        notifier = Notifier(*args, **kwargs).start()
        started.append(notifier)
        return notifier

    yield start
    for notifier in started:
        notifier.stop(timeout=2)


# --- settings ----------------------------------------------------------------------------------

EXAMPLE = """
group_wait: 10s
group_interval: 1m
repeat_interval: 4h
channels:
  - type: webhook
    name: ops-webhook
    url: https://ops.example.vn/hooks/ioc
    timeout: 10s
    retries: 3
  - type: mqtt
    name: bus
    topic_prefix: ioc/alerts
    min_severity: critical
  - type: email
    name: flood-desk
    host: smtp.example.vn
    port: 587
    starttls: true
    username_env: IOC_SMTP_USER
    password_env: IOC_SMTP_PASSWORD
    sender: ioc@bacgiang.gov.vn
    recipients: [pcthientai@bacgiang.gov.vn]
    domains: [water, weather]
    kinds: [firing, escalated, resolved]
"""


def test_settings_example_and_defaults():
    parsed = NotifySettings.model_validate(yaml.safe_load(EXAMPLE))
    hook_, bus, mail = parsed.channels
    assert (hook_.type, hook_.min_severity, hook_.domains, len(hook_.kinds)) == ("webhook", "warning", None, 4)
    assert (bus.topic_prefix, bus.qos, bus.retain, bus.min_severity) == ("ioc/alerts", 1, False, "critical")
    assert (mail.port, mail.starttls, mail.subject_prefix, mail.domains) == (587, True, "[IOC]", ["water", "weather"])
    defaults = NotifySettings()
    assert (defaults.group_wait, defaults.group_interval, defaults.repeat_interval) == (
        timedelta(seconds=10), timedelta(minutes=1), timedelta(hours=4))


@pytest.mark.parametrize("bad", [
    {"channels": [{"type": "webhook", "name": "a", "url": "http://x", "colour": "red"}]},   # unknown key
    {"channels": [{"type": "pager", "name": "a"}]},                                       # unknown type
    {"channels": [{"type": "webhook", "name": "a", "url": "ftp://x/y"}]},                 # not http(s)
    {"channels": [{"type": "webhook", "name": "a", "url": "http://x", "min_severity": "info"}]},
    {"channels": [{"type": "webhook", "name": "a", "url": "http://x", "kinds": ["fired"]}]},
    {"channels": [{"type": "webhook", "name": "a", "url": "http://x"},
                  {"type": "webhook", "name": "a", "url": "http://y"}]},                  # duplicate name
    {"channels": [{"type": "email", "name": "m", "host": "h", "sender": "a@b", "recipients": []}]},
    {"channels": [{"type": "mqtt", "name": "q", "topic_prefix": "ioc/#"}]},
    {"group_wait": "soon"},
    {"grouping": "10s"},
])
def test_settings_reject(bad):
    with pytest.raises(ValidationError):
        NotifySettings.model_validate(bad)


def test_mqtt_channel_needs_a_broker():
    with pytest.raises(ValueError, match="MQTT"):
        Notifier(NotifySettings.model_validate({"channels": [{"type": "mqtt", "name": "q"}]}), None)


# --- delivery ----------------------------------------------------------------------------------

def test_one_event_reaches_every_channel_once(hook, smtp, broker, subscriber, running):
    box, port = smtp
    prefix, received = subscriber
    notifier = running(settings(
        webhook(hook),
        {"type": "mqtt", "name": "bus", "topic_prefix": prefix},
        {"type": "email", "name": "mail", "host": "127.0.0.1", "port": port, "sender": "ioc@bacgiang.gov.vn",
         "recipients": ["truc-ban@bacgiang.gov.vn", "so-nnptnt@bacgiang.gov.vn"]}), broker)
    notifier.submit(event(severity="critical"))
    assert notifier.flush(10)  # idle: every message the notifier will send for this event has been sent
    assert wait_until(lambda: received and box.mails)

    assert len(hook.calls) == 1
    call = hook.calls[0]
    assert call["content_type"].startswith("application/json")
    body = json.loads(call["body"])
    assert body["group"]["domain"] == "water" and body["group"]["count"] == 1
    assert body["group"]["severity"] == "critical"
    assert body["events"] == [event(severity="critical").as_json()]

    assert len(received) == 1
    topic, payload = received[0]
    assert topic == f"{prefix}/water/critical"
    assert json.loads(payload)["events"][0]["message"]["vi"] == "Mực nước sông Thương vượt báo động 3"

    assert len(box.mails) == 1
    mail = box.mails[0]
    assert mail["from"] == "ioc@bacgiang.gov.vn"
    assert mail["to"] == ["truc-ban@bacgiang.gov.vn", "so-nnptnt@bacgiang.gov.vn"]
    message = mail["message"]
    assert message["Subject"] == "[IOC] 1 cảnh báo – water"
    text = message.get_content()
    assert text.index("Mực nước sông Thương vượt báo động 3") < text.index("Thuong river level above alarm 3")
    assert "14:05:00 20/05/2025" in text          # Asia/Ho_Chi_Minh, Vietnamese format
    assert "2025-05-20 14:05:00" in text          # and the English one
    assert "Nguy hiểm" in text and "Trạm Phủ Lạng Thương" in text

    for name in ("hook", "bus", "mail"):
        assert notifier.stats[name]["sent"] == 1 and notifier.stats[name]["failed"] == 0


def test_a_storm_is_one_message_per_group_window(hook, running):
    notifier = running(settings(webhook(hook)))
    started = time.monotonic()
    for i in range(200):
        notifier.submit(event(alert_id=i, severity="critical" if i % 10 == 0 else "warning"))
    assert notifier.flush(10)
    assert len(hook.calls) == 1
    assert hook.calls[0]["t"] - started >= 0.2  # waited group_wait
    body = json.loads(hook.calls[0]["body"])
    assert body["group"]["count"] == 200 and len(body["events"]) == 200
    assert body["group"]["severity"] == "critical"
    assert sorted(e["alert_id"] for e in body["events"]) == list(range(200))

    # The next event of the same group waits for group_interval after the first message.
    notifier.submit(event(alert_id=500))
    assert notifier.flush(10)
    assert len(hook.calls) == 2
    assert hook.calls[1]["t"] - hook.calls[0]["t"] >= 0.45
    assert notifier.stats["hook"]["events"] == 201


def test_routing_by_domain_and_min_severity(hook, running):
    notifier = running(settings(
        webhook(hook, "water", "/water", domains=["water"]),
        webhook(hook, "critical", "/critical", min_severity="critical"),
        webhook(hook, "other", "/other", domains=["none", "air"])))
    notifier.submit(event(1, domain="water", severity="warning"))
    notifier.submit(event(2, domain="water", severity="critical"))
    notifier.submit(event(3, domain="air", severity="critical"))
    notifier.submit(event(4, domain=None, severity="warning"))
    notifier.submit(event(5, domain="health", severity="warning"))   # nobody takes it
    assert notifier.flush(10)

    water = hook.ok("/water")
    assert len(water) == 1 and [e["alert_id"] for e in water[0]["events"]] == [1, 2]
    critical = {b["group"]["domain"]: [e["alert_id"] for e in b["events"]] for b in hook.ok("/critical")}
    assert critical == {"water": [2], "air": [3]}       # grouped per (channel, domain)
    other = {b["group"]["domain"]: [e["alert_id"] for e in b["events"]] for b in hook.ok("/other")}
    assert other == {"air": [3], None: [4]}
    assert notifier.counters["unrouted"] == 1


def test_kinds_filter(hook, running):
    notifier = running(settings(webhook(hook, kinds=["firing", "resolved"])))
    for i, kind in enumerate(("firing", "escalated", "repeat", "resolved")):
        notifier.submit(event(7, kind=kind, at=AT + timedelta(minutes=i)))
    assert notifier.flush(10)
    (body,) = hook.ok()
    assert [e["kind"] for e in body["events"]] == ["firing", "resolved"]
    assert body["group"]["kinds"] == {"firing": 1, "resolved": 1}


def test_retries_with_backoff_then_success(hook, running):
    hook.script = [500, 503]
    notifier = running(settings(webhook(hook, retries=3)))
    notifier.submit(event())
    assert notifier.flush(10)
    assert [c["status"] for c in hook.calls] == [500, 503, 200]
    assert len({c["body"] for c in hook.calls}) == 1       # the same message each time
    assert len(hook.ok()) == 1                             # delivered once
    gaps = [b["t"] - a["t"] for a, b in zip(hook.calls, hook.calls[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1              # 50 ms, then doubled
    assert notifier.stats["hook"] | {} == {"sent": 1, "events": 1, "failed": 0, "events_failed": 0,
                                           "retries": 2, "dropped_silenced": 0}


def test_client_errors_are_not_retried_and_failures_logged_once(hook, running, caplog):
    hook.script = [400, 404]
    notifier = running(settings(webhook(hook, retries=3), group_interval="0s"))
    with caplog.at_level(logging.INFO, logger="ioc.alerts.channels"):
        notifier.submit(event(1))
        assert notifier.flush(10)
        notifier.submit(event(2))
        assert notifier.flush(10)
        notifier.submit(event(3))
        assert notifier.flush(10)
    assert [c["status"] for c in hook.calls] == [400, 404, 200]
    assert notifier.stats["hook"]["failed"] == 2 and notifier.stats["hook"]["retries"] == 0
    assert notifier.stats["hook"]["sent"] == 1
    messages = [r.getMessage() for r in caplog.records if r.name == "ioc.alerts.channels"]
    assert sum("failed" in m for m in messages) == 1        # once when it went from working to failing
    assert sum("works again" in m for m in messages) == 1   # once when it recovered


def test_retries_exhausted_and_unreachable_endpoint(running):
    dead = f"http://127.0.0.1:{free_port()}/hook"
    notifier = running(settings({"type": "webhook", "name": "dead", "url": dead, "retries": 2,
                                 "retry_backoff": "20ms", "timeout": "1s"}))
    notifier.submit(event())
    assert notifier.flush(10)
    assert notifier.stats["dead"] | {} == {"sent": 0, "events": 0, "failed": 1, "events_failed": 1,
                                           "retries": 2, "dropped_silenced": 0}


def test_identical_events_are_sent_once(hook, running):
    notifier = running(settings(webhook(hook)))
    notifier.submit(event(1))
    notifier.submit(event(1))                                   # the same transition again
    notifier.submit(event(1, labels={"x": "y"}))                # same (alert_id, kind, at)
    notifier.submit(event(1, kind="escalated"))                 # a different transition
    notifier.submit(event(1, at=AT + timedelta(hours=4), kind="repeat"))
    assert notifier.flush(10)
    (body,) = hook.ok()
    assert [e["kind"] for e in body["events"]] == ["firing", "escalated", "repeat"]
    assert notifier.counters["duplicates"] == 2
    notifier.submit(event(1))                                   # still remembered after the send
    assert notifier.flush(10)
    assert len(hook.calls) == 1


def test_silenced_events_are_dropped(hook, running):
    def silenced(e: AlertEvent) -> bool:
        if e.alert_id == 99:
            raise RuntimeError("silence store down")            # fails open: notified
        return e.domain == "air"

    notifier = running(settings(webhook(hook), webhook(hook, "air", "/air", domains=["air"])),
                       silenced=silenced)
    for i in range(5):
        notifier.submit(event(i, domain="air"))
    notifier.submit(event(10, domain="water"))
    notifier.submit(event(99, domain="water"))
    assert notifier.flush(10)
    (body,) = hook.ok()
    assert [e["alert_id"] for e in body["events"]] == [10, 99]
    assert notifier.stats["hook"]["dropped_silenced"] == 5
    assert notifier.stats["air"]["dropped_silenced"] == 5 and notifier.stats["air"]["sent"] == 0
    assert notifier.counters["silenced"] == 5


def test_submit_is_quick_while_a_channel_hangs(running):
    """A stuck endpoint delays its own channel only; submit never waits for it."""
    hang, arrived, answered = threading.Event(), threading.Event(), threading.Event()

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            arrived.set()
            hang.wait(30)
            answered.set()
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        notifier = running(settings({"type": "webhook", "name": "slow", "timeout": "5s",
                                     "url": f"http://127.0.0.1:{server.server_address[1]}/"},
                                    group_wait="0s", group_interval="0s"))
        notifier.submit(event(1))
        assert arrived.wait(30)   # the first message is now stuck in the endpoint
        for i in range(2, 1000):
            notifier.submit(event(i))
        assert not answered.is_set()  # every submit returned while the endpoint still held the first message
        hang.set()
        assert notifier.flush(10)
        assert notifier.stats["slow"]["events"] == 999
    finally:
        hang.set()
        server.shutdown()
        server.server_close()


def test_group_timing_follows_the_given_clock(hook, running):
    now = [1000.0]
    notifier = running(settings(webhook(hook), group_wait="10s", group_interval="1m"), clock=lambda: now[0])
    notifier.submit(event(1))
    assert not notifier.flush(0.3) and not hook.calls     # 10 s have not passed on this clock
    now[0] += 10
    assert notifier.flush(5) and len(hook.calls) == 1
    notifier.submit(event(2))
    now[0] += 30                                           # group_wait passed, group_interval not
    assert not notifier.flush(0.3) and len(hook.calls) == 1
    now[0] += 30
    assert notifier.flush(5) and len(hook.calls) == 2
