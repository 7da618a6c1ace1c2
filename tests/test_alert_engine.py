"""The alert lifecycle, stepped through time with a fixed clock: value at t0 + i·step → expected state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ioc.alerts.engine import State, judge, judge_silence, step
from ioc.alerts.rules import Rule
from ioc.config import Thresholds

T0 = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
STEP = timedelta(minutes=1)


def run(rule: Rule, values: list[float | None], site: Thresholds | None = None) -> list[tuple[str, str | None, str]]:
    """Feed one value per minute (None: the condition is re-checked with no new reading = not active);
    return (state, severity, transitions) after each step."""
    state, out = State(), []
    for i, value in enumerate(values):
        now = T0 + i * STEP
        severity, threshold = (None, None) if value is None else judge(rule, value, state.state != "inactive", site)
        state, transitions = step(rule, severity, value, threshold, now, state)
        out.append((state.state, state.severity, ",".join(t.kind for t in transitions)))
    return out


def above(**kw) -> Rule:
    return Rule(name="beds", condition="above", metric="bed_occupancy", warning=85, critical=95, **kw)


def test_fires_at_once_without_for_and_resolves():
    assert run(above(), [80, 86, 96, 90, 80]) == [
        ("inactive", None, ""), ("firing", "warning", "firing"), ("firing", "critical", "escalated"),
        ("firing", "warning", "deescalated"), ("inactive", None, "resolved")]


def test_for_holds_the_alert_pending():
    rule = above(for_=timedelta(minutes=2))
    assert run(rule, [86, 87, 88, 80]) == [
        ("pending", "warning", "pending"), ("pending", "warning", ""), ("firing", "warning", "firing"),
        ("inactive", None, "resolved")]
    # A blip shorter than `for` never fires: pending, then cancelled.
    assert run(rule, [86, 80, 80]) == [("pending", "warning", "pending"), ("inactive", None, "cancelled"),
                                       ("inactive", None, "")]


def test_hysteresis_clear_level():
    rule = above(clear=83)
    assert run(rule, [86, 84, 83.5, 83, 84]) == [
        ("firing", "warning", "firing"), ("firing", "warning", ""), ("firing", "warning", ""),
        ("inactive", None, "resolved"), ("inactive", None, "")]  # 84 does not re-fire: below warning


def test_keep_firing_for():
    rule = above(keep_firing_for=timedelta(minutes=2))
    # Cleared at 1 min: kept firing at 1 and 2 min, resolved at 3 min (2 min after it cleared).
    assert run(rule, [90, 80, 80, 80, 80]) == [
        ("firing", "warning", "firing"), ("firing", "warning", ""), ("firing", "warning", ""),
        ("inactive", None, "resolved"), ("inactive", None, "")]
    # Back over the threshold within keep_firing_for: the same alert goes on, nothing new is sent.
    assert run(rule, [90, 80, 91, 80]) == [
        ("firing", "warning", "firing"), ("firing", "warning", ""), ("firing", "warning", ""),
        ("firing", "warning", "")]


def test_below_rule_cold():
    rule = Rule(name="cold", condition="below", metric="temp_daily_mean", warning=15, critical=13)
    assert run(rule, [18, 15, 12.9, 16]) == [
        ("inactive", None, ""), ("firing", "warning", "firing"), ("firing", "critical", "escalated"),
        ("inactive", None, "resolved")]


def test_outside_band():
    rule = Rule(name="ph", condition="outside", metric="reservoir_level_pct", warning=(20, 90), critical=(10, 98))
    assert run(rule, [50, 95, 99, 5, 50]) == [
        ("inactive", None, ""), ("firing", "warning", "firing"), ("firing", "critical", "escalated"),
        ("firing", "critical", ""), ("inactive", None, "resolved")]


def test_rate_of_change_judges_the_change():
    rule = Rule(name="river-rise", condition="rate_of_change", metric="river_level", window=timedelta(hours=3),
                warning=0.5, critical=1.0)
    assert judge(rule, 0.4, False) == (None, None)
    assert judge(rule, 0.7, False) == ("warning", 0.5)
    assert judge(rule, 1.2, False) == ("critical", 1.0)


def test_site_levels_override_the_catalog():
    rule = Rule(name="river", condition="above", metric="river_level", warning=4.3, critical=6.3)
    cau_son = Thresholds(direction="above", warning=14.0, critical=16.0, source="gauge")
    assert judge(rule, 11.3, False, cau_son) == (None, None)
    assert judge(rule, 16.2, False, cau_son) == ("critical", 16.0)
    assert judge(rule.model_copy(update={"site_levels": False}), 11.3, False, cau_son) == ("critical", 6.3)


@pytest.mark.parametrize("bad", [
    {"condition": "above", "metric": "x"},                                    # no thresholds
    {"condition": "outside", "metric": "x", "warning": 5},                    # band needed
    {"condition": "rate_of_change", "metric": "x", "warning": 1},             # window needed
    {"condition": "feed_silent"},                                             # feed needed
])
def test_bad_rules_are_refused(bad):
    with pytest.raises(ValueError):
        Rule(name="r", **bad)


def test_no_data_is_its_own_condition():
    """Readings every 15 min stop after 30 min; a nodata rule with `for: 10m` goes pending when the series has been
    silent longer than 1.5 × its cadence, fires 10 min later, and resolves when data returns."""
    rule = Rule(name="beds-silent", condition="nodata", metric="bed_occupancy", for_=timedelta(minutes=10))
    cadence = timedelta(minutes=15)
    last_reading = {0: T0, 15: T0 + timedelta(minutes=15), 30: T0 + timedelta(minutes=30)}
    state, seen = State(), []
    last = None
    for minute in range(0, 95, 5):
        now = T0 + timedelta(minutes=minute)
        last = now if minute == 90 else last_reading.get(minute, last)  # at 90 the data is back
        severity, silent, allowed = judge_silence(rule, last, now, cadence)
        state, transitions = step(rule, severity, silent, allowed, now, state)
        seen.extend((minute, t.kind) for t in transitions)
    # Silent since 30 min; 22.5 min allowed → pending at 55, firing at 65, resolved when data returns at 90.
    assert seen == [(55, "pending"), (65, "firing"), (90, "resolved")]
    assert judge_silence(rule, None, T0, cadence)[0] == "warning"  # never heard from


def test_no_data_waits_for_the_first_reading_to_be_due():
    """The start-up grace: watching begins at T0 and the series has never been heard from. Nothing is missing
    until its first reading was due (1.5 × a 15-min cadence = 22.5 min); after that, it is."""
    rule = Rule(name="beds-silent", condition="nodata", metric="bed_occupancy")
    cadence = timedelta(minutes=15)
    state, seen = State(), []
    for minute in range(0, 40, 5):
        now = T0 + timedelta(minutes=minute)
        severity, silent, allowed = judge_silence(rule, None, now, cadence, since=T0)
        state, transitions = step(rule, severity, silent, allowed, now, state)
        seen.extend((minute, t.kind) for t in transitions)
    assert seen == [(25, "firing")]
    # A reading within the grace ends it: from then on, silence counts from that reading.
    first = T0 + timedelta(minutes=10)
    assert judge_silence(rule, first, T0 + timedelta(minutes=30), cadence, since=T0)[0] is None
    assert judge_silence(rule, first, T0 + timedelta(minutes=33), cadence, since=T0)[0] == "warning"


def test_every_condition_is_a_registered_class():
    """Conditions are looked up, never switched on: each name in a rule is a class of the registry."""
    from ioc.alerts.conditions import CONDITIONS

    assert set(CONDITIONS) == {"above", "below", "outside", "rate_of_change", "nodata", "feed_silent"}
    with pytest.raises(ValueError, match="unknown condition"):
        Rule(name="r", condition="sideways", metric="x", warning=1)
