"""Runs the simulator as a feed: its readings go through the MQTT broker, never straight to the database."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from feeds.native import encode
from feeds.simulator import Simulator
from ioc.config import Config, MqttSettings
from ioc.models import Reading
from ioc.mqtt import BrokerAddress, Publisher

log = logging.getLogger(__name__)

READINGS_PER_MESSAGE = 100


def publish_readings(publisher: Publisher, config: Config, readings: Iterable[Reading], prefix: str) -> int:
    """Publish as native batches of up to 100 readings, one topic per domain; returns messages sent."""
    by_domain: dict[str, list[Reading]] = defaultdict(list)
    for r in readings:
        by_domain[config.entity_domain(r.entity)].append(r)
    sent = 0
    for domain, items in by_domain.items():
        for i in range(0, len(items), READINGS_PER_MESSAGE):
            publisher.publish(f"{prefix}/{domain}/simulator", encode(items[i:i + READINGS_PER_MESSAGE]))
            sent += 1
    return sent


def run_simulator(config: Config, address: BrokerAddress, mqtt_settings: MqttSettings,
                  stop: threading.Event) -> None:
    settings = config.settings.simulator
    simulator = Simulator(config, settings)
    publisher = Publisher(address, mqtt_settings)
    prefix = mqtt_settings.topic_prefix
    while not stop.is_set():
        try:
            publisher.connect()
            break
        except (OSError, TimeoutError) as exc:
            log.warning("simulator cannot reach the broker yet: %s", exc)
            stop.wait(2)
    now = datetime.now(UTC)
    if settings.backfill.total_seconds() > 0:
        count = 0
        for chunk in simulator.backfill(now - settings.backfill, now):
            if stop.is_set():
                break
            publish_readings(publisher, config, chunk, prefix)
            count += len(chunk)
        log.info("simulator backfilled %d readings over %s", count, settings.backfill)
    failing = False
    while not stop.is_set():
        try:
            publish_readings(publisher, config, simulator.readings_at(datetime.now(UTC)), prefix)
            if failing:
                log.info("simulator publishing again")
            failing = False
        except (ConnectionError, OSError) as exc:
            if not failing:
                log.warning("simulator cannot publish: %s", exc)
            failing = True
        stop.wait(settings.interval.total_seconds())
    publisher.close()
