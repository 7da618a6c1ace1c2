"""MQTT: connection settings from a URL, the ingest subscriber, and a windowed publisher.

The subscriber uses QoS 1, a persistent session and manual acknowledgement: a message is
acknowledged to the broker only after the batch writer has committed what it carried, so a crash
before the commit makes the broker deliver it again (and the primary key stores it once).
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass
from functools import partial
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ioc.config import MqttSettings
from ioc.ingest import Ingestor
from ioc.transports.contract import Parser

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> BrokerAddress:
        """mqtt://[user:password@]host[:port] or mqtts://… for TLS."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, got {url.split('://')[0]!r}")
        tls = parts.scheme in ("mqtts", "ssl")
        if not parts.hostname:
            raise ValueError("MQTT URL has no host")
        return cls(parts.hostname, parts.port or (8883 if tls else 1883), tls,
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None)

    def __str__(self) -> str:  # never shows the password
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def make_client(address: BrokerAddress, settings: MqttSettings, client_id: str = "",
                manual_ack: bool = False) -> mqtt.Client:
    protocol = mqtt.MQTTv5 if settings.protocol == 5 else mqtt.MQTTv311
    kwargs = {} if protocol == mqtt.MQTTv5 else {"clean_session": not client_id}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol,
                         manual_ack=manual_ack, **kwargs)
    if address.username:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set(ca_certs=settings.ca_file, cert_reqs=ssl.CERT_REQUIRED)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client


def connect_properties(settings: MqttSettings) -> Properties | None:
    if settings.protocol != 5:
        return None
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = int(settings.session_expiry.total_seconds())
    # The broker keeps at most this many unacknowledged messages in flight to us; since we acknowledge
    # only after the commit, a small window (Mosquitto's default is 20) would throttle ingest.
    props.ReceiveMaximum = settings.receive_maximum
    return props


ROUTE_CACHE = 100_000


def covers(wide: str, narrow: str) -> bool:
    """Whether every topic matching the filter `narrow` also matches the filter `wide`."""
    wide_levels, narrow_levels = wide.split("/"), narrow.split("/")
    for i, level in enumerate(wide_levels):
        if level == "#":
            return True
        if i >= len(narrow_levels):
            return False
        other = narrow_levels[i]
        if level == "+":
            if other == "#":
                return False
        elif level != other:
            return False
    return len(wide_levels) == len(narrow_levels)


def collapse(filters: list[str]) -> tuple[list[str], list[str]]:
    """(filters to subscribe, filters covered by another one). MQTT 5 brokers deliver one copy of a
    message per matching subscription, so overlapping filters (`ioc/health/simulator` and
    `ioc/health/+`) would ingest it twice; subscribing only the widest ones delivers it once, and routing
    still picks the most specific feed for each topic."""
    unique = list(dict.fromkeys(filters))
    covered = [f for i, f in enumerate(unique)
               if any(covers(g, f) and (not covers(f, g) or j < i) for j, g in enumerate(unique) if j != i)]
    return [f for f in unique if f not in covered], covered


@dataclass(frozen=True)
class Route:
    """Messages on `topic` (an MQTT filter) belong to `feed` and are read by `parser`."""

    topic: str
    feed: str | None
    parser: Parser

    @property
    def specificity(self) -> tuple[int, int]:
        levels = self.topic.split("/")
        return (levels.count("#"), levels.count("+"))


