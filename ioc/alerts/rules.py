"""Alert rules: what to watch, when it is bad, and for how long before anyone is told.

Rules come from config/alerts.yaml. The catalog's thresholds become default rules (one per metric
with thresholds, using each site's own levels where it has them), and explicit rules add or replace
them by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, model_validator

from ioc.alerts.notify_settings import NotifySettings
from ioc.config import Config, ConfigError, Duration, Strict, Text, read_yaml, validate_file

Condition = Literal["above", "below", "outside", "rate_of_change", "nodata", "feed_silent"]


class Scope(Strict):
    domain: str | None = None
    area: str | None = None  # the area and everything below it
    kind: str | None = None
    entity: str | None = None


class Rule(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_:\-]*$", max_length=100)
    condition: Condition
    metric: str | None = None
    feed: str | None = None  # feed_silent rules
    scope: Scope = Scope()
    warning: float | tuple[float, float] | None = None  # a (low, high) band for "outside"
    critical: float | tuple[float, float] | None = None
    clear: float | None = None  # hysteresis: a firing above-rule holds until the value falls below this
    window: Duration | None = None  # rate_of_change: the change over this window
    after: Duration | None = None  # nodata: silent for longer than this (default 1.5 × the metric's cadence)
    severity: Literal["warning", "critical"] = "warning"  # nodata and feed_silent
    for_: Duration = Field(timedelta(0), alias="for")
    keep_firing_for: Duration = timedelta(0)
    site_levels: bool = True  # use an entity's own thresholds (e.g. a river gauge's BĐ1/BĐ3) when it has them
    labels: dict[str, str] = {}
    message: Text | None = None

    model_config = Strict.model_config | {"populate_by_name": True}

    @model_validator(mode="after")
    def _shape(self) -> Rule:
        metric_rule = self.condition not in ("feed_silent",)
        if metric_rule and not self.metric:
            raise ValueError(f"a '{self.condition}' rule needs a metric")
        if self.condition == "feed_silent" and not self.feed:
            raise ValueError("a 'feed_silent' rule needs a feed")
        if self.condition in ("above", "below", "outside", "rate_of_change"):
            if self.warning is None and self.critical is None:
                raise ValueError(f"a '{self.condition}' rule needs warning and/or critical")
            banded = self.condition == "outside"
            for level in (self.warning, self.critical):
                if level is not None and isinstance(level, tuple) != banded:
                    raise ValueError("'outside' takes [low, high] bands; other conditions take one number")
        if self.condition == "rate_of_change" and not self.window:
            raise ValueError("a 'rate_of_change' rule needs a window")
        return self


class RuleDefaults(Strict):
    catalog_rules: bool = True
    for_: Duration = Field(timedelta(0), alias="for")
    keep_firing_for: Duration = timedelta(0)
    flap_window: Duration = timedelta(hours=1)  # this many state changes within this window = flapping
    flap_changes: int = Field(6, ge=2)
    model_config = Strict.model_config | {"populate_by_name": True}


class AlertsFile(Strict):
    defaults: RuleDefaults = RuleDefaults()
    rules: list[Rule] = []
    notify: dict[str, Any] = {}  # validated by ioc.alerts.notify_settings.NotifySettings


def rule_problem(config: Config, rule: Rule) -> tuple[str, str] | None:
    """(key, reason) when the rule names a metric, feed, domain, area, kind or entity that does not exist."""
    if rule.metric and rule.metric not in config.metrics:
        return "metric", f"unknown metric '{rule.metric}'"
    if rule.feed and rule.feed not in {f.name for f in config.feeds}:
        return "feed", f"unknown feed '{rule.feed}'"
    scope = rule.scope
    checks = [("domain", scope.domain, config.domains), ("area", scope.area, config.areas),
              ("kind", scope.kind, config.kinds), ("entity", scope.entity, config.entities)]
    for key, value, known in checks:
        if value is not None and value not in known:
            return f"scope.{key}", f"unknown {key} '{value}'"
    return None


def catalog_rules(config: Config, defaults: RuleDefaults) -> list[Rule]:
    """One rule per catalog metric with thresholds: the catalog's bands, each site's own where it has them."""
    return [Rule(name=f"catalog:{m.key}", condition=m.thresholds.direction, metric=m.key,
                 warning=m.thresholds.warning, critical=m.thresholds.critical, for_=defaults.for_,
                 keep_firing_for=defaults.keep_firing_for, labels={"source": "catalog"})
            for m in config.catalog.metrics if m.thresholds]


@dataclass(frozen=True)
class AlertConfig:
    rules: list[Rule]
    notify: NotifySettings
    defaults: RuleDefaults


def load_rules(config: Config) -> AlertConfig:
    """config/alerts.yaml: the rules in force (catalog defaults, then the file's rules by name), the
    notification settings and the defaults (flap detection)."""
    path = config.config_dir / "alerts.yaml"
    document: AlertsFile = validate_file(AlertsFile, read_yaml(path), path)
    notify = validate_file(NotifySettings, document.notify, path, under="notify")
    rules = {r.name: r for r in (catalog_rules(config, document.defaults) if document.defaults.catalog_rules else [])}
    for i, rule in enumerate(document.rules):
        if problem := rule_problem(config, rule):
            raise ConfigError(path, f"rules.{i}.{problem[0]}", problem[1])
        rules[rule.name] = rule
    return AlertConfig(list(rules.values()), notify, document.defaults)

