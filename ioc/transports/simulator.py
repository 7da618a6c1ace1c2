"""The `simulator` transport: a model's readings go through the MQTT broker, never straight to the database,
on the feed's own topic (`<prefix>/<domain>/simulator`), where the feed's subscription reads them back.

The model (what values) and the wire format (how they are encoded) are plugins handed in by the
composition root: this module knows neither.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Protocol

from ioc.config import Config, FeedSpec, MqttSettings, SimulatorSettings
from ioc.models import Reading
from ioc.transports import TransportContext
from ioc.transports.mqtt import BrokerAddress, Publisher

log = logging.getLogger(__name__)

READINGS_PER_MESSAGE = 100

Encode = Callable[[list[Reading]], bytes]


class Model(Protocol):
    """What the simulator transport publishes: a history to backfill, then the values of each moment."""

    def backfill(self, start: datetime, end: datetime) -> Iterator[list[Reading]]: ...

    def last_school_reports(self, before: datetime) -> list[Reading]: ...

    def readings_at(self, now: datetime) -> list[Reading]: ...


ModelFactory = Callable[[Config, SimulatorSettings], Model]


def publish_readings(publisher: Publisher, config: Config, readings: Iterable[Reading], topic: str,
                     encode: Encode) -> int:
    """Publish as native batches of up to 100 readings, one topic per domain; returns messages sent."""
    by_domain: dict[str, list[Reading]] = defaultdict(list)
    for r in readings:
        by_domain[config.entity_domain(r.entity)].append(r)
    sent = 0
    for domain, items in by_domain.items():
        for i in range(0, len(items), READINGS_PER_MESSAGE):
            publisher.publish(topic.replace("{domain}", domain), encode(items[i:i + READINGS_PER_MESSAGE]))
            sent += 1
    return sent


class SimulatorFeed:
    def __init__(self, config: Config, spec: FeedSpec, address: BrokerAddress, mqtt_settings: MqttSettings,
                 model: ModelFactory, encode: Encode):
        self.config = config
        self.model = model
        self.encode = encode
        self.settings = SimulatorSettings.model_validate(spec.options)
        self.topic = f"{mqtt_settings.topic_prefix}/{spec.topic}"
        self.publisher = Publisher(address, mqtt_settings)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"ioc-{spec.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        simulator = self.model(self.config, self.settings)
        while not self._stop.is_set():
            try:
                self.publisher.connect()
                break
            except (OSError, TimeoutError) as exc:
                log.warning("simulator cannot reach the broker yet: %s", exc)
                self._stop.wait(2)
        now = datetime.now(UTC)
        if self.settings.backfill.total_seconds() > 0:
            # Schools' last figures first, however old: started on a Sunday, the wall shows Saturday's.
            publish_readings(self.publisher, self.config, simulator.last_school_reports(now - self.settings.backfill),
                             self.topic, self.encode)
            count = 0
            for chunk in simulator.backfill(now - self.settings.backfill, now):
                if self._stop.is_set():
                    break
                publish_readings(self.publisher, self.config, chunk, self.topic, self.encode)
                count += len(chunk)
            log.info("simulator backfilled %d readings over %s", count, self.settings.backfill)
        failing = False
        while not self._stop.is_set():
            try:
                publish_readings(self.publisher, self.config, simulator.readings_at(datetime.now(UTC)), self.topic,
                                 self.encode)
                if failing:
                    log.info("simulator publishing again")
                failing = False
            except Exception as exc:  # whatever goes wrong in one round, the next round tries again
                if not failing:
                    log.warning("simulator cannot publish: %r", exc, exc_info=not isinstance(exc, OSError))
                failing = True
            self._stop.wait(self.settings.interval.total_seconds())
        self.publisher.close()


def starter(model: ModelFactory, encode: Encode) -> Callable[[FeedSpec, TransportContext], Callable[[], None]]:
    """The `simulator` transport's start function for a given model and wire format."""
    def start(spec: FeedSpec, context: TransportContext) -> Callable[[], None]:
        feed = SimulatorFeed(context.config, spec, context.broker, context.mqtt_settings, model, encode)
        feed.start()
        return feed.stop
    return start
