"""Storage: migrations on an empty database and again; partitions; the batch writer's guarantees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ioc.config import StorageSettings
from ioc.db import MIGRATIONS_DIR, Partitions, migrate, open_pool, partition_start, sync_catalog
from ioc.models import Batch, DeadLetter, Reading
from tests.support import RUN_ID, drop_database, fresh_database


@pytest.fixture
def empty_pool(pg_server_url):
    name = f"ioc_test_{RUN_ID}_migrate"
    pool = open_pool(fresh_database(pg_server_url, name), 1, 2)
    yield pool
    pool.close()
    drop_database(pg_server_url, name)


def schema_snapshot(pool):
    with pool.connection() as conn:
        return conn.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                            "WHERE table_schema = 'public' ORDER BY 1, 2").fetchall()


def test_migrations_on_empty_database_then_again(empty_pool, test_config, storage_path):
    storage = migrate(empty_pool, StorageSettings())
    assert storage.path == storage_path  # detected: TimescaleDB only where the server preloads it
    first = schema_snapshot(empty_pool)
    tables = {t for t, _, _ in first}
    assert {"areas", "entities", "metrics", "series", "readings", "latest", "dead_letters",
            "schema_migrations"} <= tables
    with empty_pool.connection() as conn:
        applied = conn.execute("SELECT version, variant FROM schema_migrations ORDER BY 1").fetchall()
    versions = sorted({p.name.split(".")[0] for p in MIGRATIONS_DIR.glob("*.sql")})
    variant = "timescale" if storage_path == "timescaledb" else "plain"
    assert applied[:2] == [("001_catalog", "any"), ("002_readings", variant)]
    assert [v for v, _ in applied] == versions
    assert migrate(empty_pool, StorageSettings()).path == storage_path
    assert schema_snapshot(empty_pool) == first
    with empty_pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(versions)
    sync_catalog(empty_pool, test_config)
    sync_catalog(empty_pool, test_config)
    with empty_pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM entities").fetchone()[0] == len(test_config.entities)


@pytest.mark.storage("postgresql", "partitions by name are the plain path's; TimescaleDB makes its own chunks "
                                  "(tests/test_timescale.py::test_status_reports_extension_chunks_compression_and_jobs)")
def test_partitions_align_and_cover(runtime):
    interval = runtime.storage.partition_interval
    ts = datetime(2026, 11, 27, 13, tzinfo=UTC)
    start = partition_start(ts, interval)
    assert start <= ts < start + interval and start.weekday() == 0
    with runtime.db.connection() as conn:
        Partitions(runtime.storage).ensure(conn, ts - timedelta(days=20), ts)
        conn.commit()
        names = [n for (n,) in conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'readings'::regclass")]
    assert f"readings_p{start:%Y%m%d}" in names
    assert f"readings_p{partition_start(ts - timedelta(days=20), interval):%Y%m%d}" in names


def test_writer_dedups_within_and_across_batches(clean_db):
    rt = clean_db
    entity = next(iter(rt.config.entities.values()))
    metric = rt.config.entity_metrics(entity.id)[0]
    ts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    readings = [Reading(entity.id, metric, ts + timedelta(minutes=i), float(i)) for i in range(5)]
    committed = []
    rt.writer.add_listener(committed.extend)
    rt.writer.submit(Batch(readings + readings[:2]))
    rt.writer.submit(Batch(readings[3:], [DeadLetter("test", "why", "{}", datetime.now(UTC))]))
    assert rt.writer.flush()
    with rt.db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM readings").fetchone()[0] == 5
        assert conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0] == 1
        latest = conn.execute("SELECT l.ts, l.value FROM latest l JOIN series s ON s.id = l.series_id "
                              "WHERE s.entity = %s AND s.metric = %s", (entity.id, metric)).fetchone()
    assert latest == (ts + timedelta(minutes=4), 4.0)
    # An older reading arriving late does not move "latest" back.
    rt.writer.submit(Batch([Reading(entity.id, metric, ts - timedelta(hours=1), 99.0)]))
    assert rt.writer.flush()
    with rt.db.connection() as conn:
        assert conn.execute("SELECT max(value) FROM latest").fetchone()[0] == 4.0
    assert len(committed) >= 7


def test_a_multi_statement_migration_with_a_parameter_runs_like_any_other(empty_pool, tmp_path):
    """The shape of 002_readings.timescale.sql (several statements, a bound parameter), on plain PostgreSQL:
    a prepared statement would refuse it ("cannot insert multiple commands into a prepared statement")."""
    (tmp_path / "001_first.sql").write_text(
        "CREATE TABLE chunk_settings (name text PRIMARY KEY, every interval NOT NULL);\n"
        "INSERT INTO chunk_settings VALUES ('readings', %(partition_interval)s::interval);\n"
        "COMMENT ON TABLE chunk_settings IS 'one parameter, three statements; 100%% literal';\n", encoding="utf-8")
    (tmp_path / "002_second.sql").write_text(
        "CREATE TABLE notes (body text);\nINSERT INTO notes VALUES ('50% off: no parameters here');\n",
        encoding="utf-8")
    settings = StorageSettings(partition_interval=timedelta(days=3))
    # The readings table is absent from these scripts: the path is plain whatever the server.
    assert migrate(empty_pool, settings, tmp_path).path == "postgresql"
    with empty_pool.connection() as conn:
        assert conn.execute("SELECT every FROM chunk_settings").fetchone()[0] == timedelta(days=3)
        assert conn.execute("SELECT body FROM notes").fetchone()[0] == "50% off: no parameters here"
        assert [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")] == \
            ["001_first", "002_second"]
    assert migrate(empty_pool, settings, tmp_path).path == "postgresql"  # nothing pending: nothing runs again
    with empty_pool.connection() as conn:
        assert conn.execute("SELECT obj_description('chunk_settings'::regclass)").fetchone()[0].endswith("100% literal")
