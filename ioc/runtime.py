"""Wires the product together: services, storage, ingest, the simulator and the web server.

Start order follows the data path (database → writer → broker → subscriber → sources → UI), and
stop runs it backwards so that what is in flight is committed before the database goes away.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from psycopg_pool import ConnectionPool

from feeds.base import Parser, expand_topic, feed_parsers
from feeds.http_poll import HttpPoller
from ioc import health
from ioc.alerts.engine import FlapDetector
from ioc.alerts.notify import Notifier
from ioc.alerts.rules import AlertConfig, load_rules
from ioc.alerts.service import AlertService
from ioc.alerts.store import effective_rules, rules_version, sync_rules
from ioc.brief import service as brief_service
from ioc.brief import web as brief_web
from ioc.config import Config
from ioc.db import Partitions, Storage, migrate, open_pool, sync_catalog
from ioc.embedded import EmbeddedBroker, start_postgres, stop_postgres
from ioc.feed_health import FeedHealth
from ioc.ingest import Ingestor
from ioc.metrics import Metrics
from ioc.mqtt import BrokerAddress, MqttIngest, Route
from ioc.push import PushEndpoint
from ioc.rollups import Rollups, apply_policies
from ioc.spool import Spool
from ioc.writer import BatchWriter

log = logging.getLogger(__name__)

HEALTH_INTERVAL = 5  # seconds between feed-health evaluations written to the database
RETENTION_INTERVAL = timedelta(days=1)

class Runtime:
    def __init__(self, config: Config, with_simulator: bool = True):
        self.config = config
        self.with_simulator = with_simulator
        self.db: ConnectionPool | None = None
        self.storage: Storage | None = None
        self.writer: BatchWriter | None = None
        self.spool: Spool | None = None
        self.metrics: Metrics | None = None
        self.ingestor: Ingestor | None = None
        self.mqtt: MqttIngest | None = None
        self.health = FeedHealth(config.feeds)
        self.broker_address: BrokerAddress | None = None
        self.scheduler: BackgroundScheduler | None = None
        self.push: PushEndpoint | None = None
        self.alerts: AlertService | None = None
        self.notifier: Notifier | None = None
        self.rollups: Rollups | None = None
        self.started = datetime.now(UTC)
        self._broker: EmbeddedBroker | None = None
        self._stops: list[Callable[[], None]] = []

    def start(self) -> Runtime:
        try:
            parsers = feed_parsers(self.config)  # bad feeds or rules stop start-up before anything connects
            alert_config = load_rules(self.config)
            self._start_storage()
            self.push = PushEndpoint(self.config.feeds, parsers, self.ingestor,
                                     self.config.settings.ingest.max_payload_bytes)
            self._start_mqtt(parsers)
            self._start_alerts(alert_config)
            self._start_polling(parsers)
            brief_service.schedule(self.scheduler, self.config, self.db)
            if self.with_simulator:
                self._start_simulators()
        except BaseException:
            self.stop()
            raise
        log.info("IOC runtime started (storage: %s, broker: %s)", self.storage.path, self.broker_address)
        return self

    def open_storage(self) -> Runtime:
        """Only the database (the embedded one unless configured), migrated and synced with the catalog,
        and its writer: for one-off commands such as `app.py brief`."""
        try:
            self._start_storage()
        except BaseException:
            self.stop()
            raise
        return self

    def register_http(self, server: Flask) -> None:
        """The runtime's HTTP routes on the web server: /healthz, /metrics, the push endpoint, the brief's PDFs."""
        health.register(server, self)
        self.metrics.register(server)
        self.push.register(server)
        brief_web.register(server, self)

    def _start_storage(self) -> None:
        settings = self.config.settings
        url = settings.database.url
        if url is None:
            url = start_postgres(self._pg_dir())
            self._stops.append(lambda: stop_postgres(self._pg_dir()))
        self.database_url = url
        self.db = open_pool(url, settings.database.pool_min, settings.database.pool_max)
        self._stops.append(self.db.close)
        self.storage = migrate(self.db, settings.storage)
        sync_catalog(self.db, self.config)
        self.rollups = Rollups(self.db, self.storage, settings.storage)
        if self.storage.path == "timescaledb":
            apply_policies(self.db, settings.storage)
        self.spool = Spool(self._spool_dir(), settings.ingest.spool_max_bytes).open()
        self._stops.append(self.spool.close)  # after the writer has stopped
        self.writer = BatchWriter(self.db, Partitions(self.storage), settings.ingest, self.spool)
        self.metrics = Metrics(self)
        self.writer.add_observer(self.metrics.observe)
        self.writer.start()  # replays what an earlier run left in the spool, before anything new
        self._stops.append(self.writer.stop)
        self.ingestor = Ingestor(self.config, self.writer, health=self.health)

    def _spool_dir(self) -> Path:
        # One spool per MQTT session (client id): two ingesters never share one.
        directory = self.config.settings.ingest.spool_dir
        directory = directory if directory.is_absolute() else self.config.config_dir.parent / directory
        return directory / self.config.settings.mqtt.client_id

    def _pg_dir(self) -> Path:
        directory = self.config.settings.database.embedded_dir
        return directory if directory.is_absolute() else self.config.config_dir.parent / directory

    def _start_mqtt(self, parsers: dict[str, Parser]) -> None:
        settings = self.config.settings.mqtt
        if settings.url is None:
            self._broker = EmbeddedBroker(settings.embedded_port)
            self._broker.start()
            self._stops.append(self._broker.stop)
            settings = settings.model_copy(update={"protocol": 311})  # amqtt speaks MQTT 3.1.1 only
            self.broker_address = BrokerAddress.from_url(self._broker.url)
        else:
            self.broker_address = BrokerAddress.from_url(settings.url)
        self.mqtt_settings = settings
        routes = [Route(topic, spec.name, parsers[spec.name]) for spec in self.config.feeds
                  if spec.enabled and spec.transport in ("mqtt", "simulator")
                  for topic in expand_topic(self.config, spec.topic)]
        self.mqtt = MqttIngest(self.broker_address, settings, self.ingestor, routes)
        self.mqtt.start()
        self._stops.append(self.mqtt.stop)

    def _start_alerts(self, alert_config: AlertConfig) -> None:
        sync_rules(self.db, alert_config.rules)
        self.alert_config = alert_config
        self.notifier = Notifier(alert_config.notify, mqtt=(self.broker_address, self.mqtt_settings)).start()
        self._stops.append(self.notifier.stop)
        self.alerts = self.new_alert_service()
        self.alerts.start()
        self._stops.append(lambda: self.alerts.stop())  # whichever engine is in charge by then

    def new_alert_service(self) -> AlertService:
        """An alert engine wired like the runtime's own (a restarted process builds the same)."""
        defaults = self.alert_config.defaults
        service = AlertService(self.config, self.db, self.database_url, effective_rules(self.db, self.config),
                               notify=self.notifier.submit, health=self.health,
                               repeat_interval=self.alert_config.notify.repeat_interval,
                               flaps=FlapDetector(defaults.flap_window, defaults.flap_changes),
                               rules_source=lambda: effective_rules(self.db, self.config),
                               rules_version=lambda: rules_version(self.db))
        self.writer.add_listener(service.on_commit)
        return service

    def _start_polling(self, parsers: dict[str, Parser]) -> None:
        self.scheduler = BackgroundScheduler(timezone=UTC)
        max_bytes = self.config.settings.ingest.max_payload_bytes
        for spec in self.config.feeds:
            if spec.enabled and spec.transport == "http_poll":
                poller = HttpPoller(spec, parsers[spec.name], self.ingestor, max_bytes)
                seconds = spec.interval.total_seconds()
                self.scheduler.add_job(poller.poll, IntervalTrigger(seconds=seconds, jitter=min(seconds / 10, 30)),
                                       id=f"poll:{spec.name}", max_instances=1, coalesce=True,
                                       next_run_time=datetime.now(UTC))
        self.health.persist(self.db, prune=True)
        self.scheduler.add_job(self.health.persist, "interval", seconds=HEALTH_INTERVAL, args=[self.db],
                               id="feed-health", max_instances=1, coalesce=True, next_run_time=datetime.now(UTC))
        # Rollups (plain PostgreSQL; a no-op on TimescaleDB) and retention: one run at a time each;
        # retention's first run waits an hour so that a start-up is never slowed by it.
        storage = self.config.settings.storage
        self.scheduler.add_job(self.rollups.refresh, "interval", seconds=storage.rollup_refresh.total_seconds(),
                               id="rollups", max_instances=1, coalesce=True, next_run_time=datetime.now(UTC))
        self.scheduler.add_job(self.rollups.retain, "interval", seconds=RETENTION_INTERVAL.total_seconds(),
                               id="retention", max_instances=1, coalesce=True,
                               next_run_time=datetime.now(UTC) + timedelta(hours=1))
        self.scheduler.start()
        self._stops.append(lambda: self.scheduler.shutdown(wait=False))

    def _start_simulators(self) -> None:
        from feeds.simulator_feed import SimulatorFeed

        for spec in self.config.feeds:
            if spec.enabled and spec.transport == "simulator":
                feed = SimulatorFeed(self.config, spec, self.broker_address, self.mqtt_settings)
                feed.start()
                self._stops.append(feed.stop)

    def stop(self) -> None:
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception:
                log.exception("error while stopping")
