"""Moving an installation to a new database without losing a row (`app.py storage migrate-to-timescale`).

The move's code is the same whatever the target's path; here, without TimescaleDB, it is tested plain to
plain (with IOC_TEST_TIMESCALE_URL the target is a TimescaleDB database): every table copied with its ids,
sequences continued, readings equal day by day, rollups rebuilt on the target."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ioc.db import Partitions, frame, migrate, open_pool, sync_catalog
from ioc.models import Batch, DeadLetter, ManualEntry, Reading
from ioc.rollups import Rollups
from ioc.storage_move import move
from ioc.writer import BatchWriter
from tests.support import RUN_ID, drop_database, fresh_database
from tests.test_rollups import metric_with_entities, noisy


@pytest.fixture
def source(pg_server_url, test_config):
    name = f"ioc_test_{RUN_ID}_move_from"
    pool = open_pool(fresh_database(pg_server_url, name), 1, 3)
    storage = migrate(pool, test_config.settings.storage)
    sync_catalog(pool, test_config)
    writer = BatchWriter(pool, Partitions(storage), test_config.settings.ingest)
    writer.start()
    metric, ents = metric_with_entities(test_config)
    now = datetime.now(UTC).replace(microsecond=0)
    readings = noisy(ents, metric, now - timedelta(days=3), hours=50)
    writer.submit(Batch(readings[: len(readings) // 2], [DeadLetter("test", "why", "{}", now)]))
    writer.submit(Batch(readings[len(readings) // 2:], manual=[
        ManualEntry(Reading(ents[0], metric, now - timedelta(hours=1), 42.0), "tester", "by phone")]))
    assert writer.flush()
    writer.stop()
    Rollups(pool, storage, test_config.settings.storage).refresh()
    yield pool
    pool.close()
    drop_database(pg_server_url, name)


@pytest.fixture
def target(pg_server_url):
    name = f"ioc_test_{RUN_ID}_move_to"
    pool = open_pool(fresh_database(pg_server_url, name), 1, 3)
    yield pool
    pool.close()
    drop_database(pg_server_url, name)


def rollups(pool) -> dict:
    with pool.connection() as conn:
        return {table: frame(conn, f"SELECT s.entity, s.metric, r.bucket, r.avg, r.min, r.max, r.count, r.last "
                                   f"FROM {table} r JOIN series s ON s.id = r.series_id ORDER BY 1, 2, 3")
                for table in ("rollup_1m", "rollup_1h")}


def test_a_move_loses_no_row_and_rebuilds_rollups(source, target, test_config):
    settings = test_config.settings.storage
    report = move(source.conninfo, target, settings, window=timedelta(hours=7))
    assert report.ok, report.differences
    with source.connection() as conn:
        assert report.readings == conn.execute("SELECT count(*) FROM readings").fetchone()[0] > 1000
    assert report.tables["manual_entries"] == report.tables["dead_letters"] == 1
    assert report.tables["audit_log"] >= 1 and report.tables["series"] > 0
    with target.connection() as conn:  # sequences continue where the source's stopped: no id is reused
        conn.execute("INSERT INTO dead_letters (received, source, reason, payload) VALUES (now(), 'x', 'y', '')")
        assert conn.execute("SELECT count(DISTINCT id) FROM dead_letters").fetchone()[0] == 2
        assert conn.execute("SELECT count(*) FROM rollup_dirty").fetchone()[0] == 0
    mine, theirs = rollups(source), rollups(target)
    for table in mine:
        assert len(theirs[table]) == len(mine[table]) > 0
        assert theirs[table].drop(columns="avg").equals(mine[table].drop(columns="avg"))
        assert theirs[table]["avg"].to_numpy() == pytest.approx(mine[table]["avg"].to_numpy(), rel=1e-12)
    with pytest.raises(RuntimeError, match="already holds readings"):
        move(source.conninfo, target, settings)
