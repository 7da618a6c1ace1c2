"""Notification settings (config/alerts.yaml, key `notify:`): the channels, which events each takes, and the
grouping times. Plain data: the rules module reads them without pulling in any delivery code."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from ioc.alerts.events import AlertEvent, EventKind
from ioc.alerts.severity import SEVERITY_RANK, Severity
from ioc.config import Duration, SmtpSettings, Strict

ALL_KINDS: tuple[EventKind, ...] = ("firing", "escalated", "resolved", "repeat")
NO_DOMAIN = "none"


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be a positive duration")
    return value


class _Routing(Strict):
    """What every channel has: a name, which events it takes, and how hard it tries."""

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$", max_length=64)
    domains: list[str] | None = None          # None: every domain; "none" matches events without domain
    min_severity: Severity = "warning"
    kinds: list[EventKind] = Field(default_factory=lambda: list(ALL_KINDS), min_length=1)
    retries: int = Field(3, ge=0, le=20)      # attempts after the first one, for temporary failures
    retry_backoff: Duration = timedelta(seconds=1)  # pause before the first retry; doubles each time

    @field_validator("retry_backoff")
    @classmethod
    def _backoff_positive(cls, value: timedelta) -> timedelta:
        return _positive(value)

    def matches(self, event: AlertEvent) -> bool:
        return ((self.domains is None or (event.domain or NO_DOMAIN) in self.domains)
                and SEVERITY_RANK[event.severity] >= SEVERITY_RANK[self.min_severity]
                and event.kind in self.kinds)


class WebhookChannel(_Routing):
    """POST `{"group": {...}, "events": [...]}` as JSON to `url`."""

    type: Literal["webhook"]
    url: str
    timeout: Duration = timedelta(seconds=10)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout_positive(cls, value: timedelta) -> timedelta:
        return _positive(value)


class MqttChannel(_Routing):
    """Publish the same JSON on `<topic_prefix>/<domain or "none">/<highest severity>`."""

    type: Literal["mqtt"]
    topic_prefix: str = Field("ioc/alerts", pattern=r"^[^#+\s]+[^#+\s/]$|^[^#+\s/]$")
    qos: Literal[0, 1, 2] = 1
    retain: bool = False
    timeout: Duration = timedelta(seconds=10)  # wait for the broker's acknowledgement

    @field_validator("timeout")
    @classmethod
    def _timeout_positive(cls, value: timedelta) -> timedelta:
        return _positive(value)


class EmailChannel(_Routing, SmtpSettings):
    """One mail per group through an SMTP relay; Vietnamese first, English second."""

    type: Literal["email"]


Channel = Annotated[WebhookChannel | MqttChannel | EmailChannel, Field(discriminator="type")]


class NotifySettings(Strict):
    group_wait: Duration = timedelta(seconds=10)       # the first event of a group waits this long for others
    group_interval: Duration = timedelta(minutes=1)    # at least this long between two messages of a group
    repeat_interval: Duration = timedelta(hours=4)     # used by the engine ("repeat" events)
    timezone: str = "Asia/Ho_Chi_Minh"                 # times in e-mails
    queue_max: int = Field(10_000, ge=10)              # events waiting for the worker; beyond, dropped
    channels: list[Channel] = []

    @field_validator("group_wait", "group_interval")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("must not be negative")
        return value

    @field_validator("repeat_interval")
    @classmethod
    def _repeat_positive(cls, value: timedelta) -> timedelta:
        return _positive(value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> NotifySettings:
        names = [c.name for c in self.channels]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"channel names must be unique: {', '.join(dupes)}")
        return self
