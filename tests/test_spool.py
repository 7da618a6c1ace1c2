"""The ingest spool: framing, crash tails, its bound, and the writer spooling and replaying around a
PostgreSQL outage (a throwaway server of our own, stopped and started by pid)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ioc.config import load_config
from ioc.db import Partitions, migrate, open_pool, sync_catalog
from ioc.models import Batch, DeadLetter, Reading
from ioc.services import Postgres
from ioc.spool import Spool, SpoolFull, SpoolLocked, decode, encode
from ioc.writer import BatchWriter
from tests.support import isolated_config
from tests.waiting import wait_until


def test_records_come_back_in_order(tmp_path):
    spool = Spool(tmp_path, 1 << 20, segment_bytes=64).open()
    for i in range(10):
        spool.append(f"record {i}".encode())
    assert len(spool.segments()) > 1  # small segments: the order holds across files
    assert [r for s in spool.segments() for r in spool.read(s)] == [f"record {i}".encode() for i in range(10)]
    spool.close()
    again = Spool(tmp_path, 1 << 20).open()  # a restart finds the same records
    assert again.records == 10 and [r for s in again.segments() for r in again.read(s)][-1] == b"record 9"


def test_a_truncated_last_frame_is_skipped(tmp_path):
    spool = Spool(tmp_path, 1 << 20).open()
    spool.append(b"kept")
    spool.append(b"cut short by a crash")
    spool.close()
    segment = next(tmp_path.glob("*.seg"))
    segment.write_bytes(segment.read_bytes()[:-5])  # kill -9 in the middle of the write
    again = Spool(tmp_path, 1 << 20).open()
    assert [r for s in again.segments() for r in again.read(s)] == [b"kept"]


def test_a_corrupt_frame_stops_the_segment(tmp_path):
    spool = Spool(tmp_path, 1 << 20).open()
    spool.append(b"first")
    spool.append(b"second")
    spool.close()
    segment = next(tmp_path.glob("*.seg"))
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0xFF
    segment.write_bytes(bytes(data))
    assert list(Spool(tmp_path, 1 << 20).open().read(segment)) == [b"first"]


def test_a_full_spool_refuses_and_writes_nothing(tmp_path):
    spool = Spool(tmp_path, 65_536).open()
    spool.append(b"x" * 60_000)
    before = spool.bytes
    with pytest.raises(SpoolFull, match="spool full"):
        spool.append(b"y" * 10_000)
    assert spool.full and spool.bytes == before == sum(p.stat().st_size for p in tmp_path.glob("*.seg"))
    spool.remove(spool.segments()[0], 1)
    spool.append(b"y" * 10_000)
    assert not spool.full


def test_one_spool_per_process(tmp_path):
    spool = Spool(tmp_path, 1 << 20).open()
    with pytest.raises(SpoolLocked):
        Spool(tmp_path, 1 << 20).open()
    spool.close()
    Spool(tmp_path, 1 << 20).open().close()


_times = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))
_text = st.text(st.characters(exclude_categories=()), max_size=40)  # lone surrogates too: JSON "\\ud800" makes one


@settings(max_examples=50, deadline=None)
@given(st.lists(st.builds(Reading, _text, _text, _times, st.floats(allow_nan=False, allow_infinity=False)),
                max_size=20),
       st.lists(st.builds(DeadLetter, _text, _text, _text, _times), max_size=5), st.none() | _text)
def test_records_round_trip_exactly(readings, dead, feed):
    [batch] = decode(encode([Batch(readings, dead, feed=feed)]))
    assert (batch.readings, batch.dead_letters, batch.feed) == (readings, dead, feed)


@pytest.fixture
def own_postgres():
    server = Postgres().start()
    yield server
    server.remove()


def test_writer_spools_while_the_database_is_down_and_replays_once(tmp_path, own_postgres, mqtt_url):
    folder = isolated_config(tmp_path / "config", own_postgres.url, mqtt_url, "spool")
    config = load_config(folder, environ={})
    pool = open_pool(config.settings.database.url, 1, 2)
    storage = migrate(pool, config.settings.storage)
    sync_catalog(pool, config)
    spool = Spool(tmp_path / "spool", 1 << 20).open()
    writer = BatchWriter(pool, Partitions(storage), config.settings.ingest, spool)
    writer.start()
    entity = next(e for e in config.region.entities if config.kinds[e.kind].domain == "health")
    metric = config.entity_metrics(entity.id)[0]
    now = datetime.now(UTC).replace(microsecond=0)
    low, high = config.metrics[metric].valid_range

    def batch(i: int) -> tuple[Batch, threading.Event]:
        done = threading.Event()
        return Batch([Reading(entity.id, metric, now - timedelta(minutes=i), (low + high) / 2)],
                     [DeadLetter("test", f"reason {i}", "{}", now)], done.set, "mqtt-native"), done

    try:
        assert writer.flush()
        own_postgres.stop()
        acked = []
        for i in range(5):
            b, done = batch(i)
            writer.submit(b)
            acked.append(done)
        # Acknowledged while the database is down: from the spool, fsync'd.
        assert all(done.wait(30) for done in acked)
        assert writer.stats.spooled_batches >= 5 and spool.bytes > 0 and writer.stats.last_error
        own_postgres.start()
        b, done = batch(5)  # newer than what waits in the spool: written after it
        writer.submit(b)
        assert done.wait(60) and writer.flush(60)
        wait_until(lambda: spool.empty, timeout=60)  # the writer retries the database with a capped backoff
        assert writer.flush(60)
        assert spool.empty and writer.stats.replayed_batches >= 5 and writer.stats.last_error is None
    finally:
        writer.stop()
        spool.close()
    with pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM readings").fetchone()[0] == 6
        assert conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0] == 6
        segments = conn.execute("SELECT count(*) FROM spool_replayed").fetchone()[0]
    assert segments >= 1
    # A crash after the replay commit but before the file was deleted: the same segment again.
    spool = Spool(tmp_path / "spool2", 1 << 20).open()
    spool.append(encode([batch(0)[0]]))
    spool.seal()
    name = spool.segments()[0].name
    with pool.connection() as conn:
        conn.execute("INSERT INTO spool_replayed (segment) VALUES (%s)", (name,))
    writer = BatchWriter(pool, Partitions(storage), config.settings.ingest, spool)
    writer.start()
    try:
        assert writer.flush(30) and spool.empty
    finally:
        writer.stop()
        spool.close()
    with pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0] == 6  # not written twice
    pool.close()
