"""The alert lifecycle, stepped through time with a fixed clock: value at t0 + i·step → expected state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ioc.alerts.engine import State, judge, step
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
