"""Silences, maintenance windows and flap detection, stepped through time with a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ioc.alerts.actions import Silence
from ioc.alerts.engine import FlapDetector
from ioc.alerts.events import AlertEvent

VN = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 11, 23, 0, 0, tzinfo=VN).astimezone(UTC)  # Monday 00:00 local


def event(**kw) -> AlertEvent:
    base = {"kind": "firing", "alert_id": 1, "rule": "catalog:vn_aqi", "subject": "air-bgc-01",
            "subject_name_vi": "a", "subject_name_en": "a", "domain": "health", "area": "BGC",
            "severity": "critical", "value": 180.0, "threshold": 151.0, "at": T0, "message_vi": "m",
            "message_en": "m"}
    return AlertEvent(**(base | kw))


def test_silence_matchers_all_must_match():
    s = Silence(1, rule=None, domain="health", area="BGC", subject=None, starts_at=T0, ends_at=T0 + timedelta(hours=1))
    assert s.matches(event())
    assert not s.matches(event(area="LNG"))
    assert not s.matches(event(domain="traffic"))


def test_silence_is_active_between_start_and_end_only():
    s = Silence(1, "catalog:vn_aqi", None, None, None, T0, T0 + timedelta(hours=2))
    steps = [(-1, False), (0, True), (1, True), (2, False)]
    assert [s.active(T0 + timedelta(hours=h), VN) for h, _ in steps] == [a for _, a in steps]


def test_maintenance_window_recurs_weekly_in_local_time_across_midnight():
    # Every Tuesday and Friday 23:00 local for 2 hours, for four weeks.
    window = Silence(2, None, "traffic", None, None, T0, T0 + timedelta(weeks=4), weekdays=[1, 4],
                     daily_start=time(23, 0), daily_minutes=120)
    tuesday_2230 = datetime(2026, 11, 24, 22, 30, tzinfo=VN)
    expected = [
        (tuesday_2230, False),
        (tuesday_2230 + timedelta(minutes=30), True),       # Tue 23:00 opens
        (tuesday_2230 + timedelta(hours=2), True),          # Wed 00:30, still inside
        (tuesday_2230 + timedelta(hours=2, minutes=30), False),  # Wed 01:00 closed
        (datetime(2026, 11, 27, 23, 59, tzinfo=VN), True),  # Friday
        (datetime(2026, 11, 28, 23, 30, tzinfo=VN), False),  # Saturday
        (datetime(2026, 12, 29, 23, 30, tzinfo=VN), False),  # a Tuesday after the window's end date
    ]
    assert [window.active(at.astimezone(UTC), VN) for at, _ in expected] == [a for _, a in expected]


def test_flapping_holds_then_settles():
    flaps = FlapDetector(window=timedelta(minutes=10), changes=4)
    key = ("catalog:vn_aqi", "air-bgc-01")
    changes = [0, 1, 2, 3]  # minutes: firing, resolved, firing, resolved
    assert [flaps.record(key, T0 + timedelta(minutes=m)) for m in changes] == [False, False, False, True]
    assert flaps.record(key, T0 + timedelta(minutes=5)) is True   # still flapping: held
    assert flaps.settled(T0 + timedelta(minutes=14)) == []        # 9 min since the last change
    assert flaps.settled(T0 + timedelta(minutes=15)) == [key]     # a quiet window: settled
    assert flaps.record(key, T0 + timedelta(minutes=16)) is False  # counting starts afresh
    # Changes spread wider than the window never count as flapping.
    other = FlapDetector(window=timedelta(minutes=10), changes=4)
    assert not any(other.record("k", T0 + timedelta(minutes=6 * i)) for i in range(10))
