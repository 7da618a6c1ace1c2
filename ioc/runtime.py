"""Wires the product together: services, storage, ingest, the simulator and the web server.

Start order follows the data path (database → writer → broker → subscriber → sources → UI), and
stop runs it backwards so that what is in flight is committed before the database goes away.

One process runs everything (role "all", `python app.py`), or the work is split across processes:
    ingest   MQTT subscriber (a shared subscription when several workers share the load) → writer
    alerts   the alert engine (one leader by advisory lock), fed by its own non-shared MQTT subscription
             that evaluates without storing, plus the scheduled jobs: polling, feed health, rollups,
             retention, the daily brief, and the HTTP push feeds
    ui       the web pages only (storage for queries and for manual entries; no ingest, no jobs)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask
from psycopg_pool import ConnectionPool

from ioc import health, status
from ioc.alert_queries import latest_readings
from ioc.alerts.actions import silence_check
from ioc.alerts.engine import FlapDetector
from ioc.alerts.notify import Notifier
from ioc.alerts.rules import AlertConfig, load_rules
from ioc.alerts.service import AlertService
from ioc.alerts.store import effective_rules, rules_version, sync_rules
from ioc.alerts.text import AlertText
from ioc.brief import service as brief_service
from ioc.brief import web as brief_web
from ioc.config import Config, MqttSettings, SimulatorSettings
from ioc.db import Partitions, Storage, migrate, open_pool, sync_catalog
from ioc.embedded import EmbeddedBroker, start_postgres, stop_postgres
from ioc.feed_health import FeedHealth
from ioc.ingest import Ingestor
from ioc.metrics import Metrics
from ioc.models import Batch
from ioc.rollups import Rollups
from ioc.spool import Spool
from ioc.transports import (
    TRANSPORTS,
    Transport,
    TransportContext,
    http_poll,
    register_transport,
    simulator,
    start_feeds,
    transport_of,
)
from ioc.transports.contract import Parser, expand_topic, feed_parsers
from ioc.transports.mqtt import BrokerAddress, MqttIngest, Route
from ioc.transports.push import PushEndpoint
from ioc.writer import BatchWriter, CommitListener

log = logging.getLogger(__name__)

HEALTH_INTERVAL = 5  # seconds between feed-health evaluations written to the database
RETENTION_INTERVAL = timedelta(days=1)
SWEEP_INTERVAL = 5  # role "alerts": seconds between looks at `latest` for what other processes stored
ROLES = ("all", "ingest", "alerts", "ui")


def register_plugins() -> None:
    """The composition root: the parsers of feeds/ (registered as their modules load) and the transports.
    The core and the plugins never import each other's wiring; this is the one place they meet."""
    if TRANSPORTS:
        return
    import feeds  # noqa: F401  (registers the built-in parsers)
    from feeds.native import encode
    from feeds.simulator import Simulator

    register_transport("mqtt", Transport(subscribed=True, requires=("topic",)))
    register_transport("http_poll", Transport(start=http_poll.schedule, roles=("all", "alerts"),
                                              requires=("url", "interval")))
    # One endpoint for every push feed (PushEndpoint, on the web server), each with its own token.
    # a push token writes only its feed's domain (and entities, when listed)
    register_transport("http_push", Transport(requires=("token_env", "domain")))
    register_transport("simulator", Transport(subscribed=True, start=simulator.starter(Simulator, encode),
                                              roles=("all",), options=SimulatorSettings, requires=("topic",)))


