"""The one batch writer: every reading and dead letter reaches PostgreSQL through here.

Producers (MQTT, HTTP, the simulator) submit a `Batch` of validated readings and dead letters with an
optional `on_commit` callback. The writer thread groups submissions until `batch_max_rows` or
`batch_max_delay`, writes them in one transaction with binary COPY, and only after the commit calls
each batch's `on_commit` (the MQTT acknowledgement) in submission order, then the listeners (alerts).
A full queue blocks the producer: memory stays bounded and the broker holds what is not yet taken.

When PostgreSQL cannot take a write, each group goes to the on-disk spool (ioc/spool.py, fsync'd) and
is acknowledged from there. "Cannot take" is any failure that is not a proven per-row data error: a
lost connection or a full disk (OperationalError), but also a revoked privilege (ProgrammingError), a
read-only server (InternalError), or a bug; only DataError and IntegrityError raised by a batch of its
own are the content's fault, and then each reading is tried alone and the refused ones dead-lettered
one by one with the database's reason. Meanwhile the writer's health is failing; once the database
takes writes again the spool is replayed in order, before anything newer, one segment per
transaction, idempotently (the primary key absorbs repeats and each segment is recorded as replayed in
the same transaction).
"""

from __future__ import annotations

import logging
import queue
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg_pool import ConnectionPool

from ioc.audit import audit
from ioc.config import IngestSettings
from ioc.db import Partitions
from ioc.models import Batch, DeadLetter, ManualEntry, Reading
from ioc.rollups import mark_dirty
from ioc.spool import Spool, SpoolFull
from ioc.spool import decode as spool_decode
from ioc.spool import encode as spool_encode

log = logging.getLogger(__name__)

CommitListener = Callable[[Sequence[Reading]], None]
BatchObserver = Callable[[Sequence["Batch"]], None]

RETRY_MIN, RETRY_MAX = 0.5, 2.0  # seconds between attempts to write again: a few at most, whatever the outage
CONNECT_TIMEOUT = 5.0  # waiting longer for a pooled connection only delays spooling


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
    spooled_batches: int = 0  # written to the spool (and acknowledged) while the database was down
    replayed_batches: int = 0


