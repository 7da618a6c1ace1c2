"""The simulator as a feed: through the broker into PostgreSQL, every metric of every domain on time."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from ioc import queries
from ioc.config import load_config
from ioc.runtime import Runtime
from tests.support import RUN_ID, drop_database, isolated_config
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def own_simulator(tmp_path_factory, pg_server_url, mqtt_url):
    """The product with its simulator in its own database and topics: the session's live runtime is
    shared with tests that add figures and load the machine; this test judges the simulator alone."""
    folder = isolated_config(tmp_path_factory.mktemp("simfeed"), pg_server_url, mqtt_url, "simfeed",
                             feeds={"simulator": {"options": {"backfill": "1h", "interval": "1s"}}})
    rt = Runtime(load_config(folder, environ={})).start()
    yield rt
    rt.stop()
    drop_database(pg_server_url, f"ioc_test_{RUN_ID}_simfeed")


def test_every_metric_of_every_domain_arrives_within_its_cadence(own_simulator):
    rt = own_simulator
    # The simulator plays the five priority domains; plan targets (digital government) come by hand.
    priority = {d.key for d in rt.config.priority_domains}
    # attendance is sent in school hours on school days only: whether it is there depends on the clock
    expected = {(e.id, m) for e in rt.config.region.entities for m in rt.config.entity_metrics(e.id)
                if rt.config.entity_domain(e.id) in priority and rt.config.metrics[m].reports == "always"}
    def latest_now():
        return queries.latest_values(rt.db, [k for k, m in rt.config.metrics.items()
                                             if m.domain in priority and m.reports == "always"])

    wait_until(lambda: len(latest_now()) >= len(expected), timeout=60)
    latest = latest_now()
    assert set(zip(latest["entity"], latest["metric"], strict=True)) == expected
    now = pd.Timestamp(datetime.now(UTC))
    ages = (now - pd.to_datetime(latest["ts"], utc=True)).dt.total_seconds()
    cadence = latest["metric"].map(lambda m: rt.config.metrics[m].cadence.total_seconds())
    late = latest[ages > cadence + 10]  # aligned to the cadence grid, published within seconds
    assert late.empty, late
    domains = {rt.config.metrics[m].domain for m in latest["metric"]}
    assert domains == priority
    with rt.db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM dead_letters WHERE source LIKE %s",
                            (f"{rt.mqtt_settings.topic_prefix}/%/simulator",)).fetchone()[0] == 0
        sources = {feed for (feed,) in conn.execute("SELECT DISTINCT feed FROM latest")}
    assert sources == {"simulator"}
    assert rt.feed_health.feeds["simulator"].state == "ok", rt.feed_health.snapshot()
