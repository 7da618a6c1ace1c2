"""Wires the product together: services, storage, ingest, the simulator and the web server.

Start order follows the data path (database → writer → broker → subscriber → sources → UI), and
stop runs it backwards so that what is in flight is committed before the database goes away.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from psycopg_pool import ConnectionPool

from feeds.base import PARSERS
from ioc.config import Config
from ioc.db import Partitions, Storage, migrate, open_pool, sync_catalog
from ioc.embedded import EmbeddedBroker, start_postgres, stop_postgres
from ioc.ingest import Ingestor
from ioc.mqtt import BrokerAddress, MqttIngest
from ioc.writer import BatchWriter

log = logging.getLogger(__name__)

class Runtime:
    def __init__(self, config: Config, with_simulator: bool | None = None):
        self.config = config
        self.with_simulator = config.settings.simulator.enabled if with_simulator is None else with_simulator
        self.db: ConnectionPool | None = None
        self.storage: Storage | None = None
        self.writer: BatchWriter | None = None
        self.ingestor: Ingestor | None = None
        self.mqtt: MqttIngest | None = None
        self.broker_address: BrokerAddress | None = None
        self.started = datetime.now(UTC)
        self._embedded_pg = False
        self._broker: EmbeddedBroker | None = None
        self._simulator_stop = threading.Event()
        self._simulator_thread: threading.Thread | None = None
        self._stops: list[Callable[[], None]] = []

    def start(self) -> Runtime:
        try:
            self._start_storage()
            self._start_mqtt()
            if self.with_simulator:
                self._start_simulator()
        except BaseException:
            self.stop()
            raise
        log.info("IOC runtime started (storage: %s, broker: %s)", self.storage.path, self.broker_address)
        return self

    def _start_storage(self) -> None:
        settings = self.config.settings
        url = settings.database.url
        if url is None:
            url = start_postgres(self._pg_dir())
            self._embedded_pg = True
            self._stops.append(lambda: stop_postgres(self._pg_dir()))
        self.db = open_pool(url, settings.database.pool_min, settings.database.pool_max)
        self._stops.append(self.db.close)
        self.storage = migrate(self.db, settings.storage)
        sync_catalog(self.db, self.config)
        self.writer = BatchWriter(self.db, Partitions(self.storage), settings.ingest)
        self.writer.start()
        self._stops.append(self.writer.stop)
        self.ingestor = Ingestor(self.config, self.writer)

    def _pg_dir(self) -> Path:
        directory = self.config.settings.database.embedded_dir
        return directory if directory.is_absolute() else self.config.config_dir.parent / directory

    def _start_mqtt(self) -> None:
        settings = self.config.settings.mqtt
        if settings.url is None:
            self._broker = EmbeddedBroker(settings.embedded_port)
            self._broker.start()
            self._stops.append(self._broker.stop)
            # amqtt speaks MQTT 3.1.1 only.
            settings = settings.model_copy(update={"protocol": 311})
            self.mqtt_settings = settings
            self.broker_address = BrokerAddress.from_url(self._broker.url)
        else:
            self.mqtt_settings = settings
            self.broker_address = BrokerAddress.from_url(settings.url)
        self.mqtt = MqttIngest(self.broker_address, settings, self.ingestor, PARSERS["native"],
                               list(self.config.domains))
        self.mqtt.start()
        self._stops.append(self.mqtt.stop)

    def _start_simulator(self) -> None:
        from feeds.simulator_feed import run_simulator

        self._simulator_thread = threading.Thread(
            target=run_simulator, name="ioc-simulator",
            args=(self.config, self.broker_address, self.mqtt_settings, self._simulator_stop), daemon=True)
        self._simulator_thread.start()
        self._stops.append(self._stop_simulator)

    def _stop_simulator(self) -> None:
        self._simulator_stop.set()
        if self._simulator_thread:
            self._simulator_thread.join(timeout=10)

    def stop(self) -> None:
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception:
                log.exception("error while stopping")
