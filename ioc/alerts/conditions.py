"""Alert conditions: one class per `condition:` of a rule, in one registry (`CONDITIONS`).

A condition says what a rule must declare (`check`), what it watches (`watches`: the readings of a
series, the silence of a series, or a feed's health), how bad an observation is (`judge`), and which
text key describes it (`text_key`, rendered by ioc/alerts/text.py). The rules, the engine, the
service and the pages ask the condition; none of them switches on its name. Adding a condition is
one class here and its test.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar, Literal

from ioc.alerts.severity import Judgement

if TYPE_CHECKING:
    from ioc.alerts.rules import Rule
    from ioc.config import Thresholds

Watches = Literal["readings", "silence", "feed"]


class Condition:
    name: ClassVar[str]
    watches: ClassVar[Watches] = "readings"
    text_key: ClassVar[str] = "alert.text.threshold"
    plots_value: ClassVar[bool] = True  # the alert's value is a value of the metric (drawn on its chart)

    def check(self, rule: Rule) -> None:
        """Raise ValueError when the rule lacks what this condition needs."""
        if not rule.metric:
            raise ValueError(f"a '{self.name}' rule needs a metric")

    def history(self, rule: Rule) -> timedelta | None:
        """How far back a reading is compared with (None: the reading alone is judged)."""
        return None

    def observed(self, rule: Rule, value: float, before: float | None) -> float:
        """The value judged for a reading (`before`: the series' value `history` ago)."""
        return value

    def judge(self, rule: Rule, value: float, active: bool, site: Thresholds | None = None) -> Judgement:
        raise NotImplementedError

    def on_tick(self, rule: Rule, severity: str | None, threshold: float | None, value: float,
                cleared: bool, site: Thresholds | None) -> Judgement:
        """A tick with no new reading: the last value judged again (the clock moves `for` along); once
        the condition stopped holding (`cleared`), it stays cleared until a reading says otherwise."""
        if cleared:
            return None, None
        return self.judge(rule, value, True, site)


CONDITIONS: dict[str, Condition] = {}


def register(cls: type[Condition]) -> type[Condition]:
    if cls.name in CONDITIONS:
        raise ValueError(f"condition '{cls.name}' is already registered")
    CONDITIONS[cls.name] = cls()
    return cls


def condition_of(rule: Rule) -> Condition:
    return CONDITIONS[rule.condition]


class _Levels(Condition):
    """A value against warning and critical levels, one number each (or a band, `banded`)."""

    banded: ClassVar[bool] = False
    site_levels: ClassVar[bool] = False  # an entity's own levels (a river gauge's BĐ1/BĐ3) may replace the rule's
    sign: ClassVar[int] = 1  # +1: bad at or above the level; -1: at or below

    def check(self, rule: Rule) -> None:
        super().check(rule)
        if rule.warning is None and rule.critical is None:
            raise ValueError(f"a '{self.name}' rule needs warning and/or critical")
        for level in (rule.warning, rule.critical):
            if level is not None and isinstance(level, tuple) != self.banded:
                raise ValueError("'outside' takes [low, high] bands; other conditions take one number")

    def levels(self, rule: Rule, site: Thresholds | None) -> tuple[object, object]:
        """(warning, critical): the site's own where the condition and the rule allow it."""
        if self.site_levels and rule.site_levels and site is not None:
            return site.warning, site.critical
        return rule.warning, rule.critical

    def judge(self, rule: Rule, value: float, active: bool, site: Thresholds | None = None) -> Judgement:
        """(severity, the threshold crossed); an active alert clears only past `clear` (hysteresis)."""
        warning, critical = self.levels(rule, site)
        sign = self.sign
        for severity, level in (("critical", critical), ("warning", warning)):
            if level is not None and sign * (value - level) >= 0:
                return severity, level
        if active and rule.clear is not None and sign * (value - rule.clear) > 0:
            return "warning", rule.clear  # not back past the clear level yet: still active
        return None, None


@register
class Above(_Levels):
    name = "above"
    site_levels = True


@register
class Below(_Levels):
    name = "below"
    site_levels = True
    sign = -1


@register
class Outside(_Levels):
    name = "outside"
    banded = True

    def judge(self, rule: Rule, value: float, active: bool, site: Thresholds | None = None) -> Judgement:
        warning, critical = self.levels(rule, site)
        for severity, band in (("critical", critical), ("warning", warning)):
            if band is not None and not band[0] <= value <= band[1]:
                return severity, band[0] if value < band[0] else band[1]
        return None, None


@register
class RateOfChange(_Levels):
    """A rise of at least the level over `window` (the reading minus the series' value a window ago)."""

    name = "rate_of_change"
    plots_value = False

    def check(self, rule: Rule) -> None:
        super().check(rule)
        if not rule.window:
            raise ValueError("a 'rate_of_change' rule needs a window")

    def history(self, rule: Rule) -> timedelta | None:
        return rule.window

    def observed(self, rule: Rule, value: float, before: float | None) -> float:
        return value - before

    def on_tick(self, rule: Rule, severity: str | None, threshold: float | None, value: float,
                cleared: bool, site: Thresholds | None) -> Judgement:
        # A change is judged when a reading arrives; a tick only keeps what the last reading said.
        return (None, None) if cleared else (severity, threshold)


@register
class NoData(Condition):
    """A series silent for longer than `after` (default 1.5 × the metric's cadence)."""

    name = "nodata"
    watches = "silence"
    text_key = "alert.text.nodata"
    plots_value = False

    def allowed(self, rule: Rule, cadence: timedelta) -> timedelta:
        return rule.after or cadence * 1.5

    def judge_silence(self, rule: Rule, last: datetime | None, now: datetime, cadence: timedelta,
                      since: datetime | None = None) -> tuple[str | None, float | None, float]:
        """(severity, seconds silent, seconds allowed). A series never heard from is judged from `since`
        (when watching began): no alert before its first reading was due (the start-up grace)."""
        allowed = self.allowed(rule, cadence)
        silent = None if last is None else (now - last).total_seconds()
        reference = last if last is not None else since
        active = reference is None or now - reference > allowed
        return (rule.severity if active else None), silent, allowed.total_seconds()


@register
class FeedSilent(Condition):
    """A feed whose health is late or failing."""

    name = "feed_silent"
    watches = "feed"
    text_key = "alert.text.feed_silent"
    plots_value = False
    BAD_STATES: ClassVar[tuple[str, ...]] = ("late", "failing")

    def check(self, rule: Rule) -> None:
        if not rule.feed:
            raise ValueError("a 'feed_silent' rule needs a feed")

    def judge_feed(self, rule: Rule, state: str | None) -> Judgement:
        return (rule.severity, None) if state in self.BAD_STATES else (None, None)


def measures_silence(name: str | None) -> bool:
    """Whether a condition's alert value is a time without data (seconds), never a reading of the metric."""
    condition = CONDITIONS.get(name or "")
    return condition is not None and condition.watches != "readings"


def known_condition(name: str) -> str:
    """A pydantic validator: the name of a registered condition."""
    if name not in CONDITIONS:
        raise ValueError(f"unknown condition '{name}' (known: {', '.join(CONDITIONS)})")
    return name

