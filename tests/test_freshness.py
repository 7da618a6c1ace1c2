"""The shipped demo never greys out: driven through simulated time across several of the longest cadences,
the simulator's readings keep every headline tile and every site fresh, and its feed never goes late."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from feeds.simulator import Simulator
from ioc import queries, status
from ioc.config import SimulatorSettings
from ioc.feed_health import FeedHealth
from ioc.models import Batch

STEP = timedelta(minutes=1)


def test_simulator_keeps_the_demo_fresh_across_the_longest_cadences(clean_db):
    rt = clean_db
    config = rt.config
    spec = next(f for f in config.feeds if f.name == "simulator")
    priority = {d.key for d in config.priority_domains}
    headline = [m for m in config.catalog.metrics if m.headline and m.domain in priority]
    longest = max(m.cadence for m in config.catalog.metrics if m.domain in priority)
    span = longest * 3 + timedelta(minutes=7)  # three of the longest cadences, off the hour grid
    start = (datetime.now(UTC) - span - timedelta(hours=1)).replace(second=17, microsecond=0)
    simulator = Simulator(config, SimulatorSettings.model_validate({**spec.options, "anomaly_rate": 0}))
    clock = {"now": start}
    # The feed as the runtime judges it (the test configuration turns the live simulator off).
    judged = [f.model_copy(update={"enabled": True}) for f in status.feeds_as_judged(config) if f.name == spec.name]
    health = FeedHealth(judged, clock=lambda: clock["now"])

    # Warm-up: the schools' last figures and one longest cadence of history, as the simulator publishes at start.
    rt.writer.submit(Batch(simulator.last_school_reports(start - longest), feed=spec.name))
    for chunk in simulator.backfill(start - longest, start):
        rt.writer.submit(Batch(chunk, feed=spec.name))
    simulator.readings_at(start - STEP)  # live publishing starts where the backfill ended
    assert rt.writer.flush()
    health.success(spec.name, 1)

    now, checked = start, 0
    while now < start + span:
        clock["now"] = now
        readings = simulator.readings_at(now)
        if readings:
            rt.writer.submit(Batch(readings, feed=spec.name))
            assert rt.writer.flush()
            health.success(spec.name, len(readings))
        health.evaluate(now)
        assert health.feeds[spec.name].state == "ok", f"simulator late at {now}"
        if checked % 5 == 0 or not readings:
            tiles = queries.overview(rt.db, config, now, metrics=headline).set_index("metric")
            stale = tiles.index[tiles["stale"].astype(bool)].tolist()
            missing = tiles.index[tiles["status"] == "nodata"].tolist()
            assert not stale and not missing, f"at {now}: stale {stale}, no data {missing}"
            sites = queries.site_status(rt.db, config, now, [m.key for m in headline])
            assert not sites["stale"].astype(bool).any(), \
                f"at {now}: stale sites {sites[sites['stale'].astype(bool)][['entity', 'metric']].values[:5]}"
        checked += 1
        now += STEP
    assert checked >= span / STEP - 1
