"""Which database errors cost a reading: only a proven per-row data error, dead-lettered row by row with the
database's reason while the rest of its batch is stored. (Refusals that are not about the data — a revoked
privilege, a read-only server, an outage — are the fault scenarios of bench/faults.py, run small in
tests/test_faults.py on a throwaway PostgreSQL.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ioc.config import load_config
from ioc.runtime import Runtime
from ioc.transports.mqtt import BrokerAddress, Publisher
from ioc.writer import is_row_error
from tests.support import RUN_ID, drop_database, isolated_config
from tests.waiting import wait_until


@pytest.mark.parametrize(("error", "row"), [
    (psycopg.errors.CheckViolation, True), (psycopg.errors.NumericValueOutOfRange, True),
    (psycopg.errors.InsufficientPrivilege, False), (psycopg.errors.ReadOnlySqlTransaction, False),
    (psycopg.errors.DiskFull, False), (psycopg.OperationalError, False), (psycopg.errors.UndefinedTable, False),
    (TypeError, False),
])
def test_only_data_errors_are_the_rows_fault(error, row):
    assert is_row_error(error("x")) is row


@pytest.fixture
def constrained(tmp_path, pg_server_url, mqtt_url):
    folder = isolated_config(tmp_path / "cfg", pg_server_url, mqtt_url, "rowerror",
                             {"ingest": {"batch_max_delay": "50ms"}})
    rt = Runtime(load_config(folder, environ={}), with_simulator=False).start()
    assert rt.mqtt.connected.wait(20)
    yield rt
    rt.stop()
    drop_database(pg_server_url, f"ioc_test_{RUN_ID}_rowerror")


def test_a_row_the_database_refuses_is_dead_lettered_alone(constrained):
    rt = constrained
    entity = next(e for e in rt.config.region.entities if rt.config.kinds[e.kind].domain == "health")
    metric = rt.config.entity_metrics(entity.id)[0]
    low, high = rt.config.metrics[metric].valid_range
    limit = low + (high - low) / 2
    with rt.db.connection() as conn:  # a rule of this database's own that the catalog does not know
        conn.execute(f"ALTER TABLE readings ADD CONSTRAINT test_limit CHECK (value < {limit!r})")
    now = datetime.now(UTC).replace(microsecond=0)
    values = [low, high, low + (high - low) / 4]  # the second is valid for the catalog, refused by the table
    payload = json.dumps([{"entity": entity.id, "ts": (now - timedelta(minutes=i)).isoformat(),
                           "values": {metric: v}} for i, v in enumerate(values)]).encode()
    pub = Publisher(BrokerAddress.from_url(rt.config.settings.mqtt.url), rt.mqtt_settings,
                    client_id=f"rowerror-pub-{RUN_ID}")
    pub.connect()
    pub.publish(f"{rt.config.settings.mqtt.topic_prefix}/health/{entity.id}", payload)
    pub.close()
    def outcome() -> tuple[list, list]:
        with rt.db.connection() as conn:
            return (conn.execute("SELECT reason, payload FROM dead_letters").fetchall(),
                    sorted(v for (v,) in conn.execute("SELECT value FROM readings")))

    wait_until(lambda: (lambda dead, stored: dead and len(stored) == 2)(*outcome()), timeout=60)
    dead, stored = outcome()
    assert stored == sorted([values[0], values[2]])
    assert len(dead) == 1 and dead[0][0].startswith("could not be stored: CheckViolation")
    assert f"{entity.id} {metric}" in dead[0][1] and repr(values[1]) in dead[0][1]
    assert rt.writer.stats.last_error is None  # a refused row is not a failing writer
