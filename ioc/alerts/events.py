"""What the alert engine tells the notification pipeline: one event per transition worth telling."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

EventKind = Literal["firing", "escalated", "resolved", "repeat"]


@dataclass(frozen=True)
class AlertEvent:
    kind: EventKind
    alert_id: int
    rule: str
    subject: str               # an entity id, or a feed name for "feed silent" rules
    subject_name_vi: str
    subject_name_en: str
    domain: str | None
    area: str | None
    severity: Literal["warning", "critical"]
    value: float | None
    threshold: float | None
    at: datetime               # UTC
    message_vi: str
    message_en: str
    labels: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict:
        """The webhook / MQTT body (times in ISO 8601 UTC)."""
        return {"kind": self.kind, "alert_id": self.alert_id, "rule": self.rule, "subject": self.subject,
                "subject_name": {"vi": self.subject_name_vi, "en": self.subject_name_en},
                "domain": self.domain, "area": self.area, "severity": self.severity, "value": self.value,
                "threshold": self.threshold, "at": self.at.isoformat(),
                "message": {"vi": self.message_vi, "en": self.message_en}, "labels": self.labels}
