"""Alert rules: what to watch, when it is bad, and for how long before anyone is told.

Rules come from config/alerts.yaml. The catalog's thresholds become default rules (one per metric
with thresholds, using each site's own levels where it has them), and explicit rules add or replace
them by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator, model_validator

from ioc import status
from ioc.alerts.conditions import condition_of, known_condition
from ioc.alerts.notify_settings import NotifySettings
from ioc.alerts.severity import Severity
from ioc.alerts.text import template_problem
from ioc.config import Config, ConfigError, Duration, Strict, Text, read_yaml, validate_file
from ioc.i18n import t


class Scope(Strict):
    domain: str | None = None
    area: str | None = None  # the area and everything below it
    kind: str | None = None
    entity: str | None = None


class Rule(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_:\-]*$", max_length=100)
    condition: str  # a name in ioc.alerts.conditions.CONDITIONS
    metric: str | None = None
    feed: str | None = None  # feed_silent rules
    scope: Scope = Scope()
    warning: float | tuple[float, float] | None = None  # a (low, high) band for "outside"
    critical: float | tuple[float, float] | None = None
    clear: float | None = None  # hysteresis: a firing above-rule holds until the value falls below this
    window: Duration | None = None  # rate_of_change: the change over this window
    after: Duration | None = None  # nodata: silent for longer than this (default 1.5 × the metric's cadence)
    severity: Severity = "warning"  # nodata and feed_silent
    for_: Duration = Field(timedelta(0), alias="for")
    keep_firing_for: Duration = timedelta(0)
    site_levels: bool = True  # use an entity's own thresholds (e.g. a river gauge's BĐ1/BĐ3) when it has them
    labels: dict[str, str] = {}
    message: Text | None = None

    model_config = Strict.model_config | {"populate_by_name": True}

    @field_validator("condition")
    @classmethod
    def _known_condition(cls, name: str) -> str:
        return known_condition(name)

    @field_validator("message")
    @classmethod
    def _safe_message(cls, message: Text | None) -> Text | None:
        for text in (message.vi, message.en) if message else ():
            if problem := template_problem(text):
                raise ValueError(t(problem[0], "en", **problem[1]))
        return message

    @model_validator(mode="after")
    def _shape(self) -> Rule:
        condition_of(self).check(self)
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
    """One rule per catalog metric with thresholds: the levels ioc.status judges by (the catalog's bands;
    each site's own where it has them, applied by the service), so a tile and an alert never disagree."""
    return [Rule(name=f"catalog:{m.key}", condition=levels.direction, metric=m.key,
                 warning=levels.warning, critical=levels.critical, for_=defaults.for_,
                 keep_firing_for=defaults.keep_firing_for, labels={"source": "catalog"})
            for m in config.catalog.metrics if (levels := status.levels(m)) is not None]


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

