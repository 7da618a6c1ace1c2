"""Names of the things alerts point at (subject, domain, area, metric) in the page's language.

Shared by /alerts and /wall so that an alert reads the same everywhere. Pure lookups in the config;
an unknown code is shown as it is rather than failing.
"""

from __future__ import annotations

from ioc.config import Config
from ioc.i18n import DASH, format_duration, format_value
from ioc.status import SILENCE_CONDITIONS


def subject_name(config: Config, subject: str, lang: str) -> str:
    entity = config.entities.get(subject)
    return entity.name.get(lang) if entity else subject


def domain_name(config: Config, domain: str | None, lang: str) -> str:
    d = config.domains.get(domain) if domain else None
    return d.name.get(lang) if d else (domain or "")


def area_name(config: Config, area: str | None, lang: str) -> str:
    a = config.areas.get(area) if area else None
    return a[0].name.get(lang) if a else (area or "")


def rule_metric(rule: str, metric: str | None = None) -> str | None:
    """The metric an alert is about: the rule's own, else a catalog rule's name ("catalog:<metric>")."""
    if metric:
        return metric
    return rule.split(":", 1)[1] if rule.startswith("catalog:") else None


def what(config: Config, rule: str, lang: str, metric: str | None = None) -> str:
    """The metric's label, or the rule's name for rules without a catalog metric."""
    m = config.metrics.get(rule_metric(rule, metric) or "")
    return m.label.get(lang) if m else rule


def alert_value(config: Config, alert: dict, lang: str, key: str = "value") -> str:
    """An alert's value (or threshold, `key`) as text: in the metric's unit for a level rule, as a duration
    for a silence rule (its value is the time without data, never a reading)."""
    value = alert.get(key)
    if value is None or value != value:
        return DASH
    if alert.get("condition") in SILENCE_CONDITIONS:
        return format_duration(float(value), lang)
    metric = config.metrics.get(rule_metric(alert.get("rule") or "", alert.get("metric")) or "")
    unit = metric.unit_text(lang) if metric else ""
    return format_value(float(value), unit, lang)
