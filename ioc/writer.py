"""The one batch writer: every reading and dead letter reaches PostgreSQL through here.

Producers (MQTT, HTTP, the simulator) submit a `Batch` of validated readings and dead letters with an
optional `on_commit` callback. The writer thread groups submissions until `batch_max_rows` or
`batch_max_delay`, writes them in one transaction with binary COPY, and only after the commit calls
each batch's `on_commit` (the MQTT acknowledgement) in submission order, then the listeners (alerts).
A full queue blocks the producer: memory stays bounded and the broker holds what is not yet taken.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg_pool import ConnectionPool

from ioc.audit import audit
from ioc.config import IngestSettings
from ioc.db import Partitions
from ioc.models import DeadLetter, ManualEntry, Reading
from ioc.rollups import mark_dirty

log = logging.getLogger(__name__)

CommitListener = Callable[[Sequence[Reading]], None]


@dataclass(slots=True)
class Batch:
    readings: list[Reading]
    dead_letters: list[DeadLetter] = field(default_factory=list)
    on_commit: Callable[[], None] | None = None
    feed: str | None = None
    manual: list[ManualEntry] = field(default_factory=list)  # written with replace semantics and an audit row
    received: float = field(default_factory=time.monotonic)


@dataclass
class WriterStats:
    batches: int = 0
    commits: int = 0
    readings_stored: int = 0
    readings_duplicate: int = 0
    dead_letters: int = 0
    last_commit: float | None = None  # time.time() of the last successful commit
    last_error: str | None = None
    queue_depth: int = 0


class SeriesIds:
    """Maps (entity, metric) to the integer series id; a series seen for the first time is created."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, str], int] = {}

    def load(self, conn: psycopg.Connection) -> None:
        self.ids = {(e, m): i for i, e, m in conn.execute("SELECT id, entity, metric FROM series")}

    def create(self, conn: psycopg.Connection, key: tuple[str, str]) -> int:
        conn.execute("INSERT INTO series (entity, metric) VALUES (%s, %s) ON CONFLICT (entity, metric) DO NOTHING",
                     key)
        self.ids[key] = conn.execute("SELECT id FROM series WHERE entity = %s AND metric = %s", key).fetchone()[0]
        return self.ids[key]


_TYPES = ["int4", "timestamptz", "float8"]


