"""Rollups: per-minute and per-hour aggregates of readings (avg, min, max, count, last), and retention.

Both paths keep charts current to the last commit the same way: the writer marks the hours every commit
touched in `rollup_dirty` (same transaction), queries read raw readings for the hours still dirty, and
the rollups job (`Rollups.refresh`, scheduled) brings those hours' rollups up to date and clears them —
but clears an hour only if no commit touched it meanwhile. Late and backfilled readings are therefore
rolled up like live ones.
- Plain PostgreSQL: `rollup_1m` / `rollup_1h` are tables; the job recomputes minute buckets from raw
  readings and hour buckets from the minute ones.
- TimescaleDB: they are continuous aggregates (migration 007); the job calls refresh_continuous_aggregate
  for the dirty hours (ioc.timescale), and the refresh policies remain as a safety net.
One process refreshes at a time (advisory lock); a refresh is idempotent.

Retention (`Rollups.retain`, daily). Plain PostgreSQL: raw partitions older than `raw_retention` are
dropped whole, old rollup rows deleted by their own retention; dropping raw data never touches rollups,
and a recompute never deletes a rollup row (it only upserts what raw readings still exist), so charts over
old ranges keep working from rollups. TimescaleDB: retention policies do it (ioc.timescale); refresh
windows stop short of raw retention for the same reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from ioc import timescale
from ioc.config import StorageSettings
from ioc.db import Storage

log = logging.getLogger(__name__)

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)  # every bucket (rollups and charts) is aligned on this origin
_LOCK = "ioc.rollups"
_HOURS_PER_TRANSACTION = 24  # a refresh commits every day of hours: a long backfill never holds one huge transaction


def hour_of(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def mark_dirty(conn: psycopg.Connection, times: Iterable[datetime]) -> None:
    """Record the hours of readings just written (called inside the writer's transaction).

    Sorted so that two writers upsert the same hours in the same order (no deadlock)."""
    hours = sorted({hour_of(ts) for ts in times})
    if hours:
        conn.execute("INSERT INTO rollup_dirty (hour) SELECT unnest(%s::timestamptz[]) "
                     "ON CONFLICT (hour) DO UPDATE SET gen = excluded.gen, marked = excluded.marked", (hours,))


# Minute buckets from raw readings, one index range scan per series (readings' key is (series_id, ts)).
# Rows only ever appear or change within retention, so an upsert is enough; unchanged rows are not rewritten.
_MINUTES_FROM_RAW = """
    INSERT INTO rollup_1m (series_id, bucket, avg, min, max, count, last)
    SELECT s.id, r.* FROM series s CROSS JOIN LATERAL (
        SELECT date_bin('1 minute', ts, %(origin)s) AS bucket, avg(value), min(value), max(value), count(*),
               (array_agg(value ORDER BY ts DESC))[1]
        FROM readings WHERE series_id = s.id AND ts >= %(lo)s AND ts < %(hi)s GROUP BY 1) r
    ON CONFLICT (series_id, bucket) DO UPDATE SET avg = excluded.avg, min = excluded.min, max = excluded.max,
        count = excluded.count, last = excluded.last
    WHERE (rollup_1m.avg, rollup_1m.min, rollup_1m.max, rollup_1m.count, rollup_1m.last)
          IS DISTINCT FROM (excluded.avg, excluded.min, excluded.max, excluded.count, excluded.last)
"""

# Hour buckets from minute buckets: avg weighted by count, last = the last of the latest minute.
_HOURS_FROM_MINUTES = """
    INSERT INTO rollup_1h (series_id, bucket, avg, min, max, count, last)
    SELECT s.id, h.* FROM series s CROSS JOIN LATERAL (
        SELECT date_bin('1 hour', bucket, %(origin)s) AS bucket, sum(avg * count) / sum(count), min(min), max(max),
               sum(count), (array_agg(last ORDER BY bucket DESC))[1]
        FROM rollup_1m WHERE series_id = s.id AND bucket >= %(lo)s AND bucket < %(hi)s GROUP BY 1) h
    ON CONFLICT (series_id, bucket) DO UPDATE SET avg = excluded.avg, min = excluded.min, max = excluded.max,
        count = excluded.count, last = excluded.last
    WHERE (rollup_1h.avg, rollup_1h.min, rollup_1h.max, rollup_1h.count, rollup_1h.last)
          IS DISTINCT FROM (excluded.avg, excluded.min, excluded.max, excluded.count, excluded.last)
"""


def recompute(conn: psycopg.Connection, lo: datetime, hi: datetime) -> None:
    """Recompute the minute and hour rollups of [lo, hi) (hour-aligned) from raw readings."""
    params = {"origin": ORIGIN, "lo": lo, "hi": hi}
    conn.execute(_MINUTES_FROM_RAW, params)
    conn.execute(_HOURS_FROM_MINUTES, params)


def _ranges(hours: list[datetime]) -> list[tuple[datetime, datetime]]:
    """Sorted hours merged into contiguous [lo, hi) ranges."""
    ranges: list[tuple[datetime, datetime]] = []
    for h in hours:
        if ranges and ranges[-1][1] == h:
            ranges[-1] = (ranges[-1][0], h + HOUR)
        else:
            ranges.append((h, h + HOUR))
    return ranges


@dataclass
class RefreshResult:
    hours: int = 0  # hours recomputed
    cleared: int = 0  # of which cleared (the rest were written to meanwhile and stay dirty)
    seconds: float = 0.0


class Rollups:
    """Keeps the rollups of one database current to the last commit and applies retention (both paths)."""

    def __init__(self, db: ConnectionPool, storage: Storage, settings: StorageSettings):
        self.db = db
        self.storage = storage
        self.settings = settings
        self.last_refresh: RefreshResult | None = None

    # --- refresh (both paths) ---------------------------------------------------------------------

    def refresh(self, now: datetime | None = None) -> RefreshResult | None:
        """Bring every hour dirty when the run starts up to date. None when another process is refreshing."""
        began = datetime.now(UTC)
        with self.db.connection() as conn:
            if not conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (_LOCK,)).fetchone()[0]:
                conn.rollback()
                return None
            try:
                result = self._refresh(conn, now or began)
            finally:
                conn.rollback()  # end any failed transaction before unlocking
                conn.autocommit = False
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (_LOCK,))
                conn.commit()
        result.seconds = (datetime.now(UTC) - began).total_seconds()
        self.last_refresh = result
        if result.hours:
            log.debug("rollups: %d hours recomputed in %.2fs", result.hours, result.seconds)
        return result

    def _refresh(self, conn: psycopg.Connection, now: datetime) -> RefreshResult:
        dirty = conn.execute("SELECT hour, gen FROM rollup_dirty ORDER BY hour").fetchall()
        conn.commit()
        result = RefreshResult()
        for i in range(0, len(dirty), _HOURS_PER_TRANSACTION):
            chunk = dirty[i:i + _HOURS_PER_TRANSACTION]
            ranges = _ranges([h for h, _ in chunk])
            if self.storage.path == "timescaledb":
                # Outside a transaction (refresh_continuous_aggregate's rule), and never into a range whose
                # raw chunks retention has dropped: that would empty the aggregate there. Whole hours only:
                # a window smaller than one bucket of rollup_1h is refused.
                oldest = hour_of(now - self.settings.raw_retention + timedelta(days=1)) + HOUR
                conn.autocommit = True
                refreshed = timescale.refresh_windows(conn, [(max(lo, oldest), hi) for lo, hi in ranges
                                                             if hi > oldest])
                conn.autocommit = False
                if not refreshed:  # a refresh policy holds an overlapping window: these hours stay dirty
                    result.hours += len(chunk)
                    continue
            with conn.transaction():
                if self.storage.path == "postgresql":
                    for lo, hi in ranges:
                        recompute(conn, lo, hi)
                # Cleared only if no commit re-marked the hour since we read it: that commit's readings
                # may be missing from what we just computed, so the hour stays dirty for the next run.
                cur = conn.execute(
                    "DELETE FROM rollup_dirty d USING unnest(%s::timestamptz[], %s::bigint[]) AS u(hour, gen) "
                    "WHERE d.hour = u.hour AND d.gen = u.gen", ([h for h, _ in chunk], [g for _, g in chunk]))
                result.cleared += cur.rowcount
            result.hours += len(chunk)
        return result

    # --- retention (both paths) -------------------------------------------------------------------

    def retain(self, now: datetime | None = None) -> dict[str, int]:
        """Apply retention once. Plain PostgreSQL: roll up what is dirty first, drop raw partitions
        entirely older than raw_retention, delete rollup rows past their own retention. TimescaleDB:
        the retention policies drop chunks; only marks older than raw retention are removed here."""
        now = now or datetime.now(UTC)
        raw_cutoff = now - self.settings.raw_retention
        if self.storage.path != "postgresql":
            with self.db.connection() as conn, conn.transaction():
                conn.execute("DELETE FROM rollup_dirty WHERE hour < %s", (raw_cutoff - HOUR,))
            return {}
        self.refresh(now)  # nothing dirty is lost with the partition it lives in
        done = {"partitions_dropped": 0, "minute_rows": 0, "hour_rows": 0}
        with self.db.connection() as conn:
            for name, upper in _partitions(conn):
                if upper <= raw_cutoff:
                    with conn.transaction():
                        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
                    done["partitions_dropped"] += 1
                    log.info("retention: dropped raw partition %s (older than %s)", name, raw_cutoff)
            with conn.transaction():
                done["minute_rows"] = conn.execute("DELETE FROM rollup_1m WHERE bucket < %s",
                                                   (now - self.settings.minute_retention,)).rowcount
                done["hour_rows"] = conn.execute("DELETE FROM rollup_1h WHERE bucket < %s",
                                                 (now - self.settings.hour_retention,)).rowcount
                conn.execute("DELETE FROM rollup_dirty WHERE hour < %s", (raw_cutoff - HOUR,))
        return done


def _partitions(conn: psycopg.Connection) -> list[tuple[str, datetime]]:
    """The raw readings partitions with their upper bounds."""
    rows = conn.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'readings'::regclass").fetchall()
    out = []
    for name, bound in rows:
        # "FOR VALUES FROM ('2026-01-05 00:00:00+00') TO ('2026-01-12 00:00:00+00')"
        upper = bound.rsplit("TO ('", 1)[-1].split("')", 1)[0]
        out.append((name, conn.execute("SELECT %s::timestamptz", (upper,)).fetchone()[0]))
    return out
