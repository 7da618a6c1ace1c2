"""Names of the things alerts point at (subject, domain, area, metric) in the page's language.

Shared by /alerts and /wall so that an alert reads the same everywhere. Pure lookups in the config;
an unknown code is shown as it is rather than failing.
"""

from __future__ import annotations

from ioc.alerts.conditions import measures_silence
from ioc.config import Config
from ioc.i18n import DASH, format_duration, format_value


def subject_name(config: Config, subject: str | None, lang: str) -> str:
    entity = config.entities.get(subject or "")
    return entity.name.get(lang) if entity else (subject or "")


def domain_name(config: Config, domain: str | None, lang: str) -> str:
    d = config.domains.get(domain) if domain else None
    return d.name.get(lang) if d else (domain or "")


def area_name(config: Config, area: str | None, lang: str) -> str:
    a = config.areas.get(area) if area else None
    return a[0].name.get(lang) if a else (area or "")


def what(config: Config, rule: str | None, lang: str, metric: str | None = None) -> str:
    """The label of an alert's metric, or its rule's name for alerts without one (a feed's silence)."""
    m = config.metrics.get(metric or "")
    return m.label.get(lang) if m else (rule or "")


def alert_value(config: Config, alert: dict, lang: str, key: str = "value") -> str:
    """An alert's value (or threshold, `key`) as text: in the metric's unit for a level rule, as a duration
    for a silence rule (its value is the time without data, never a reading)."""
    value = alert.get(key)
    if value is None or value != value:
        return DASH
    if measures_silence(alert.get("condition")):
        return format_duration(float(value), lang)
    metric = config.metrics.get(alert.get("metric") or "")
    unit = metric.unit_text(lang) if metric else ""
    return format_value(float(value), unit, lang)