class AlertTap:
    """Stands in for the batch writer in the alerts process's own MQTT subscriber: valid readings go
    straight to the alert engine (the ingest workers store them) and the message is acknowledged."""

    def __init__(self) -> None:
        self._listeners: list[CommitListener] = []

    def add_listener(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    def submit(self, batch: Batch, timeout: float | None = None) -> None:
        for listener in self._listeners:
            listener(batch.readings)
        if batch.on_commit:
            batch.on_commit()


class Runtime:
    def __init__(self, config: Config, with_simulator: bool = True, role: str = "all", worker: int | None = None):
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
        self.config = config
        self.role = role
        self.worker = worker  # ingest worker number: its own MQTT client id, one share of the subscription
        self.with_simulator = with_simulator and role == "all"
        self.tap: AlertTap | None = None
        self.db: ConnectionPool | None = None
        self.storage: Storage | None = None
        self.writer: BatchWriter | None = None
        self.spool: Spool | None = None
        self.metrics: Metrics | None = None
        self.ingestor: Ingestor | None = None
        self.mqtt: MqttIngest | None = None
        # A feed is late after the cadence of what it carries, not before (ioc.status.feed_silence_allowed).
        self.feed_health = FeedHealth(status.feeds_as_judged(config))
        self.broker_address: BrokerAddress | None = None
        self.mqtt_settings: MqttSettings | None = None  # the broker's: MQTT 3.1.1 for the embedded one
        self.scheduler: BackgroundScheduler | None = None
        self.push: PushEndpoint | None = None
        self.alerts: AlertService | None = None
        self.notifier: Notifier | None = None
        self.rollups: Rollups | None = None
        self.started = datetime.now(UTC)
        self._broker: EmbeddedBroker | None = None
        self._stops: list[Callable[[], None]] = []
        register_plugins()

    def start(self) -> Runtime:
        try:
            parsers = feed_parsers(self.config)  # bad feeds or rules stop start-up before anything connects
            alert_config = load_rules(self.config)
            if self.role != "all" and (self.config.settings.database.url is None
                                       or (self.role != "ui" and self.config.settings.mqtt.url is None)):
                raise ValueError(f"role {self.role!r} needs a database and a broker the processes share: "
                                 "set IOC_DATABASE_URL and IOC_MQTT_URL (the embedded ones are per process)")
            self._start_storage(spool=self.role in ("all", "ingest"))
            self.push = PushEndpoint(self.config.feeds, parsers, self.ingestor,
                                     self.config.settings.ingest.max_payload_bytes)
            if self.role in ("all", "ingest"):
                self._start_broker()
                self._start_mqtt(parsers, self.ingestor, shared=self.role == "ingest")
            if self.role in ("all", "alerts"):
                if self.role == "alerts":
                    self._start_broker()
                    self.tap = AlertTap()
                self._start_alerts(alert_config)
                self._start_scheduler()
                self._start_feeds(parsers)
                brief_service.schedule(self.scheduler, self.config, self.db)
            if self.role == "alerts":
                # Evaluate-only subscriber, after the engine so that nothing reaches it before it listens.
                tap_ingestor = Ingestor(self.config, self.tap, health=self.feed_health)
                self._start_mqtt(parsers, tap_ingestor)
                self.scheduler.add_job(self.sweep_latest, "interval", seconds=SWEEP_INTERVAL, id="alerts-sweep",
                                       max_instances=1, coalesce=True)
        except BaseException:
            self.stop()
            raise
        log.info("IOC runtime started (role: %s, storage: %s, broker: %s)", self.role, self.storage.path,
                 self.broker_address)
        return self

    def sweep_latest(self) -> None:
        """Role "alerts": hand the engine every watched series' latest value, so that what other processes
        stored without passing the engine's subscriber (manual entries typed in the UI) is evaluated too;
        values the engine has already seen are skipped by it, old ones are history to it."""
        if self.alerts is not None and self.alerts.leader.is_set():
            self.alerts.on_commit(latest_readings(self.db))

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
        """The runtime's HTTP routes on the web server: /healthz and /metrics everywhere; by role, push feeds
        where their health is kept and the engine listens (all, alerts), the brief's PDFs only behind the
        UI's sign-in (all, ui)."""
        health.register(server, self)
        self.metrics.register(server)
        if self.role in ("all", "alerts"):
            self.push.register(server)
        if self.role in ("all", "ui"):
            brief_web.register(server, self)

    def _start_storage(self, spool: bool = False) -> None:
        """The database and the writer. `spool`: a process that acknowledges broker messages keeps what the
        database cannot take in its own spool; others (UI, CLI, the alert engine) write through or wait."""
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
        if spool:
            self.spool = Spool(self._spool_dir(), settings.ingest.spool_max_bytes).open()
            self._stops.append(self.spool.close)  # after the writer has stopped
        self.writer = BatchWriter(self.db, Partitions(self.storage), settings.ingest, self.spool)
        self.metrics = Metrics(self)
        self.writer.add_observer(self.metrics.observe)
        self.writer.start()  # replays what an earlier run left in the spool, before anything new
        self._stops.append(self.writer.stop)
        self.ingestor = Ingestor(self.config, self.writer, health=self.feed_health)

    def _spool_dir(self) -> Path:
        # One spool per MQTT session (client id): two ingesters never share one.
        directory = self.config.settings.ingest.spool_dir
        directory = directory if directory.is_absolute() else self.config.config_dir.parent / directory
        return directory / self.client_id

    def _pg_dir(self) -> Path:
        directory = self.config.settings.database.embedded_dir
        return directory if directory.is_absolute() else self.config.config_dir.parent / directory

    def _start_broker(self) -> None:
        """The broker's address (starting the embedded broker when none is configured)."""
        settings = self.config.settings.mqtt
        if settings.url is None:
            self._broker = EmbeddedBroker(settings.embedded_port, credentials_dir=self._pg_dir().parent / "mqtt")
            self._broker.start()
            self._stops.append(self._broker.stop)
            settings = settings.model_copy(update={"protocol": 311})  # amqtt speaks MQTT 3.1.1 only
            self.broker_address = BrokerAddress.from_url(self._broker.url)
        else:
            self.broker_address = BrokerAddress.from_url(settings.url)
        self.mqtt_settings = settings

    @property
    def client_id(self) -> str:
        """This process's MQTT session, and so its spool: each ingest worker (`<client_id>-<N>`) and the
        alert engine's evaluate-only subscriber (`<client_id>-alerts`) have their own."""
        base = self.config.settings.mqtt.client_id
        if self.role == "alerts":
            return f"{base}-alerts"
        return f"{base}-{self.worker}" if self.worker is not None else base

    def _start_mqtt(self, parsers: dict[str, Parser], ingestor: Ingestor, shared: bool = False) -> None:
        """The subscriber. Ingest workers (`shared`) subscribe as `$share/<group>/<topic>` when a group is
        configured or a worker number is given, so that the broker hands each message to one of them."""
        settings = self.mqtt_settings
        group = None
        if shared and (settings.shared_group or self.worker is not None):
            group = settings.shared_group or settings.client_id
        settings = settings.model_copy(update={"client_id": self.client_id})
        routes = [Route(topic, spec.name, parsers[spec.name]) for spec in self.config.feeds
                  if spec.enabled and transport_of(spec).subscribed
                  for topic in expand_topic(self.config, spec.topic)]
        self.mqtt = MqttIngest(self.broker_address, settings, ingestor, routes, shared_group=group)
        self.mqtt.start()
        self._stops.append(self.mqtt.stop)

    def _start_alerts(self, alert_config: AlertConfig) -> None:
        sync_rules(self.db, alert_config.rules)
        self.alert_config = alert_config
        self.notifier = Notifier(alert_config.notify, mqtt=(self.broker_address, self.mqtt_settings),
                                 silenced=silence_check(self.db, ZoneInfo(self.config.settings.ui.timezone)),
                                 text=AlertText(self.config)).start()
        self._stops.append(self.notifier.stop)
        self.alerts = self.new_alert_service()
        self.alerts.start()
        self._stops.append(lambda: self.alerts.stop())  # whichever engine is in charge by then

    def new_alert_service(self) -> AlertService:
        """An alert engine wired like the runtime's own (a restarted process builds the same)."""
        defaults = self.alert_config.defaults
        service = AlertService(self.config, self.db, self.database_url, effective_rules(self.db, self.config),
                               notify=self.notifier.submit, health=self.feed_health,
                               repeat_interval=self.alert_config.notify.repeat_interval,
                               flaps=FlapDetector(defaults.flap_window, defaults.flap_changes),
                               rules_source=lambda: effective_rules(self.db, self.config),
                               rules_version=lambda: rules_version(self.db))
        self.writer.add_listener(service.on_commit)  # polled and pushed readings (and everything, role "all")
        if self.tap is not None:
            self.tap.add_listener(service.on_commit)  # role "alerts": what the ingest workers store
        return service

    def _start_scheduler(self) -> None:
        """The scheduler of the background jobs: feed health, rollups, retention here; the polled feeds
        (`_start_feeds`) and the daily brief add theirs."""
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self.feed_health.persist(self.db, prune=True)
        self.scheduler.add_job(self.feed_health.persist, "interval", seconds=HEALTH_INTERVAL, args=[self.db],
                               id="feed-health", max_instances=1, coalesce=True, next_run_time=datetime.now(UTC))
        # Rollups (both paths: the hours commits touched) and retention: one run at a time each;
        # retention's first run waits an hour so that a start-up is never slowed by it.
        storage = self.config.settings.storage
        self.scheduler.add_job(self.rollups.refresh, "interval", seconds=storage.rollup_refresh.total_seconds(),
                               id="rollups", max_instances=1, coalesce=True, next_run_time=datetime.now(UTC))
        self.scheduler.add_job(self.rollups.retain, "interval", seconds=RETENTION_INTERVAL.total_seconds(),
                               id="retention", max_instances=1, coalesce=True,
                               next_run_time=datetime.now(UTC) + timedelta(hours=1))
        self.scheduler.start()
        self._stops.append(lambda: self.scheduler.shutdown(wait=False))

    def _start_feeds(self, parsers: dict[str, Parser]) -> None:
        """Start the feeds whose transport runs in this role (the subscriber already listens, the scheduler
        runs); the simulator only when this runtime was asked for it."""
        context = TransportContext(self.config, parsers, self.ingestor, self.scheduler, self.broker_address,
                                   self.mqtt_settings)
        self._stops.extend(start_feeds(context, self.role,
                                       skip=lambda spec: spec.transport == "simulator" and not self.with_simulator))

    def stop(self) -> None:
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception:
                log.exception("error while stopping")