class MqttIngest:
    """Subscribes to every route's topic and hands each message to the ingestor with the parser of
    the most specific route that matches it (so `ioc/health/simulator` goes to the simulator feed,
    not to the catch-all `ioc/health/+`)."""

    def __init__(self, address: BrokerAddress, settings: MqttSettings, ingestor: Ingestor, routes: list[Route],
                 shared_group: str | None = None):
        self.address = address
        # `$share/<group>/<filter>`: the broker hands each message to one member of the group (ingest
        # workers); routing still matches the message's own topic against the plain filters.
        self.shared_group = shared_group
        self.settings = settings
        self.ingestor = ingestor
        self.routes = sorted(routes, key=lambda r: r.specificity)
        self.topics, self.covered_topics = collapse([r.topic for r in self.routes])
        self._routed: dict[str, Route | None] = {}  # topic → route, bounded: topics are sites, not messages
        self.connected = threading.Event()
        self.messages = 0
        self._generation = 0  # connections made so far: an acknowledgement belongs to one of them
        self.client = make_client(address, settings, client_id=settings.client_id, manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def start(self) -> None:
        self.client.connect_async(self.address.host, self.address.port, keepalive=self.settings.keepalive,
                                  clean_start=False, properties=connect_properties(self.settings))
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("MQTT connection to %s refused: %s", self.address, reason_code)
            return
        self._generation += 1
        # Subscriptions are renewed on every connect: a broker that lost the session state
        # (restart without persistence) still delivers to us afterwards.
        topics = [self._subscription(t) for t in self.topics]
        if self.covered_topics:
            # A persistent session may still hold them from an earlier version that subscribed overlapping
            # filters: each would deliver a second copy.
            client.unsubscribe([self._subscription(t) for t in self.covered_topics])
        client.subscribe([(topic, 1) for topic in topics])
        log.info("MQTT connected to %s as %s, subscribing to %s", self.address, self.settings.client_id,
                 ", ".join(topics))

    def _subscription(self, topic: str) -> str:
        return f"$share/{self.shared_group}/{topic}" if self.shared_group else topic

    def _on_subscribe(self, client: mqtt.Client, userdata, mid, reason_codes, properties) -> None:
        # Ready only once the broker has the subscriptions: a message published before would be missed.
        failed = [code for code in reason_codes if code.is_failure]
        if failed:
            log.error("MQTT broker refused subscriptions: %s", failed)
        self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata, flags, reason_code, properties) -> None:
        if self.connected.is_set():
            log.warning("MQTT disconnected from %s (%s); reconnecting", self.address, reason_code)
        self.connected.clear()

    def _ack(self, generation: int, mid: int, qos: int) -> None:
        # A packet id is only meaningful on the connection that delivered it: after a reconnect the
        # broker sends unacknowledged messages again (same session) and those copies are acknowledged
        # when they are committed; acknowledging the old id could acknowledge a different new message.
        if generation == self._generation:
            self.client.ack(mid, qos)

    def route(self, topic: str) -> Route | None:
        if topic in self._routed:
            return self._routed[topic]
        found = next((r for r in self.routes if mqtt.topic_matches_sub(r.topic, topic)), None)
        if len(self._routed) < ROUTE_CACHE:
            self._routed[topic] = found
        return found

    def _on_message(self, client: mqtt.Client, userdata, message: mqtt.MQTTMessage) -> None:
        self.messages += 1
        ack = partial(self._ack, self._generation, message.mid, message.qos) if message.qos > 0 else None
        route = self.route(message.topic)
        if route is None:  # a retained or stale subscription of this session: nothing reads it
            if ack:
                ack()
            return
        try:
            self.ingestor.ingest(message.topic, message.payload, route.parser, on_commit=ack, feed=route.feed)
        except Exception:
            # A parser bug must not stop the consumer; the message is not acknowledged, so the
            # broker redelivers it after a reconnect.
            log.exception("ingest failed for a message on %s", message.topic)


class Publisher:
    """Publishes with QoS 1 and a bounded window of unacknowledged messages.

    paho refuses to publish past 65,535 in-flight messages; waiting on the oldest once the window
    is full keeps a fast producer within that limit and within memory.
    """

    def __init__(self, address: BrokerAddress, settings: MqttSettings, window: int = 2000,
                 client_id: str = ""):
        self.client = make_client(address, settings, client_id=client_id)
        self.window = window
        self._inflight: deque[mqtt.MQTTMessageInfo] = deque()
        self._address = address
        self._settings = settings

    def connect(self, timeout: float = 10) -> None:
        self.client.connect(self._address.host, self._address.port, keepalive=self._settings.keepalive)
        self.client.loop_start()
        deadline = time.monotonic() + timeout
        while not self.client.is_connected():
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not connect to MQTT broker {self._address}")
            time.sleep(0.02)

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        while len(self._inflight) >= self.window:
            self._inflight.popleft().wait_for_publish(timeout=30)
        info = self.client.publish(topic, payload, qos=qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"MQTT publish to {topic} failed: {mqtt.error_string(info.rc)}")
        if qos > 0:
            self._inflight.append(info)

    def drain(self, timeout: float = 30) -> None:
        while self._inflight:
            self._inflight.popleft().wait_for_publish(timeout=timeout)

    def close(self) -> None:
        self.drain()
        self.client.disconnect()
        self.client.loop_stop()
