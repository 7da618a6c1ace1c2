"""The alert lifecycle as pure functions (the Prometheus model), so tests step through time.

`judge` says how bad an observation is under a rule (None, 'warning' or 'critical'), honouring
hysteresis for an alert already active. `step` moves one (rule, subject) through
inactive → pending → firing → resolved with `for` and `keep_firing_for`, and says which transitions
happened. Neither reads a clock or a database: the time is an argument.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ioc.alerts.conditions import condition_of
from ioc.alerts.rules import Rule
from ioc.alerts.severity import SEVERITY_RANK, Judgement
from ioc.config import Thresholds


@dataclass(frozen=True)
class State:
    """Where one (rule, subject) stands. `inactive` also means 'resolved and done'."""

    state: str = "inactive"  # inactive | pending | firing
    severity: str | None = None
    pending_since: datetime | None = None
    firing_since: datetime | None = None
    last_active: datetime | None = None
    cleared_since: datetime | None = None  # firing, but the condition has not held since then
    value: float | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class Transition:
    kind: str  # pending | firing | escalated | deescalated | resolved | cancelled
    severity: str | None
    value: float | None
    threshold: float | None
    at: datetime


def judge(rule: Rule, value: float, active: bool, site: Thresholds | None = None) -> Judgement:
    """(severity, the threshold crossed) of a value under the rule's condition; an active alert clears only
    past `clear` (hysteresis)."""
    return condition_of(rule).judge(rule, value, active, site)


def judge_silence(rule: Rule, last: datetime | None, now: datetime, cadence: timedelta,
                  since: datetime | None = None) -> tuple[str | None, float | None, float]:
    """A nodata rule: (severity, seconds silent, seconds allowed); a series never heard from is judged from
    `since`, so that nothing is missing before its first reading was due."""
    return condition_of(rule).judge_silence(rule, last, now, cadence, since)


def step(rule: Rule, severity: str | None, value: float | None, threshold: float | None, now: datetime,
         prev: State) -> tuple[State, list[Transition]]:
    """Advance the lifecycle given how bad things are now (severity None = condition not met)."""
    if severity is not None:
        if prev.state == "inactive":
            if rule.for_.total_seconds() <= 0:
                state = State("firing", severity, pending_since=now, firing_since=now, last_active=now,
                              value=value, threshold=threshold)
                return state, [Transition("firing", severity, value, threshold, now)]
            state = State("pending", severity, pending_since=now, last_active=now, value=value, threshold=threshold)
            return state, [Transition("pending", severity, value, threshold, now)]
        state = replace(prev, severity=severity, last_active=now, cleared_since=None, value=value,
                        threshold=threshold)
        if prev.state == "pending":
            if now - prev.pending_since >= rule.for_:
                state = replace(state, state="firing", firing_since=now)
                return state, [Transition("firing", severity, value, threshold, now)]
            return state, []
        if SEVERITY_RANK[severity] != SEVERITY_RANK[prev.severity]:
            kind = "escalated" if SEVERITY_RANK[severity] > SEVERITY_RANK[prev.severity] else "deescalated"
            return state, [Transition(kind, severity, value, threshold, now)]
        return state, []
    if prev.state == "pending":
        return State(), [Transition("cancelled", prev.severity, value, prev.threshold, now)]
    if prev.state == "firing":
        # keep_firing_for counts from the first evaluation at which the condition no longer held.
        cleared = prev.cleared_since or now
        if now - cleared < rule.keep_firing_for:
            return replace(prev, cleared_since=cleared, value=value if value is not None else prev.value), []
        return State(), [Transition("resolved", prev.severity, value, prev.threshold, now)]
    return prev, []


class FlapDetector:
    """Too many state changes of one alert within a window mark it flapping; notifications are held
    until it has been quiet for a whole window (the time is an argument, as everywhere here)."""

    def __init__(self, window: timedelta, changes: int):
        self.window, self.changes = window, changes
        self._seen: dict[object, list[datetime]] = {}
        self.flapping: set[object] = set()

    def record(self, key: object, at: datetime) -> bool:
        """Note a state change; True when the alert is (now) flapping."""
        recent = [t for t in self._seen.get(key, []) if at - t < self.window] + [at]
        self._seen[key] = recent
        if len(recent) >= self.changes:
            self.flapping.add(key)
        return key in self.flapping

    def settled(self, now: datetime) -> list[object]:
        """Keys that were flapping and have had no change for a whole window (no longer flapping)."""
        calm = [k for k in self.flapping if not self._seen.get(k) or now - self._seen[k][-1] >= self.window]
        self.flapping.difference_update(calm)
        for key in list(self._seen):
            if self._seen[key] and now - self._seen[key][-1] >= self.window:
                del self._seen[key]
        return calm
