"""The one renderer of alert text: the engine's event messages, the wall's lines, the e-mails.

Wording comes from ioc/i18n.py (Vietnamese and English), names from the config (the region, domains,
metrics, entities). A rule's own `message` is data written by a person, never a format string: it
may name fields from `FIELDS` in braces (`{subject}`), checked when the rule is saved
(`template_problem`), and is filled by plain substitution (`fill`), so no text can reach attributes,
indexes or format specs, and an unknown field can only be shown as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ioc.alerts.conditions import CONDITIONS
from ioc.config import Config
from ioc.i18n import format_number, format_time, format_value, t

FIELDS = ("subject", "metric", "unit", "value", "threshold", "area")
_FIELD = re.compile(r"\{([^{}]*)\}")
NO_DOMAIN = "none"


def template_problem(text: str) -> tuple[str, dict[str, str]] | None:
    """(i18n key, params) saying why `text` is not a valid rule message; None when it is."""
    for match in _FIELD.finditer(text):
        if match.group(1) not in FIELDS:
            return "action.rule_message_field", {"field": match.group(0), "fields": ", ".join(
                "{" + f + "}" for f in FIELDS)}
    if "{" in _FIELD.sub("", text) or "}" in _FIELD.sub("", text):
        return "action.rule_message_brace", {"example": "{subject}"}
    return None


def fill(template: str, fields: dict[str, str]) -> str:
    """The template with each known `{field}` replaced; anything else is left as written."""
    return _FIELD.sub(lambda m: fields.get(m.group(1), m.group(0)), template)


@dataclass(frozen=True)
class Facts:
    """What one alert is about, as the engine and the alerts table know it."""

    condition: str
    rule: str
    subject: str
    metric: str | None = None
    area: str | None = None
    value: float | None = None
    threshold: float | None = None
    message: dict[str, str] | None = None  # the rule's own text, by language


class AlertText:
    def __init__(self, config: Config | None):
        self.config = config

    # -- names
    def subject(self, subject: str, lang: str) -> str:
        entity = self.config.entities.get(subject) if self.config else None
        return entity.name.get(lang) if entity else subject

    def area(self, area: str | None, lang: str) -> str:
        found = self.config.areas.get(area) if self.config and area else None
        return found[0].name.get(lang) if found else (area or "")

    def domain(self, domain: str | None, lang: str) -> str:
        found = self.config.domains.get(domain) if self.config and domain else None
        return found.name.get(lang) if found else (domain or NO_DOMAIN)

    def metric(self, facts: Facts, lang: str) -> tuple[str, str]:
        """(label, unit) of the alert's metric; the rule's name and no unit without one."""
        metric = self.config.metrics.get(facts.metric or "") if self.config else None
        return (metric.label.get(lang), metric.unit_text(lang)) if metric else (facts.rule, "")

    def region(self, lang: str) -> str:
        return self.config.region.region.name.get(lang) if self.config else ""

    # -- texts
    def sentence(self, facts: Facts, lang: str) -> str:
        """The alert in one sentence (the event's message): the rule's own text, else its condition's."""
        label, unit = self.metric(facts, lang)
        fields = {"subject": self.subject(facts.subject, lang), "metric": label, "unit": unit,
                  "value": "—" if facts.value is None else f"{facts.value:g}",
                  "threshold": "—" if facts.threshold is None else f"{facts.threshold:g}",
                  "area": self.area(facts.area, lang)}
        if facts.message:
            return fill(facts.message.get(lang) or facts.message.get("vi", ""), fields)
        return t(CONDITIONS[facts.condition].text_key, lang, **fields)

    def headline(self, facts: Facts, lang: str) -> tuple[str, str]:
        """(what: the metric with value and threshold, where: subject · area) for a line on the wall."""
        condition = CONDITIONS[facts.condition]
        if condition.watches == "feed":
            return t(condition.text_key, lang, subject=facts.subject), ""
        label, unit = self.metric(facts, lang)
        if condition.watches == "silence":
            label = f"{label}: {t('alert.nodata', lang)}"  # its value is a time without data, not the metric's
        elif facts.value is not None and condition.plots_value:
            value = t("wall.alerts.value", lang, value=format_value(facts.value, unit, lang),
                      threshold=t("alert.threshold", lang), limit=format_number(facts.threshold, lang))
            label = f"{label}: {value}"
        where = " · ".join(x for x in (self.subject(facts.subject, lang), self.area(facts.area, lang)) if x)
        return label, where

    def mail_subject(self, prefix: str, count: int, domain: str | None) -> str:
        return f"{prefix} {t('alert.mail.subject', 'vi', n=count, domain=domain or NO_DOMAIN)}".strip()

    def mail_body(self, events: list, severity: str, domain: str | None, tz: str) -> str:
        """Vietnamese first, then English: a heading, then one line and one detail line per event."""
        parts = []
        for lang in ("vi", "en"):
            lines = [t("alert.mail.heading", lang, title=f"IOC {self.region(lang)}".strip(), n=len(events),
                       domain=domain or NO_DOMAIN, severity=t(f"status.{severity}", lang)), ""]
            for i, e in enumerate(events, 1):
                text = e.message_vi if lang == "vi" else e.message_en
                name = e.subject_name_vi if lang == "vi" else e.subject_name_en
                lines.append(f"{i}. [{t(f'status.{e.severity}', lang)} · {t(f'alert.kind.{e.kind}', lang)}] "
                             f"{format_time(e.at, lang, tz)} – {text}")
                detail = [f"{t('alert.mail.subject_label', lang)}: {name or e.subject}"]
                if e.area:
                    detail.append(f"{t('alert.mail.area', lang)}: {e.area}")
                if e.value is not None:
                    detail.append(f"{t('alert.mail.value', lang)}: {format_number(e.value, lang)}")
                if e.threshold is not None:
                    detail.append(f"{t('alert.mail.threshold', lang)}: {format_number(e.threshold, lang)}")
                detail.append(f"{t('alert.mail.id', lang)}: {e.alert_id}")
                lines.append("   " + " · ".join(detail))
            parts.append("\n".join(lines))
        zone = f"{t('alert.mail.zone', 'vi', tz=tz)} / {t('alert.mail.zone', 'en', tz=tz)}"
        return f"\n\n{'-' * 60}\n\n".join(parts) + f"\n\n{zone}\n"