class BatchWriter:
    def __init__(self, pool: ConnectionPool, partitions: Partitions, settings: IngestSettings):
        self.pool = pool
        self.partitions = partitions
        self.settings = settings
        self.stats = WriterStats()
        self._queue: queue.Queue[Batch] = queue.Queue(maxsize=settings.queue_max_messages)
        self._listeners: list[CommitListener] = []
        self._series = SeriesIds()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add_listener(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    def submit(self, batch: Batch, timeout: float | None = None) -> None:
        """Queue a batch; blocks while the queue is full (back-pressure), raises queue.Full on timeout."""
        self._queue.put(batch, timeout=timeout)

    def start(self) -> None:
        with self.pool.connection() as conn:
            self._series.load(conn)
        self._thread = threading.Thread(target=self._run, name="ioc-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Write everything already queued, then stop."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def flush(self, timeout: float = 10) -> bool:
        """Wait until every batch submitted so far is committed (for tests and orderly shutdown)."""
        done = threading.Event()
        self.submit(Batch([], on_commit=done.set))
        return done.wait(timeout)

    # --- the writer thread ----------------------------------------------------------------------

    def _collect(self) -> list[Batch]:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batches, rows = [first], len(first.readings) + len(first.dead_letters)
        deadline = first.received + self.settings.batch_max_delay.total_seconds()
        while rows < self.settings.batch_max_rows:
            try:
                batch = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            batches.append(batch)
            rows += len(batch.readings) + len(batch.dead_letters)
        return batches

    def _run(self) -> None:
        backoff = 0.5
        pending: list[Batch] = []
        while True:
            if not pending:
                if self._stop.is_set() and self._queue.empty():
                    return
                pending = self._collect()
                if not pending:
                    continue
            try:
                self._write(pending)
            except psycopg.OperationalError as exc:
                # Keep the batches and retry: nothing is acknowledged until it is committed.
                if self.stats.last_error is None:
                    log.error("database write failed, retrying: %s", exc)
                self.stats.last_error = str(exc)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10)
                continue
            if self.stats.last_error is not None:
                log.info("database writes recovered")
            self.stats.last_error = None
            backoff = 0.5
            self._after_commit(pending)
            pending = []

    def _after_commit(self, batches: list[Batch]) -> None:
        readings: list[Reading] = []
        for batch in batches:
            readings.extend(batch.readings)
            readings.extend(e.reading for e in batch.manual)
            if batch.on_commit:
                try:
                    batch.on_commit()
                except Exception:
                    log.exception("on_commit callback failed")
        self.stats.queue_depth = self._queue.qsize()
        if readings:
            for listener in self._listeners:
                try:
                    listener(readings)
                except Exception:
                    log.exception("commit listener failed")

    def _write(self, batches: list[Batch]) -> None:
        received = sum(len(b.readings) for b in batches)
        dead = [d for b in batches for d in b.dead_letters]
        with self.pool.connection() as conn, conn.transaction():
            stored = self._write_readings(conn, batches) if received else 0
            for entry in (e for b in batches for e in b.manual):
                self._write_manual(conn, entry)
            if self.partitions.storage.path == "postgresql":
                # The hours this commit touched, for the rollup job (TimescaleDB tracks its own).
                mark_dirty(conn, [r.ts for b in batches for r in b.readings] +
                           [e.reading.ts for b in batches for e in b.manual])
            if dead:
                with conn.cursor().copy("COPY dead_letters (received, source, reason, payload) "
                                        "FROM STDIN") as copy:
                    for d in dead:
                        copy.write_row((d.received, d.source, d.reason, d.payload))
        self.stats.batches += len(batches)
        self.stats.commits += 1
        self.stats.readings_stored += stored
        self.stats.readings_duplicate += received - stored
        self.stats.dead_letters += len(dead)
        self.stats.last_commit = time.time()

    def _write_manual(self, conn: psycopg.Connection, entry: ManualEntry) -> None:
        r = entry.reading
        sid = self._series.ids.get((r.entity, r.metric)) or self._series.create(conn, (r.entity, r.metric))
        self.partitions.ensure(conn, r.ts, r.ts)
        entry_id, previous = conn.execute(
            "INSERT INTO manual_entries (entered_by, entity, metric, ts, value, previous_value, note) "
            "VALUES (%s, %s, %s, %s, %s, (SELECT value FROM readings WHERE series_id = %s AND ts = %s), %s) "
            "RETURNING id, previous_value",
            (entry.entered_by, r.entity, r.metric, r.ts, r.value, sid, r.ts, entry.note)).fetchone()
        audit(conn, entry.entered_by, "manual.entry", f"{r.entity}/{r.metric}@{r.ts.isoformat()}",
              None if previous is None else {"value": previous}, {"value": r.value, "note": entry.note,
                                                                  "entry": entry_id})
        conn.execute("INSERT INTO readings (series_id, ts, value) VALUES (%s, %s, %s) "
                     "ON CONFLICT (series_id, ts) DO UPDATE SET value = excluded.value", (sid, r.ts, r.value))
        conn.execute("INSERT INTO latest (series_id, ts, value, feed) VALUES (%s, %s, %s, 'manual') "
                     "ON CONFLICT (series_id) DO UPDATE SET ts = excluded.ts, value = excluded.value, "
                     "feed = excluded.feed WHERE excluded.ts >= latest.ts", (sid, r.ts, r.value))

    def _write_readings(self, conn: psycopg.Connection, batches: list[Batch]) -> int:
        ids = self._series.ids
        rows: dict[tuple[int, datetime], float] = {}  # one per (series, time): repeats in the batch collapse
        feeds: dict[int, str | None] = {}
        for batch in batches:
            for r in batch.readings:
                sid = ids.get((r.entity, r.metric)) or self._series.create(conn, (r.entity, r.metric))
                rows.setdefault((sid, r.ts), r.value)
                feeds[sid] = batch.feed
        times = [ts for _, ts in rows]
        self.partitions.ensure(conn, min(times), max(times))
        cur = conn.cursor()
        try:
            # Fast path: straight into readings. A repeated reading makes the COPY fail as a whole,
            # and only then do we pay for the staging table and ON CONFLICT.
            with conn.transaction(), cur.copy("COPY readings (series_id, ts, value) FROM STDIN "
                                              "(FORMAT BINARY)") as copy:
                copy.set_types(_TYPES)
                for (sid, ts), value in rows.items():
                    copy.write_row((sid, ts, value))
            stored = len(rows)
        except psycopg.errors.UniqueViolation:
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS readings_in (series_id int, ts timestamptz, "
                        "value float8) ON COMMIT DELETE ROWS")
            with cur.copy("COPY readings_in FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(_TYPES)
                for (sid, ts), value in rows.items():
                    copy.write_row((sid, ts, value))
            cur.execute("INSERT INTO readings SELECT * FROM readings_in ON CONFLICT DO NOTHING")
            stored = cur.rowcount
        newest: dict[int, tuple[datetime, float]] = {}
        for (sid, ts), value in rows.items():
            if sid not in newest or ts > newest[sid][0]:
                newest[sid] = (ts, value)
        cur.execute(
            "INSERT INTO latest (series_id, ts, value, feed) SELECT * FROM unnest(%s::int[], %s::timestamptz[], "
            "%s::float8[], %s::text[]) ON CONFLICT (series_id) DO UPDATE SET ts = excluded.ts, "
            "value = excluded.value, feed = excluded.feed WHERE excluded.ts > latest.ts",
            (list(newest), [t for t, _ in newest.values()], [v for _, v in newest.values()],
             [feeds[sid] for sid in newest]))
        return stored
