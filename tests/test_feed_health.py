"""Feed health transitions, time-stepped with a fixed clock."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from ioc.config import FeedSpec
from ioc.feed_health import FeedHealth

T0 = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def spec(name: str, **kw) -> FeedSpec:
    return FeedSpec(name=name, transport="mqtt", topic="{domain}/+", stale_after=timedelta(minutes=5), **kw)


def test_states_step_through_time(caplog):
    clock = Clock()
    health = FeedHealth([spec("dept"), spec("off", enabled=False)], clock)
    caplog.set_level(logging.INFO, logger="ioc.feed_health")
    expected = [
        # (minutes after start, event, state of "dept")
        (0, None, "waiting"),
        (4, None, "waiting"),
        (6, None, "late"),                      # nothing within stale_after since start
        (7, ("success", 10), "ok"),
        (11, None, "ok"),
        (12.5, None, "late"),                   # last success 5.5 min ago
        (13, ("failure", "HTTP 500"), "failing"),
        (14, ("failure", "HTTP 500"), "failing"),
        (15, ("success", 3), "ok"),             # recovery
    ]
    for minutes, event, state in expected:
        clock.now = T0 + timedelta(minutes=minutes)
        if event and event[0] == "success":
            health.success("dept", event[1])
        elif event:
            health.failure("dept", event[1])
        health.evaluate()
        assert health.feeds["dept"].state == state, (minutes, health.feeds["dept"].state, state)
        assert health.feeds["off"].state == "disabled"
    messages = [r.getMessage() for r in caplog.records]
    # Each transition is logged once: the repeated failure at 14 min and the quiet minutes log nothing.
    assert messages == ["feed dept is late (was waiting)", "feed dept is ok (was late)",
                        "feed dept is late (was ok)", "feed dept is failing (was late): HTTP 500",
                        "feed dept is ok (was failing)"]


def test_rates_over_the_last_minute():
    clock = Clock()
    health = FeedHealth([spec("dept")], clock)
    for second in range(0, 90, 10):
        clock.now = T0 + timedelta(seconds=second)
        health.success("dept", 100, dead_letters=1)
    row = health.snapshot(T0 + timedelta(seconds=90))[0]
    assert (row["readings_per_min"], row["dead_letters_per_min"]) == (600.0, 6.0)
