"""Runs the simulator as a feed: its readings go through the MQTT broker, never straight to the database,
on the feed's own topic (`<prefix>/<domain>/simulator`), where the feed's subscription reads them back."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from feeds.native import encode
from feeds.simulator import Simulator
from ioc.config import Config, FeedSpec, MqttSettings, SimulatorSettings
from ioc.models import Reading
from ioc.transports.mqtt import BrokerAddress, Publisher

log = logging.getLogger(__name__)

READINGS_PER_MESSAGE = 100


def publish_readings(publisher: Publisher, config: Config, readings: Iterable[Reading], topic: str) -> int:
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
    def __init__(self, config: Config, spec: FeedSpec, address: BrokerAddress, mqtt_settings: MqttSettings):
        self.config = config
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
        simulator = Simulator(self.config, self.settings)
        while not self._stop.is_set():
            try:
                self.publisher.connect()
                break
            except (OSError, TimeoutError) as exc:
                log.warning("simulator cannot reach the broker yet: %s", exc)
                self._stop.wait(2)
        now = datetime.now(UTC)
        if self.settings.backfill.total_seconds() > 0:
            count = 0
            for chunk in simulator.backfill(now - self.settings.backfill, now):
                if self._stop.is_set():
                    break
                publish_readings(self.publisher, self.config, chunk, self.topic)
                count += len(chunk)
            log.info("simulator backfilled %d readings over %s", count, self.settings.backfill)
        failing = False
        while not self._stop.is_set():
            try:
                publish_readings(self.publisher, self.config, simulator.readings_at(datetime.now(UTC)), self.topic)
                if failing:
                    log.info("simulator publishing again")
                failing = False
            except Exception as exc:  # whatever goes wrong in one round, the next round tries again
                if not failing:
                    log.warning("simulator cannot publish: %r", exc, exc_info=not isinstance(exc, OSError))
                failing = True
            self._stop.wait(self.settings.interval.total_seconds())
        self.publisher.close()