def is_row_error(exc: BaseException) -> bool:
    """Whether the database refused the content (a value, a constraint), so that the same rows will be
    refused again whatever the operator does. Anything else may pass later and must not cost a reading."""
    return isinstance(exc, (psycopg.DataError, psycopg.IntegrityError))


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def storable(text: str) -> str:
    """Text PostgreSQL accepts: no NUL, no lone surrogates (a JSON "\\ud800" decodes to one)."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


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

    def forget_since(self, count: int) -> None:
        """Drop the ids learnt after the first `count` (their transaction rolled back)."""
        for key in list(self.ids)[count:]:
            del self.ids[key]


# PostgreSQL's binary COPY format: a header, then per row the field count and each field's length and
# value (int4 series id, timestamptz as microseconds since 2000-01-01 UTC, float8), then a trailer.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_COPY_TRAILER = b"\xff\xff"
_TUPLE = struct.Struct(">hiiiqid").pack
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _array(numbers: Iterable[int | float]) -> str:
    """A PostgreSQL array literal of numbers (str of a float: the shortest text that reads back the same)."""
    return "{" + ",".join(map(str, numbers)) + "}"


def _rows(batch: Batch) -> int:
    return len(batch.readings) + len(batch.dead_letters)


class BatchWriter:
    def __init__(self, pool: ConnectionPool, partitions: Partitions, settings: IngestSettings,
                 spool: Spool | None = None):
        self.pool = pool
        self.spool = spool
        self.partitions = partitions
        self.settings = settings
        self.stats = WriterStats()
        # The queue: at most `queue_max_messages` batches, and (messages vary from one reading to thousands)
        # at most `queue_max_readings` rows, so that memory stays bounded whatever the payloads; one batch
        # alone may exceed it (it is let in). One lock; producers wait on `_room`, the writer on `_ready`.
        # The writer is woken only when it has something to do: the first batch while it is idle, then the
        # group reaching `batch_max_rows` (or its delay running out); not once per message, which cost the
        # producer's thread a wake-up and a GIL hand-over for every one-reading message.
        self._pending: deque[Batch] = deque()
        self._rows_queued = 0
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._ready = threading.Condition(self._lock)
        self._wake_at_rows: int | None = None  # the writer waits for this many queued rows (0: any batch)
        self._listeners: list[CommitListener] = []
        self._observers: list[BatchObserver] = []
        self._retry_at = 0.0  # monotonic time before which the database is not tried again
        self._backoff = RETRY_MIN
        self._series = SeriesIds()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add_listener(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    def add_observer(self, observer: BatchObserver) -> None:
        """Called with the committed batches (self-metrics), before the listeners."""
        self._observers.append(observer)

    @property
    def queue_capacity(self) -> int:
        return self.settings.queue_max_messages

    def submit(self, batch: Batch, timeout: float | None = None) -> None:
        """Queue a batch; blocks while the queue is full (back-pressure), raises queue.Full on timeout."""
        rows = _rows(batch)
        limits = self.settings
        with self._lock:
            if not self._room.wait_for(lambda: not self._pending or (
                    len(self._pending) < limits.queue_max_messages
                    and self._rows_queued + rows <= limits.queue_max_readings), timeout):
                raise queue.Full
            self._pending.append(batch)
            self._rows_queued += rows
            if self._wake_at_rows is not None and self._rows_queued >= self._wake_at_rows:
                self._wake_at_rows = None
                self._ready.notify()

    @property
    def queue_depth(self) -> int:
        return len(self._pending)

    @property
    def queued_readings(self) -> int:
        return self._rows_queued

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
        """Wait until every batch submitted so far is committed, or spooled while the database is down."""
        done = threading.Event()
        self.submit(Batch([], on_commit=done.set))
        return done.wait(timeout)

    # --- the writer thread ----------------------------------------------------------------------

    def _collect(self) -> list[Batch]:
        """The next group: batches in submission order up to `batch_max_rows`, waiting at most
        `batch_max_delay` after the first arrived for the group to fill."""
        max_rows = self.settings.batch_max_rows
        with self._lock:
            if not self._pending:
                self._wake_at_rows = 0
                self._ready.wait(0.2)
                self._wake_at_rows = None
                if not self._pending:
                    return []
            deadline = self._pending[0].received + self.settings.batch_max_delay.total_seconds()
            while self._rows_queued < max_rows and (wait := deadline - time.monotonic()) > 0:
                self._wake_at_rows = max_rows
                self._ready.wait(wait)
                self._wake_at_rows = None
            batches, rows = [], 0
            while self._pending and (not batches or rows < max_rows):
                batch = self._pending.popleft()
                batches.append(batch)
                rows += _rows(batch)
            self._rows_queued -= rows
            self._room.notify_all()
        return batches

    def _run(self) -> None:
        pending: list[Batch] = []
        while True:
            # Spooled readings go first (in order), before anything newer is taken from the queue.
            if self.spool is not None and not self.spool.empty and time.monotonic() >= self._retry_at:
                try:
                    self._replay_one()
                    self._db_ok()
                    continue
                except Exception as exc:  # the database, or the spool's disk: say so, try again later
                    self._db_failed(exc)
            if not pending:
                if self._stop.is_set() and not self._pending:
                    return
                pending = self._collect()
                self.stats.queue_depth = len(self._pending)
                if not pending:
                    continue
            if (self.spool is None or self.spool.empty) and time.monotonic() >= self._retry_at:
                try:
                    self._write(pending)
                except Exception as exc:
                    if not is_row_error(exc):  # the database cannot take writes now: spool, say so
                        self._db_failed(exc)
                    else:  # refused for its content: find the rows, the rest keeps flowing
                        log.warning("write refused for its content (%s); writing batch by batch", first_line(exc))
                        pending = self._write_one_by_one(pending)
                        continue
                else:
                    self._db_ok()
                    self._after_commit(pending)
                    pending = []
                    continue
            if self.spool is None:  # nowhere else to put them: keep them, acknowledge nothing
                time.sleep(max(0.05, min(1.0, self._retry_at - time.monotonic())))
                continue
            # The database is down (or older readings still wait in the spool): spool the group, in
            # order, then acknowledge it. A full spool acknowledges nothing: the queue fills, ingest
            # blocks and the broker keeps the messages.
            try:
                self.spool.append(spool_encode(pending))
            except SpoolFull:
                time.sleep(0.2)
                continue
            self.stats.spooled_batches += len(pending)
            self._acknowledge(pending)
            pending = []

    def _db_failed(self, exc: Exception) -> None:
        if self.stats.last_error is None:
            if isinstance(exc, psycopg.Error):
                log.error("database write failed (%s: %s); spooling and retrying", type(exc).__name__,
                          first_line(exc))
            else:  # not the database's word: a bug or the spool's disk, worth its traceback
                log.error("write failed; spooling and retrying", exc_info=exc)
        self.stats.last_error = f"{type(exc).__name__}: {first_line(exc)}"
        self._retry_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, RETRY_MAX)

    def _db_ok(self) -> None:
        if self.stats.last_error is not None:
            log.info("database writes recovered")
        self.stats.last_error = None
        self._backoff = RETRY_MIN
        self._retry_at = 0.0

    def _write_one_by_one(self, batches: list[Batch]) -> list[Batch]:
        """A group the database refused for its content: each batch alone, and in a batch that is still
        refused, each reading alone; a reading refused on its own becomes a dead letter with the database's
        reason. Returns the batches not written because the database stopped taking writes meanwhile (they
        are spooled; readings of theirs already stored are absorbed by the primary key)."""
        for i, batch in enumerate(batches):
            try:
                try:
                    self._write([batch])
                    written = batch
                except Exception as exc:
                    if not is_row_error(exc):
                        raise
                    written = self._write_rows_alone(batch)
            except Exception as exc:
                self._db_failed(exc)
                return batches[i:]
            self._after_commit([written])
        return []

    def _write_rows_alone(self, batch: Batch) -> Batch:
        """Each reading (and manual entry) of a refused batch in a transaction of its own, then the batch's
        dead letters with one for each refused row. Returns what was stored, for the commit listeners."""
        stored: list[Reading] = []
        manual: list[ManualEntry] = []
        dead = list(batch.dead_letters)
        rows = [Batch([r], feed=batch.feed) for r in batch.readings] + \
               [Batch([], feed=batch.feed, manual=[m]) for m in batch.manual]
        for row in rows:
            try:
                self._write([row])
            except Exception as exc:
                if not is_row_error(exc):
                    raise
                r = row.readings[0] if row.readings else row.manual[0].reading
                dead.append(DeadLetter(batch.feed or "writer",
                                       f"could not be stored: {type(exc).__name__}: {first_line(exc)}"[:500],
                                       f"{r.entity} {r.metric} {r.ts.isoformat()} {r.value!r}"[:512],
                                       datetime.now(UTC)))
            else:
                stored.extend(row.readings)
                manual.extend(row.manual)
        letters = Batch([], dead, feed=batch.feed)
        try:
            self._write([letters])
        except Exception as exc:
            if not is_row_error(exc):
                raise
            log.exception("dead letters of a refused batch could not be stored either; its stored readings "
                          "are acknowledged so that the rest keeps flowing")
        return Batch(stored, dead, batch.on_commit, batch.feed, manual)

    def _replay_one(self) -> None:
        """Write the oldest spool segment in one transaction, remember it by name, then delete it."""
        segment = self.spool.segments()[0]
        records = list(self.spool.read(segment))
        batches = []
        for record in records:
            try:
                batches.extend(spool_decode(record))
            except (ValueError, KeyError, TypeError):  # intact frame, unreadable content: a bug, not a crash
                log.exception("spool segment %s: a record could not be decoded and is skipped", segment.name)
        try:
            if batches:
                self._write(batches, replayed=segment.name)
        except Exception as exc:
            if not is_row_error(exc):
                raise
            log.warning("replay of spool segment %s refused for its content (%s); batch by batch", segment.name,
                        first_line(exc))
            if self._write_one_by_one(batches):
                raise RuntimeError("the database stopped taking writes during the replay") from None
        else:
            self._after_commit(batches)
        self.spool.remove(segment, len(records))
        self.stats.replayed_batches += len(batches)
        log.info("replayed spool segment %s: %d batches, %d readings", segment.name, len(batches),
                 sum(len(b.readings) for b in batches))

    def _acknowledge(self, batches: list[Batch]) -> None:
        for batch in batches:
            if batch.on_commit:
                try:
                    batch.on_commit()
                except Exception:
                    log.exception("on_commit callback failed")

    def _after_commit(self, batches: list[Batch]) -> None:
        self._acknowledge(batches)
        readings: list[Reading] = []
        for batch in batches:
            readings.extend(batch.readings)
            readings.extend(e.reading for e in batch.manual)
        for listener in self._observers:
            try:
                listener(batches)
            except Exception:
                log.exception("commit observer failed")
        self.stats.queue_depth = len(self._pending)
        if readings:
            for listener in self._listeners:
                try:
                    listener(readings)
                except Exception:
                    log.exception("commit listener failed")

    def _write(self, batches: list[Batch], replayed: str | None = None) -> None:
        received = sum(len(b.readings) for b in batches)
        dead = [d for b in batches for d in b.dead_letters]
        created = len(self._series.ids)
        try:
            with self.pool.connection(timeout=CONNECT_TIMEOUT) as conn, conn.transaction():
                if replayed is not None and conn.execute(
                        "INSERT INTO spool_replayed (segment) VALUES (%s) ON CONFLICT DO NOTHING",
                        (replayed,)).rowcount == 0:
                    return  # committed before a crash that left the file behind: not twice
                stored, times = self._write_readings(conn, batches) if received else (0, [])
                self._write_rest(conn, batches, dead, times)
        except BaseException:
            self._series.forget_since(created)  # ids of series created in a rolled-back transaction
            self.partitions.forget()  # and its partitions
            raise
        self.stats.batches += len(batches)
        self.stats.commits += 1
        self.stats.readings_stored += stored
        self.stats.readings_duplicate += received - stored
        self.stats.dead_letters += len(dead)
        self.stats.last_commit = time.time()

    def _write_rest(self, conn: psycopg.Connection, batches: list[Batch], dead: list[DeadLetter],
                    times: list[datetime]) -> None:
        for entry in (e for b in batches for e in b.manual):
            self._write_manual(conn, entry)
        # The hours this commit touched: queries read them raw until the rollup job has refreshed them.
        mark_dirty(conn, times + [e.reading.ts for b in batches for e in b.manual])
        if dead:
            with conn.cursor().copy("COPY dead_letters (received, source, reason, payload) FROM STDIN") as copy:
                for d in dead:
                    copy.write_row((d.received, storable(d.source), storable(d.reason), storable(d.payload)))

    def _count_stored(self, batches: list[Batch], inserted: list[tuple[int, datetime]]) -> None:
        """Each batch's `stored`: how many of its readings were new (a repeat counts for the batch that
        brought it first). Only the slow path needs this walk; the fast path stored everything."""
        ids = self._series.ids
        owners: dict[tuple[int, datetime], Batch] = {}
        for batch in batches:
            batch.stored = 0
            for r in batch.readings:
                owners.setdefault((ids[(r.entity, r.metric)], r.ts), batch)
        for key in inserted:
            if (owner := owners.get(key)) is not None:
                owner.stored += 1

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

    def _write_readings(self, conn: psycopg.Connection, batches: list[Batch]) -> tuple[int, list[datetime]]:
        """COPY the batches' readings; (rows stored, the distinct times written)."""
        ids = self._series.ids
        rows: list[bytes] = []  # PostgreSQL's binary COPY tuples, built here rather than by a call per row
        micros: dict[datetime, int] = {}  # many readings share an instant: convert each instant once
        newest: dict[int, tuple[int, float, str | None]] = {}  # per series (µs, value, feed), for `latest`
        for batch in batches:
            feed = batch.feed
            for r in batch.readings:
                sid = ids.get((r.entity, r.metric)) or self._series.create(conn, (r.entity, r.metric))
                ts = r.ts
                us = micros.get(ts)
                if us is None:
                    us = micros[ts] = (ts - _PG_EPOCH) // _MICROSECOND
                rows.append(_TUPLE(3, 4, sid, 8, us, 8, r.value))
                last = newest.get(sid)
                if last is None or us > last[0]:
                    newest[sid] = (us, r.value, feed)
        self.partitions.ensure(conn, min(micros), max(micros))
        data = b"".join((_COPY_HEADER, *rows, _COPY_TRAILER))
        cur = conn.cursor()
        try:
            # Fast path: straight into readings. A repeated reading (redelivered, or twice in the batch)
            # makes the COPY fail as a whole, and only then do we pay for the staging table and ON CONFLICT
            # (which keeps the first of two repeats in a batch).
            with conn.transaction(), cur.copy("COPY readings (series_id, ts, value) FROM STDIN "
                                              "(FORMAT BINARY)") as copy:
                copy.write(data)
            stored = len(rows)
            for batch in batches:  # no repeat anywhere: every reading of every batch was new
                batch.stored = len(batch.readings)
        except psycopg.errors.UniqueViolation:
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS readings_in (series_id int, ts timestamptz, "
                        "value float8) ON COMMIT DELETE ROWS")
            with cur.copy("COPY readings_in FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(data)
            cur.execute("INSERT INTO readings SELECT * FROM readings_in ON CONFLICT DO NOTHING RETURNING series_id, ts")
            self._count_stored(batches, cur.fetchall())
            stored = sum(b.stored for b in batches)
        # The newest reading of each series in one statement. The arrays go as text literals PostgreSQL
        # parses, times as microseconds: psycopg's per-element list dumping (a timestamptz list above all)
        # cost more than building the whole COPY buffer. µs × 1 µs is exact (below 2^53).
        feeds = list({n[2]: None for n in newest.values()})
        cur.execute(
            "INSERT INTO latest (series_id, ts, value, feed) "
            "SELECT s, timestamptz '2000-01-01 00:00:00+00' + t * interval '1 microsecond', v, (%s::text[])[f] "
            "FROM unnest(%s::int[], %s::int8[], %s::float8[], %s::int[]) AS n(s, t, v, f) "
            "ON CONFLICT (series_id) DO UPDATE SET ts = excluded.ts, value = excluded.value, feed = excluded.feed "
            "WHERE excluded.ts > latest.ts",
            (feeds, _array(newest), _array(n[0] for n in newest.values()),
             _array(float(n[1]) for n in newest.values()), _array(feeds.index(n[2]) + 1 for n in newest.values())))
        return stored, list(micros)
