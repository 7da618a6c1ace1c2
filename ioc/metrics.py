"""/metrics: the runtime's self-metrics in the Prometheus text format.

A registry of our own per runtime (tests run several runtimes in one process). Counters and gauges
are read from the parts that already keep them (writer stats, ingestor rejections, spool, feed
health) when scraped, so the hot path pays only for the two histograms: ingest lag per committed
batch, and the latency of Dash callbacks.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ioc import alert_queries, timescale
from ioc.ingest import REASON_CODES

if TYPE_CHECKING:
    from ioc.models import Batch
    from ioc.runtime import Runtime

log = logging.getLogger(__name__)

RATE_WINDOW = 60.0  # seconds over which ioc_ingest_rate is averaged
CALLBACK_PATH = "/_dash-update-component"
ALERT_STATES = ("pending", "firing", "resolved")


class IngestRate:
    """Readings committed per second over the last minute (a gauge for /healthz and wall checks;
    Prometheus itself would use rate() on the counter)."""

    def __init__(self) -> None:
        self._commits: deque[tuple[float, int]] = deque()

    def add(self, readings: int) -> None:
        now = time.monotonic()
        self._commits.append((now, readings))
        while self._commits and self._commits[0][0] < now - RATE_WINDOW:
            self._commits.popleft()

    def per_second(self) -> float:
        now = time.monotonic()
        while self._commits and self._commits[0][0] < now - RATE_WINDOW:
            self._commits.popleft()
        return sum(n for _, n in self._commits) / RATE_WINDOW


class Metrics:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.registry = CollectorRegistry(auto_describe=False)
        self.rate = IngestRate()
        self.lag = Histogram(
            "ioc_ingest_lag_seconds", "Commit time minus the time of the newest reading of each committed batch",
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400), registry=self.registry)
        self.callbacks = Histogram(
            "ioc_dash_callback_seconds", "Time to answer a Dash callback request (/_dash-update-component)",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=self.registry)
        self.registry.register(_Collector(runtime, self.rate))

    def observe(self, batches: Sequence[Batch]) -> None:
        """Writer observer: per committed batch, how far behind real time its newest reading is."""
        now = datetime.now(UTC)
        count = 0
        for batch in batches:
            if batch.readings:
                count += len(batch.readings)
                self.lag.observe(max(0.0, (now - max(r.ts for r in batch.readings)).total_seconds()))
        if count:
            self.rate.add(count)

    def register(self, server: Flask) -> None:
        """/metrics, and timing of Dash callbacks through request hooks on the same server."""
        def started() -> None:
            if request.path == CALLBACK_PATH:
                g.ioc_callback_start = time.perf_counter()

        def finished(response: Response) -> Response:
            began = g.pop("ioc_callback_start", None)
            if began is not None:
                self.callbacks.observe(time.perf_counter() - began)
            return response

        server.before_request(started)
        server.after_request(finished)
        server.add_url_rule("/metrics", "metrics", self.export)

    def export(self) -> Response:
        return Response(generate_latest(self.registry), mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


class _Collector:
    """Values read at scrape time from where they are kept."""

    def __init__(self, runtime: Runtime, rate: IngestRate):
        self.runtime, self.rate = runtime, rate

    def collect(self) -> Iterator[Metric]:
        rt = self.runtime
        stats = rt.writer.stats
        yield _counter("ioc_ingest_readings", "Readings committed to the database", stats.readings_stored)
        yield _counter("ioc_ingest_duplicates", "Readings received again and absorbed by the primary key",
                       stats.readings_duplicate)
        yield _gauge("ioc_ingest_rate", "Readings committed per second over the last minute", self.rate.per_second())
        yield _gauge("ioc_ingest_seconds_since_commit", "Seconds since the last commit (-1: none yet)",
                     -1 if stats.last_commit is None else time.time() - stats.last_commit)
        dead = CounterMetricFamily("ioc_dead_letters", "Inputs rejected, by reason code (the reason's text is "
                                   "in the dead-letter row)", labels=["reason"])
        for reason in REASON_CODES:  # a fixed set: a sender never chooses a label value
            dead.add_metric([reason], rt.ingestor.rejected[reason])
        yield dead
        dropped = CounterMetricFamily("ioc_dead_letters_dropped", "Rejections counted but not stored as dead "
                                      "letters (per-message and per-feed rate limits)", labels=["feed"])
        for feed, n in sorted(rt.ingestor.dead_letters_dropped.items()):
            dropped.add_metric([feed], n)
        yield dropped
        yield _gauge("ioc_writer_queue_depth", "Batches waiting for the writer", rt.writer.queue_depth)
        yield _gauge("ioc_writer_queue_capacity", "Batches the writer queue holds before ingest blocks",
                     rt.writer.queue_capacity)
        yield _gauge("ioc_writer_queue_readings", "Readings waiting for the writer", rt.writer.queued_readings)
        yield _gauge("ioc_writer_queue_readings_capacity", "Readings the writer queue holds before ingest blocks",
                     rt.writer.settings.queue_max_readings)
        yield _gauge("ioc_ingest_dropped", "Readings dropped for overload (always 0: overload blocks, the "
                     "broker keeps the rest)", 0)
        yield _gauge("ioc_database_up", "1 when the last write reached the database", int(stats.last_error is None))
        spool = rt.spool
        if spool is not None:  # only processes that acknowledge broker messages keep one
            yield _gauge("ioc_spool_bytes", "Bytes waiting in the spool", spool.bytes)
            yield _gauge("ioc_spool_max_bytes", "Spool size limit", spool.max_bytes)
            yield _gauge("ioc_spool_batches", "Batches waiting in the spool", spool.records)
            yield _gauge("ioc_spool_full", "1 while the spool is full (nothing is acknowledged)", int(spool.full))
            yield _counter("ioc_spool_written_batches", "Batches written to the spool", stats.spooled_batches)
            yield _counter("ioc_spool_replayed_batches", "Batches replayed from the spool", stats.replayed_batches)
        if rt.mqtt is not None:  # a UI process has no subscriber
            yield _gauge("ioc_broker_connected", "1 while the MQTT subscriber is connected",
                         int(rt.mqtt.connected.is_set()))
            yield _counter("ioc_mqtt_messages", "MQTT messages received", rt.mqtt.messages)
        feeds = GaugeMetricFamily("ioc_feed_state", "1 for each feed's current state", labels=["feed", "state"])
        for f in rt.feed_health.snapshot():
            feeds.add_metric([f["feed"], f["state"]], 1)
        yield feeds
        if rt.alerts is not None:
            yield _gauge("ioc_alert_engine_queued_batches", "Committed batches waiting for the alert engine",
                         rt.alerts.lag())
        if rt.storage is not None and rt.storage.path == "timescaledb":
            yield from self._timescale()
        alerts = GaugeMetricFamily("ioc_alerts", "Alerts by state (resolved: in the last 24 h)", labels=["state"])
        for state, n in self._alert_counts().items():
            alerts.add_metric([state], n)
        yield alerts

    def _timescale(self) -> Iterator[Metric]:
        """The TimescaleDB path's own health (ioc.timescale.status), read at scrape time."""
        try:
            with self.runtime.db.connection(timeout=2) as conn:
                state = timescale.status(conn)
        except Exception as exc:  # the database being down must not break the scrape
            log.debug("TimescaleDB status unavailable: %s", exc)
            return
        info = GaugeMetricFamily("ioc_timescaledb_info", "1, labelled with the TimescaleDB extension version",
                                 labels=["version"])
        info.add_metric([state["version"] or ""], 1)
        yield info
        yield _gauge("ioc_timescaledb_chunks", "Chunks of the readings hypertable", state["chunks"])
        yield _gauge("ioc_timescaledb_compressed_chunks", "Compressed chunks of readings", state["compressed_chunks"])
        yield _gauge("ioc_timescaledb_compression_ratio", "Bytes before / after compression of readings "
                     "(0: nothing compressed yet)", state["compression_ratio"] or 0)
        labels = ["job_id", "policy", "relation"]
        last_run = GaugeMetricFamily("ioc_timescaledb_job_last_run_timestamp_seconds",
                                     "When each policy job last started (0: never)", labels=labels)
        failed = GaugeMetricFamily("ioc_timescaledb_job_last_run_failed", "1 when the job's last run failed",
                                   labels=labels)
        failures = GaugeMetricFamily("ioc_timescaledb_job_consecutive_failures",
                                     "Failed runs of each policy job since its last success", labels=labels)
        for job in state["jobs"]:
            key = [str(job.job_id), job.proc, job.relation or ""]
            last_run.add_metric(key, job.last_run.timestamp() if job.last_run else 0)
            failed.add_metric(key, int(job.last_status == "Failed"))
            failures.add_metric(key, job.consecutive_failures)
        yield from (last_run, failed, failures)

    def _alert_counts(self) -> dict[str, int]:
        try:
            return alert_queries.counts_by_state(self.runtime.db)
        except Exception as exc:  # the database being down must not break the scrape
            log.debug("alert counts unavailable: %s", exc)
            return dict.fromkeys(ALERT_STATES, 0)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)
