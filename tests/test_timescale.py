"""The TimescaleDB path's own promises, each the counterpart of a plain-PostgreSQL mechanism test: charts
fresh after late data, retention keeping rollups, compression keeping queries right, policies reconciled,
and its health. Run with IOC_TEST_TIMESCALE_URL (a server that preloads TimescaleDB); without it they are
not collected and the run says so in one line. The health report's rules are pure and run everywhere.

Each test has a database of its own on that server; times are relative to now, because refresh windows and
retention policies are."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from ioc import queries, timescale
from ioc.config import StorageSettings
from ioc.db import Partitions, migrate, open_pool, sync_catalog
from ioc.models import Reading
from ioc.rollups import hour_of
from ioc.writer import BatchWriter
from tests.support import RUN_ID, TIMESCALE_URL, drop_database, fresh_database
from tests.test_rollups import (
    Store,
    assert_rollups_exact,
    assert_same_series,
    metric_with_entities,
    noisy,
    raw_metric_series,
    refreshed,
)

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
on_timescaledb = pytest.mark.storage("timescaledb", "needs a TimescaleDB server")


def test_a_job_failing_repeatedly_is_degraded_with_its_error():
    at = datetime(2026, 12, 1, tzinfo=UTC)
    jobs = [timescale.JobState(1000, "policy_refresh_continuous_aggregate", "rollup_1m", at, "Success", 0, None),
            timescale.JobState(1001, "policy_retention", "readings", at, "Failed", 1, "disk on fire")]
    ok, details = timescale.job_report(jobs)
    assert ok and details[1]["error"] == "disk on fire" and "error" not in details[0]
    portal = 'cannot drop portal "" while it is being set up'  # PostgreSQL 15.20 with 2.22+: see OPERATIONS.md
    jobs.append(timescale.JobState(1002, "policy_refresh_continuous_aggregate", "rollup_1h", at, "Failed",
                                   timescale.JOB_FAILURES_DEGRADED, portal))
    ok, details = timescale.job_report(jobs)
    assert not ok and details[2]["error"] == portal and details[2]["consecutive_failures"] == 3


def test_policies_are_what_config_says():
    settings = StorageSettings(raw_retention=timedelta(days=30), compress_after=timedelta(days=3))
    policies = {(p.proc, p.relation): p for p in timescale.desired_policies(settings)}
    assert len(policies) == 8
    refresh = policies[("policy_refresh_continuous_aggregate", "rollup_1h")]
    assert refresh.config["start_offset"] == timedelta(days=29)  # never into dropped raw data
    # Compressed regions of an aggregate stay outside its refresh window.
    assert policies[("policy_compression", "rollup_1m")].config["compress_after"] > refresh.config["start_offset"]


@pytest.fixture
def ts_store(test_config, request):
    """A migrated database of its own on the TimescaleDB server, with a writer."""
    settings = getattr(request, "param", None) or StorageSettings()
    name = f"ioc_test_{RUN_ID}_ts_{request.node.name[:20].lower()}"
    pool = open_pool(fresh_database(TIMESCALE_URL, name), 1, 4)
    storage = migrate(pool, settings)
    assert storage.path == "timescaledb"
    sync_catalog(pool, test_config)
    writer = BatchWriter(pool, Partitions(storage), test_config.settings.ingest)
    writer.start()
    store = Store(pool, writer, storage, test_config)
    store.settings = settings
    yield store
    writer.stop()
    pool.close()
    drop_database(TIMESCALE_URL, name)


def jobs(store) -> dict[tuple[str, str], tuple[int, dict]]:
    with store.db.connection() as conn:
        return {key: (job_id, config) for key, (job_id, config, _) in timescale.policy_jobs(conn).items()}


@on_timescaledb
def test_policies_are_reconciled_not_recreated(ts_store):
    first = jobs(ts_store)
    assert len(first) == 8
    assert migrate(ts_store.db, ts_store.settings).path == "timescaledb"
    assert jobs(ts_store) == first  # a restart changes nothing: same jobs, same history
    # Four processes starting together: no "tuple concurrently deleted", still the same jobs.
    errors = []

    def start() -> None:
        pool = open_pool(ts_store.db.conninfo, 1, 1)
        try:
            migrate(pool, ts_store.settings)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            pool.close()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == [] and jobs(ts_store) == first
    # A changed setting alters the job in place.
    changed = StorageSettings(raw_retention=timedelta(days=60))
    with ts_store.db.connection() as conn:
        done = timescale.reconcile_policies(conn, changed)
    assert done["added"] == 0 and done["altered"] >= 3  # raw retention and both refresh windows
    after = jobs(ts_store)
    assert {key: job_id for key, (job_id, _) in after.items()} == {key: job_id for key, (job_id, _) in first.items()}
    with ts_store.db.connection() as conn:
        drop_after = conn.execute("SELECT (%s::jsonb ->> 'drop_after')::interval",
                                  (after[("policy_retention", "readings")][1],)).fetchone()[0]
    assert drop_after == timedelta(days=60)


@on_timescaledb
def test_late_and_backfilled_readings_are_on_charts_at_once_and_materialized_by_the_job(ts_store):
    metric, ents = metric_with_entities(ts_store.config)
    ts_store.write(noisy(ents, metric, NOW - timedelta(days=2), hours=47))
    refreshed(ts_store)  # materialized up to about an hour ago: the watermark is past the data below
    late = Reading(ents[0], metric, NOW - timedelta(hours=3, seconds=-7), 1000.0)
    backfill = noisy(ents[:2], metric, NOW - timedelta(days=12), hours=2, seed=9)
    ts_store.write([late] + backfill)
    assert ts_store.dirty() == sorted({hour_of(late.ts)} | {hour_of(r.ts) for r in backfill})
    start, end = NOW - timedelta(days=13), NOW
    for bucket in (timedelta(minutes=5), timedelta(hours=1)):  # before the job: dirty hours are read raw
        got = queries.metric_series(ts_store.db, metric, start, end, bucket, "max")
        assert_same_series(got, raw_metric_series(ts_store, metric, start, end, bucket, "max"))
    refreshed(ts_store)  # refresh_continuous_aggregate over exactly those hours
    assert_rollups_exact(ts_store)  # the backfill lies below the watermark: present only if materialized
    for bucket in (timedelta(minutes=5), timedelta(hours=1)):
        got = queries.metric_series(ts_store.db, metric, start, end, bucket, "max")
        assert_same_series(got, raw_metric_series(ts_store, metric, start, end, bucket, "max"))
        assert got["value"].max() == 1000.0


@on_timescaledb
@pytest.mark.parametrize("ts_store", [StorageSettings(partition_interval=timedelta(days=1),
                                                      raw_retention=timedelta(days=30))], indirect=True)
def test_retention_policy_keeps_rollups(ts_store):
    metric, ents = metric_with_entities(ts_store.config)
    old = NOW - timedelta(days=10)
    ts_store.write(noisy(ents, metric, old, hours=3, seed=5) + noisy(ents, metric, NOW - timedelta(days=1), hours=2))
    refreshed(ts_store)
    # Raw retention shortened to 5 days: the policy is altered in place, then run as its schedule would.
    shorter = StorageSettings(partition_interval=timedelta(days=1), raw_retention=timedelta(days=5))
    assert migrate(ts_store.db, shorter).path == "timescaledb"
    job_id = jobs(ts_store)[("policy_retention", "readings")][0]
    with ts_store.db.connection() as conn:
        conn.autocommit = True
        conn.execute("CALL run_job(%s)", (job_id,))
        day_after = old + timedelta(days=1)
        assert conn.execute("SELECT count(*) FROM readings WHERE ts < %s", (day_after,)).fetchone()[0] == 0
        hours = conn.execute("SELECT count(*) FROM rollup_1h WHERE bucket < %s", (day_after,)).fetchone()[0]
        conn.autocommit = False
    assert hours == 3 * len(ents)  # raw dropped, hourly rollups kept
    chart = queries.metric_series(ts_store.db, metric, old - timedelta(hours=1), old + timedelta(hours=5),
                                  timedelta(hours=1), "avg")
    assert len(chart) == 3 and chart["value"].notna().all()
    # A late mark for a dropped hour is harmless: the job never refreshes a range retention has dropped.
    with ts_store.db.connection() as conn:
        conn.execute("INSERT INTO rollup_dirty (hour) VALUES (%s)", (hour_of(old),))
    result = ts_store.rollups(raw_retention=shorter.raw_retention).refresh()
    assert result.hours == result.cleared == 1 and ts_store.dirty() == []
    with ts_store.db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM rollup_1h WHERE bucket < %s", (day_after,)).fetchone()[0] == hours


@on_timescaledb
def test_compression_keeps_queries_right(ts_store):
    metric, ents = metric_with_entities(ts_store.config)
    first = noisy(ents, metric, NOW - timedelta(days=3), hours=6, seed=11)
    ts_store.write(first)
    refreshed(ts_store)
    with ts_store.db.connection() as conn:
        compressed = conn.execute("SELECT count(compress_chunk(c, if_not_compressed => true)) "
                                  "FROM show_chunks('readings') c").fetchone()[0]
        conn.commit()
    assert compressed >= 1
    start, end = NOW - timedelta(days=3, minutes=-7), NOW - timedelta(days=2, hours=18, minutes=13)
    buckets = (timedelta(seconds=30), timedelta(minutes=5), timedelta(hours=1))

    def charts_equal_raw() -> None:
        for bucket in buckets:
            for aggregation in ("avg", "max"):
                got = queries.metric_series(ts_store.db, metric, start, end, bucket, aggregation)
                assert_same_series(got, raw_metric_series(ts_store, metric, start, end, bucket, aggregation))

    charts_equal_raw()
    # A redelivered reading and a new one, into the compressed chunk.
    ts_store.write([first[5], Reading(ents[0], metric, NOW - timedelta(days=3, minutes=-30, seconds=-3), 4242.0)])
    charts_equal_raw()  # before the job: the touched hour is read raw
    refreshed(ts_store)
    charts_equal_raw()
    assert_rollups_exact(ts_store)
    with ts_store.db.connection() as conn:
        state = timescale.status(conn)
    assert state["compressed_chunks"] >= 1 and state["compression_ratio"] is not None


@on_timescaledb
def test_status_reports_extension_chunks_compression_and_jobs(ts_store):
    metric, ents = metric_with_entities(ts_store.config)
    ts_store.write(noisy(ents, metric, NOW - timedelta(days=20), hours=1) + noisy(ents, metric, NOW, hours=1))
    with ts_store.db.connection() as conn:
        state = timescale.status(conn)
    assert state["version"] and state["chunks"] >= 2  # two weeks apart: two 7-day chunks at least
    assert {(j.proc, j.relation) for j in state["jobs"]} == {(p.proc, p.relation)
                                                           for p in timescale.desired_policies(ts_store.settings)}
    ok, details = timescale.job_report(state["jobs"])
    assert all(d["consecutive_failures"] >= 0 for d in details)


def test_a_policy_matches_its_job_by_interval_not_by_spelling(pg_server_url):
    """What decides between "unchanged" and alter_job: intervals compared as intervals (TimescaleDB keeps
    them as text in the job's config), the schedule only where IOC sets one."""
    import psycopg

    retention = timescale.Policy("policy_retention", "readings", {"drop_after": timedelta(days=90)})
    refresh = timescale.Policy("policy_refresh_continuous_aggregate", "rollup_1m",
                               {"start_offset": timedelta(days=89), "end_offset": timedelta(minutes=1)},
                               timedelta(minutes=1))
    with psycopg.connect(pg_server_url) as conn:
        assert timescale.policy_matches(conn, {"drop_after": "90 days", "hypertable_id": 1}, timedelta(days=1),
                                        retention)
        assert timescale.policy_matches(conn, {"drop_after": "2160:00:00", "hypertable_id": 1}, None, retention)
        assert not timescale.policy_matches(conn, {"drop_after": "30 days", "hypertable_id": 1}, None, retention)
        config = {"start_offset": "89 days", "end_offset": "00:01:00", "mat_hypertable_id": 3}
        assert timescale.policy_matches(conn, config, timedelta(minutes=1), refresh)
        assert not timescale.policy_matches(conn, config, timedelta(hours=1), refresh)  # schedule changed
        assert not timescale.policy_matches(conn, {**config, "end_offset": "01:00:00"}, timedelta(minutes=1), refresh)
