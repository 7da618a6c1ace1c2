"""Rollups on either storage path (tables kept by the rollups job on plain PostgreSQL, continuous
aggregates refreshed by the same job over the same dirty hours on TimescaleDB): exact against raw
readings, late data, one refresher at a time, charts read from rollups equal to charts read from raw, and
(plain PostgreSQL; TimescaleDB in tests/test_timescale.py) retention that drops raw data but keeps rollups.

Each test runs in its own database (no runtime, so no scheduled refresh races the test's own)."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pandas as pd
import psycopg
import pytest

from ioc import queries
from ioc.config import StorageSettings
from ioc.db import Partitions, frame, migrate, open_pool, sync_catalog
from ioc.models import Batch, ManualEntry, Reading
from ioc.rollups import Rollups, hour_of
from ioc.writer import BatchWriter
from tests.support import RUN_ID, drop_database, empty_readings, fresh_database
from tests.waiting import wait_until

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # a Monday


class Store:
    def __init__(self, pool, writer, storage, config):
        self.db, self.writer, self.storage, self.config = pool, writer, storage, config

    def rollups(self, **settings) -> Rollups:
        return Rollups(self.db, self.storage, StorageSettings(**settings))

    def write(self, readings: list[Reading]) -> None:
        self.writer.submit(Batch(readings))
        assert self.writer.flush()

    def dirty(self) -> list[datetime]:
        with self.db.connection() as conn:
            return [h for (h,) in conn.execute("SELECT hour FROM rollup_dirty ORDER BY hour")]


@pytest.fixture(scope="module")
def store(pg_server_url, test_config):
    name = f"ioc_test_{RUN_ID}_rollups"
    pool = open_pool(fresh_database(pg_server_url, name), 1, 4)
    storage = migrate(pool, test_config.settings.storage)
    sync_catalog(pool, test_config)
    writer = BatchWriter(pool, Partitions(storage), test_config.settings.ingest)
    writer.start()
    yield Store(pool, writer, storage, test_config)
    writer.stop()
    pool.close()
    drop_database(pg_server_url, name)


@pytest.fixture
def empty(store):
    empty_readings(store.db, store.storage.path)
    return store


def metric_with_entities(config, n: int = 3) -> tuple[str, list[str]]:
    for metric in config.catalog.metrics:
        ents = [e.id for e in config.region.entities if metric.key in config.entity_metrics(e.id)]
        if len(ents) >= n:
            return metric.key, ents[:n]
    raise AssertionError("no metric with enough entities")


def noisy(entities: list[str], metric: str, start: datetime, hours: float, seed: int = 1) -> list[Reading]:
    """Readings at irregular times (several per minute, gaps too) with random values."""
    rng = random.Random(seed)
    out = []
    for entity in entities:
        t = start + timedelta(seconds=rng.randint(0, 50))
        while t < start + timedelta(hours=hours):
            out.append(Reading(entity, metric, t, round(rng.uniform(0, 100), 3)))
            t += timedelta(seconds=rng.choice([7, 13, 20, 45, 130]))
    return out


def refreshed(store: Store) -> None:
    result = store.rollups().refresh()
    assert result is not None and result.cleared == result.hours
    assert store.dirty() == []


def reference_rollup(store: Store, seconds: int) -> pd.DataFrame:
    """The rollup of raw readings computed independently (epoch arithmetic, DISTINCT ON for last)."""
    with store.db.connection() as conn:
        return frame(conn, """
            WITH b AS (SELECT series_id, to_timestamp(floor(extract(epoch FROM ts) / %(s)s) * %(s)s) AS bucket,
                              ts, value FROM readings),
            agg AS (SELECT series_id, bucket, avg(value) AS avg, min(value) AS min, max(value) AS max,
                           count(*)::int AS count FROM b GROUP BY 1, 2),
            lst AS (SELECT DISTINCT ON (series_id, bucket) series_id, bucket, value AS last FROM b
                    ORDER BY series_id, bucket, ts DESC)
            SELECT * FROM agg JOIN lst USING (series_id, bucket) ORDER BY series_id, bucket""", {"s": seconds})


def stored_rollup(store: Store, table: str) -> pd.DataFrame:
    with store.db.connection() as conn:
        return frame(conn, f"SELECT series_id, bucket, avg, min, max, count, last FROM {table} "
                           "ORDER BY series_id, bucket")


def assert_rollups_exact(store: Store) -> None:
    for table, seconds in (("rollup_1m", 60), ("rollup_1h", 3600)):
        got, want = stored_rollup(store, table), reference_rollup(store, seconds)
        assert len(got) == len(want) > 0
        assert list(got["bucket"]) == list(want["bucket"]) and list(got["series_id"]) == list(want["series_id"])
        for column in ("min", "max", "count", "last"):
            assert list(got[column]) == list(want[column]), (table, column)
        assert got["avg"].to_numpy() == pytest.approx(want["avg"].to_numpy(), rel=1e-12)


def raw_metric_series(store: Store, metric, start, end, bucket, aggregation, entities=None) -> pd.DataFrame:
    """The answer from raw readings only (the query metric_series used before rollups)."""
    combine = queries._COMBINE[aggregation]
    with store.db.connection() as conn:
        return frame(conn, f"""
            WITH per_entity AS (
                SELECT date_bin(%(bucket)s, r.ts, TIMESTAMPTZ '2000-01-01') AS bucket, avg(r.value) AS value
                FROM readings r JOIN series s ON s.id = r.series_id
                WHERE s.metric = %(metric)s AND r.ts >= %(start)s AND r.ts < %(end)s
                  AND (%(entities)s::text[] IS NULL OR s.entity = ANY(%(entities)s))
                GROUP BY 1, s.entity)
            SELECT bucket, {combine}(value) AS value FROM per_entity GROUP BY bucket ORDER BY bucket""",
                     {"bucket": bucket, "metric": metric, "start": start, "end": end, "entities": entities})


def assert_same_series(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert len(got) == len(want) > 0
    assert list(got["bucket"]) == list(pd.to_datetime(want["bucket"], utc=True))
    assert got["value"].to_numpy() == pytest.approx(want["value"].astype(float).to_numpy(), rel=1e-9)


# --- tests --------------------------------------------------------------------------------------

def test_rollups_equal_an_independent_aggregate_of_raw(empty):
    metric, ents = metric_with_entities(empty.config)
    empty.write(noisy(ents, metric, T0 + timedelta(minutes=17), hours=3.5))
    assert empty.dirty() == [T0 + timedelta(hours=h) for h in range(4)]
    refreshed(empty)
    assert_rollups_exact(empty)
    again = empty.rollups().refresh()  # nothing dirty: nothing to do
    assert (again.hours, again.cleared) == (0, 0)


def test_late_backfilled_and_corrected_readings_are_rolled_up(empty):
    metric, ents = metric_with_entities(empty.config)
    empty.write(noisy(ents, metric, T0, hours=2))
    refreshed(empty)
    bucket, start, end = timedelta(minutes=5), T0 - timedelta(days=3), T0 + timedelta(hours=2)
    before = queries.metric_series(empty.db, metric, start, end, bucket, "max")
    # Late: one reading into an already rolled-up minute; backfill: an earlier day; correction: a manual entry.
    late = Reading(ents[0], metric, T0 + timedelta(minutes=30, seconds=1), 1000.0)
    empty.write([late] + noisy(ents[:2], metric, T0 - timedelta(days=2), hours=1, seed=7))
    with empty.db.connection() as conn:
        sid = conn.execute("SELECT id FROM series WHERE entity = %s AND metric = %s", (ents[1], metric)).fetchone()[0]
        ts = conn.execute("SELECT min(ts) FROM readings WHERE series_id = %s AND ts >= %s", (sid, T0)).fetchone()[0]
    empty.writer.submit(Batch([], manual=[ManualEntry(Reading(ents[1], metric, ts, -5.0), "tester", "fix")]))
    assert empty.writer.flush()
    assert empty.dirty() == [T0 - timedelta(days=2), T0]
    # Before the job runs, charts already show the new readings (dirty hours are read raw).
    got = queries.metric_series(empty.db, metric, start, end, bucket, "max")
    assert_same_series(got, raw_metric_series(empty, metric, start, end, bucket, "max"))
    assert len(got) == len(before) + 12 and got["value"].max() > before["value"].max()
    refreshed(empty)
    assert_rollups_exact(empty)
    with empty.db.connection() as conn:
        assert conn.execute("SELECT min FROM rollup_1h WHERE series_id = %s AND bucket = %s",
                            (sid, hour_of(ts))).fetchone()[0] == -5.0


def test_one_refresher_at_a_time(empty):
    metric, ents = metric_with_entities(empty.config)
    empty.write(noisy(ents, metric, T0, hours=1))
    other = psycopg.connect(empty.db.conninfo, autocommit=True)  # another process, refreshing
    try:
        other.execute("SELECT pg_advisory_lock(hashtext('ioc.rollups'))")
        assert empty.rollups().refresh() is None
        assert empty.dirty() == [T0]
        other.execute("SELECT pg_advisory_unlock(hashtext('ioc.rollups'))")
        results = []
        threads = [threading.Thread(target=lambda: results.append(empty.rollups().refresh())) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        # Two at once: at most one recomputes the hour (the other is refused, or finds nothing left).
        assert sum(r.hours for r in results if r is not None) == 1
        assert empty.dirty() == []
        assert_rollups_exact(empty)
    finally:
        other.close()


def test_a_commit_racing_the_refresh_keeps_its_hour_dirty(empty):
    metric, ents = metric_with_entities(empty.config)
    empty.write(noisy(ents, metric, T0, hours=1))
    with empty.db.connection() as conn:
        sid = conn.execute("SELECT id FROM series WHERE entity = %s AND metric = %s", (ents[0], metric)).fetchone()[0]
    # A writer's transaction: a reading and its dirty mark, not yet committed while the refresh runs.
    writer = psycopg.connect(empty.db.conninfo)
    try:
        writer.execute("INSERT INTO readings VALUES (%s, %s, 5000)", (sid, T0 + timedelta(minutes=59, seconds=59)))
        writer.execute("INSERT INTO rollup_dirty (hour) VALUES (%s) ON CONFLICT (hour) DO UPDATE "
                       "SET gen = excluded.gen", (T0,))
        results = []
        refresher = threading.Thread(target=lambda: results.append(empty.rollups().refresh()))
        refresher.start()

        def blocked() -> bool:  # the refresh waits on a lock: the hour's mark, held by the uncommitted writer
            with empty.db.connection() as conn:
                return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                    "AND wait_event_type = 'Lock'").fetchone()[0] > 0

        assert wait_until(blocked)
        assert refresher.is_alive()
        writer.commit()
        refresher.join(30)
        assert results[0].hours == 1 and results[0].cleared == 0
        assert empty.dirty() == [T0]  # its reading may be missing from that run: the hour stays dirty
    finally:
        writer.close()
    refreshed(empty)
    assert_rollups_exact(empty)


@pytest.mark.parametrize("bucket", [timedelta(minutes=1), timedelta(minutes=5), timedelta(hours=1),
                                    timedelta(hours=6), timedelta(seconds=30)])
def test_charts_from_rollups_equal_charts_from_raw(empty, bucket):
    metric, ents = metric_with_entities(empty.config)
    empty.write(noisy(ents, metric, T0, hours=30, seed=3))
    refreshed(empty)
    empty.write(noisy(ents[:1], metric, T0 + timedelta(hours=29), hours=1, seed=4))  # not yet rolled up
    assert empty.dirty() == [T0 + timedelta(hours=29)]
    start, end = T0 + timedelta(minutes=7, seconds=13), T0 + timedelta(hours=29, minutes=41, seconds=5)
    for aggregation, entities in (("avg", None), ("sum", None), ("max", ents[:2]), ("min", ents[1:2])):
        got = queries.metric_series(empty.db, metric, start, end, bucket, aggregation, entities=entities)
        assert_same_series(got, raw_metric_series(empty, metric, start, end, bucket, aggregation, entities))
    per_entity = queries.entity_series(empty.db, metric, ents[:2], start, end, bucket)
    assert set(per_entity["entity"]) == set(ents[:2])
    for entity, mine in per_entity.groupby("entity"):
        assert_same_series(mine.reset_index(drop=True),
                           raw_metric_series(empty, metric, start, end, bucket, "avg", [entity]))
        with empty.db.connection() as conn:
            low, high = conn.execute(
                "SELECT min(value), max(value) FROM readings r JOIN series s ON s.id = r.series_id "
                "WHERE s.entity = %s AND s.metric = %s AND r.ts >= %s AND r.ts < %s",
                (entity, metric, start, end)).fetchone()
        assert (mine["min"].min(), mine["max"].max()) == (low, high)


@pytest.mark.storage("postgresql", "drops partitions and deletes rollup rows itself; on TimescaleDB retention "
                                  "policies do it (tests/test_timescale.py::test_retention_policy_keeps_rollups)")
def test_retention_drops_raw_partitions_and_keeps_rollups(empty):
    metric, ents = metric_with_entities(empty.config)
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    old = now - timedelta(days=130)
    empty.write(noisy(ents, metric, old, hours=3, seed=5) + noisy(ents, metric, now - timedelta(days=1), hours=2))
    rollups = empty.rollups(minute_retention=timedelta(days=100))
    result = rollups.retain(now)  # rolls up what is dirty before dropping anything
    assert result["partitions_dropped"] >= 1 and result["minute_rows"] > 0 and result["hour_rows"] == 0
    day_after = old + timedelta(days=1)
    with empty.db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM readings WHERE ts < %s", (day_after,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM rollup_1m WHERE bucket < %s", (day_after,)).fetchone()[0] == 0
        hours = conn.execute("SELECT count(*) FROM rollup_1h WHERE bucket < %s", (day_after,)).fetchone()[0]
    assert hours == 3 * len(ents)  # 3 hours of readings: 3 hour buckets per series, kept
    # A chart over the old range still works from the hour rollups; a late mark for a dropped hour is harmless.
    chart = queries.metric_series(empty.db, metric, old - timedelta(hours=1), old + timedelta(hours=5),
                                  timedelta(hours=1), "avg")
    assert len(chart) == 3 and chart["value"].notna().all()
    with empty.db.connection() as conn:
        conn.execute("INSERT INTO rollup_dirty (hour) VALUES (%s)", (hour_of(old),))
    refreshed(empty)
    with empty.db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM rollup_1h WHERE bucket < %s", (day_after,)).fetchone()[0] == hours
    assert rollups.retain(now)["partitions_dropped"] == 0  # idempotent


def test_resolution_bounds_points():
    end = datetime(2026, 11, 27, tzinfo=UTC)
    for window, points in ((timedelta(hours=6), 72), (timedelta(days=30), 72), (timedelta(days=365), 100),
                           (timedelta(minutes=10), 60), (timedelta(days=7), 300)):
        bucket = queries.resolution_for(end - window, end, points)
        assert window / bucket <= points and bucket in queries.NICE_BUCKETS or bucket.days >= 1
    assert queries.resolution_for(end - timedelta(hours=6), end, 72) == timedelta(minutes=5)
    assert queries.resolution_for(end - timedelta(hours=6), end, 72, cadence=timedelta(minutes=15)) \
        == timedelta(minutes=15)
    assert queries.resolution_for(end - timedelta(days=365), end, 72) == timedelta(days=6)
    assert queries.rollup_source(timedelta(seconds=30)) is None
    assert queries.rollup_source(timedelta(minutes=5))[0] == "rollup_1m"
    assert queries.rollup_source(timedelta(hours=6))[0] == "rollup_1h"
    assert queries.rollup_source(timedelta(seconds=90)) is None  # does not nest: raw


def test_runtime_schedules_one_refresh_at_a_time(runtime):
    job = runtime.scheduler.get_job("rollups")
    assert job is not None and job.max_instances == 1 and job.coalesce
    assert runtime.scheduler.get_job("retention") is not None


def test_several_metrics_in_one_round_trip_equal_one_by_one(empty):
    metrics = [m for m in empty.config.catalog.metrics
               if len([e for e in empty.config.region.entities if m.key in empty.config.entity_metrics(e.id)]) >= 2][:3]
    for i, metric in enumerate(metrics):
        ents = [e.id for e in empty.config.region.entities if metric.key in empty.config.entity_metrics(e.id)][:2]
        empty.write(noisy(ents, metric.key, T0, hours=5, seed=10 + i))
    refreshed(empty)
    aggregations = {m.key: a for m, a in zip(metrics, ("sum", "max", "avg"), strict=True)}
    start, end, bucket = T0 + timedelta(minutes=3), T0 + timedelta(hours=4, minutes=50), timedelta(hours=1)
    together = queries.metrics_series(empty.db, aggregations, start, end, bucket)
    assert set(together["metric"]) == set(aggregations)
    for metric, aggregation in aggregations.items():
        alone = queries.metric_series(empty.db, metric, start, end, bucket, aggregation)
        assert_same_series(together[together["metric"] == metric].reset_index(drop=True), alone)
