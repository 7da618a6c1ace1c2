"""Read-side queries against the real database: tiles, staleness, status and series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ioc import queries, status
from ioc.models import Reading
from ioc.writer import Batch


def entities_with(rt, metric: str) -> list[str]:
    return [e.id for e in rt.config.region.entities if metric in rt.config.entity_metrics(e.id)]


def headline(rt, across: str):
    return next(m for m in rt.config.catalog.metrics if m.headline and m.across == across
                and len(entities_with(rt, m.key)) >= 3)


def test_overview_uses_fresh_values_and_marks_stale(clean_db):
    rt = clean_db
    metric = headline(rt, "mean")
    a, b, c = entities_with(rt, metric.key)[:3]
    now = datetime.now(UTC)
    low, high = metric.valid_range
    old = now - metric.cadence * 3
    rt.writer.submit(Batch([Reading(a, metric.key, now - timedelta(seconds=30), low + 10),
                            Reading(b, metric.key, now - timedelta(seconds=20), low + 20),
                            Reading(c, metric.key, old, high)]))  # silent since: stale, left out
    assert rt.writer.flush()
    row = queries.overview(rt.db, rt.config, now).set_index("metric").loc[metric.key]
    assert row["value"] == pytest.approx(low + 15)
    assert (row["entities"], row["stale_entities"], bool(row["stale"])) == (3, 1, False)
    assert row["age_s"] == pytest.approx(20, abs=1)
    # Levels for one site: the figure is as bad as its worst fresh site.
    assert row["status"] == status.worst(status.judge(v, metric.thresholds) for v in (low + 10, low + 20))


def test_overview_all_stale_and_no_data(clean_db):
    rt = clean_db
    metric = headline(rt, "mean")
    entity = entities_with(rt, metric.key)[0]
    now = datetime.now(UTC)
    rt.writer.submit(Batch([Reading(entity, metric.key, now - metric.cadence * 2, metric.valid_range[0])]))
    assert rt.writer.flush()
    frame = queries.overview(rt.db, rt.config, now).set_index("metric")
    assert bool(frame.loc[metric.key, "stale"]) is True
    assert frame.loc[metric.key, "value"] == metric.valid_range[0]
    others = frame.drop(index=metric.key)
    assert (others["status"] == "nodata").all() and others["stale"].all()
    assert len(frame) == sum(m.headline for m in rt.config.catalog.metrics)


def test_metric_series_combines_entities_per_bucket(clean_db):
    rt = clean_db
    metric = headline(rt, "sum")
    a, b = entities_with(rt, metric.key)[:2]
    start = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    rt.writer.submit(Batch([Reading(a, metric.key, start, 2), Reading(a, metric.key, start + timedelta(minutes=5), 4),
                            Reading(b, metric.key, start + timedelta(minutes=1), 10),
                            Reading(b, metric.key, start + timedelta(minutes=20), 7)]))
    assert rt.writer.flush()
    df = queries.metric_series(rt.db, metric.key, start, start + timedelta(hours=1), timedelta(minutes=15), "sum")
    assert list(df["value"]) == [13.0, 7.0]  # (mean 3 of a) + 10 of b; then 7 of b
    assert list(df["bucket"]) == [start, start + timedelta(minutes=15)]


def test_sites_with_their_own_levels_are_judged_by_them(clean_db):
    """A gauge at 11 m on a datum whose BĐ3 is 16 m is fine; one at 6.5 m where BĐ3 is 6.3 m is not."""
    rt = clean_db
    gauges = [e for e in rt.config.region.entities if "river_level" in e.thresholds]
    high_datum = max(gauges, key=lambda e: e.thresholds["river_level"].critical)
    low_datum = min(gauges, key=lambda e: e.thresholds["river_level"].critical)
    now = datetime.now(UTC)
    below_warning = high_datum.thresholds["river_level"].warning - 1
    rt.writer.submit(Batch([Reading(high_datum.id, "river_level", now, below_warning),
                            Reading(low_datum.id, "river_level", now, 1.0)]))
    assert rt.writer.flush()
    row = queries.overview(rt.db, rt.config, now).set_index("metric").loc["river_level"]
    assert row["status"] == "ok"  # the catalog's province levels would have called this critical
    rt.writer.submit(Batch([Reading(low_datum.id, "river_level", now + timedelta(seconds=1),
                                    low_datum.thresholds["river_level"].critical + 0.2)]))
    assert rt.writer.flush()
    row = queries.overview(rt.db, rt.config, now + timedelta(seconds=2)).set_index("metric").loc["river_level"]
    assert row["status"] == "critical"


def test_values_from_a_late_feed_are_stale(clean_db):
    rt = clean_db
    metric = headline(rt, "mean")
    entity = entities_with(rt, metric.key)[0]
    now = datetime.now(UTC)
    rt.writer.submit(Batch([Reading(entity, metric.key, now, metric.valid_range[0])], feed="dept-api"))
    assert rt.writer.flush()
    with rt.db.connection() as conn:
        conn.execute("INSERT INTO feed_health (feed, state, since, updated) VALUES ('dept-api', 'ok', now(), now())")
    assert not queries.overview(rt.db, rt.config, now).set_index("metric").loc[metric.key, "stale"]
    with rt.db.connection() as conn:
        conn.execute("UPDATE feed_health SET state = 'late' WHERE feed = 'dept-api'")
    try:
        assert queries.overview(rt.db, rt.config, now).set_index("metric").loc[metric.key, "stale"]
    finally:
        with rt.db.connection() as conn:
            conn.execute("DELETE FROM feed_health WHERE feed = 'dept-api'")
