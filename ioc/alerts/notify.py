"""Notifications: the Alertmanager pipeline between the alert engine and the outside world.

    submit(event) → [worker] silenced? → dedup → route → group → [one sender per channel] send with retry

* **Silence** — the `silenced(event)` hook is consulted first; a silenced event is dropped and
  counted (`dropped_silenced` on every channel it would have gone to). A hook that raises does not
  silence (an operations center would rather over-notify than lose an alert).
* **Dedup** — an event identical in (alert_id, kind, at) to one already accepted is dropped, so an
  engine that re-emits after a restart or a retry does not notify twice.
* **Route** — a channel takes an event when its `domains` (None = all; an event without domain is
  matched as "none"), `min_severity` and `kinds` all match.
* **Group** — the group key is **(channel, domain)**: a storm in one domain becomes one message per
  channel, whatever the mix of severities and kinds (the message carries its highest severity). The
  first event of an idle group waits `group_wait` for others; two messages of the same group are at
  least `group_interval` apart; everything pending in the group goes out in ONE message.
* **Send** — each channel has its own thread and queue, so a slow or dead endpoint delays only its
  own channel. Temporary failures (HTTP 5xx/408/429, connection errors, timeouts, SMTP 4xx) are
  retried `retries` times with exponential backoff from `retry_backoff`; permanent ones (HTTP 4xx,
  SMTP 5xx, a missing password variable) are not. A failure is logged once when a channel goes from
  working to failing, and once when it recovers; every outcome is counted in `stats`.

`repeat_interval` is only carried here: the engine emits the "repeat" events itself.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import smtplib
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from ioc.alerts.events import AlertEvent, EventKind
from ioc.config import Duration, MqttSettings, SmtpSettings, Strict
from ioc.i18n import format_number, format_time, t

if TYPE_CHECKING:
    from ioc.mqtt import BrokerAddress

log = logging.getLogger(__name__)

Severity = Literal["warning", "critical"]
SEVERITY_RANK: dict[str, int] = {"warning": 1, "critical": 2}
ALL_KINDS: tuple[EventKind, ...] = ("firing", "escalated", "resolved", "repeat")
NO_DOMAIN = "none"
MAX_BACKOFF = 300.0      # seconds: the longest pause between two attempts
DEDUP_MEMORY = 100_000   # (alert_id, kind, at) keys remembered for dedup
IDLE_POLL = 0.1          # seconds: how often the worker re-reads the clock while a group is pending


# --- settings (config/alerts.yaml, key `notify:`) -------------------------------------------------

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


# --- messages ----------------------------------------------------------------------------------

KIND_WORDS = {"firing": {"vi": "Mới", "en": "New"}, "escalated": {"vi": "Nâng mức", "en": "Escalated"},
              "resolved": {"vi": "Đã hết", "en": "Resolved"}, "repeat": {"vi": "Nhắc lại", "en": "Reminder"}}
SEVERITY_WORDS = {"warning": {"vi": "Cảnh báo", "en": "Warning"}, "critical": {"vi": "Nguy hiểm", "en": "Critical"}}


@dataclass(frozen=True)
class Batch:
    """One message: the events of one group, sent together."""

    channel: str
    domain: str | None
    events: tuple[AlertEvent, ...]
    created: datetime

    @property
    def severity(self) -> str:
        return max((e.severity for e in self.events), key=SEVERITY_RANK.__getitem__)

    def group_json(self) -> dict[str, Any]:
        kinds: dict[str, int] = {}
        for e in self.events:
            kinds[e.kind] = kinds.get(e.kind, 0) + 1
        return {"channel": self.channel, "key": f"{self.channel}/{self.domain or NO_DOMAIN}",
                "domain": self.domain, "severity": self.severity, "count": len(self.events),
                "kinds": kinds, "sent_at": self.created.isoformat()}

    def payload(self) -> bytes:
        return json.dumps({"group": self.group_json(), "events": [e.as_json() for e in self.events]},
                          ensure_ascii=False).encode()


def _safe_level(text: str) -> str:
    """A domain as one MQTT topic level."""
    return "".join("_" if ch in "/+#" else ch for ch in text) or NO_DOMAIN


def mqtt_topic(prefix: str, batch: Batch) -> str:
    return f"{prefix}/{_safe_level(batch.domain or NO_DOMAIN)}/{batch.severity}"


def email_subject(channel: EmailChannel, batch: Batch) -> str:
    return f"{channel.subject_prefix} {len(batch.events)} cảnh báo – {batch.domain or NO_DOMAIN}".strip()


def email_body(batch: Batch, tz: str) -> str:
    parts = []
    heads = {"vi": "{app} – {n} cảnh báo, lĩnh vực {d} (mức cao nhất: {s})",
             "en": "{app} – {n} alert(s), domain {d} (highest level: {s})"}
    labels = {"vi": ("Đối tượng", "Khu vực", "Giá trị", "Ngưỡng", "Mã cảnh báo"),
              "en": ("Subject", "Area", "Value", "Threshold", "Alert id")}
    for lang in ("vi", "en"):
        lines = [heads[lang].format(app=t("app.title", lang), n=len(batch.events), d=batch.domain or NO_DOMAIN,
                                    s=SEVERITY_WORDS[batch.severity][lang]), ""]
        subject_l, area_l, value_l, threshold_l, id_l = labels[lang]
        for i, e in enumerate(batch.events, 1):
            message = e.message_vi if lang == "vi" else e.message_en
            name = e.subject_name_vi if lang == "vi" else e.subject_name_en
            lines.append(f"{i}. [{SEVERITY_WORDS[e.severity][lang]} · {KIND_WORDS[e.kind][lang]}] "
                         f"{format_time(e.at, lang, tz)} – {message}")
            detail = [f"{subject_l}: {name or e.subject}"]
            if e.area:
                detail.append(f"{area_l}: {e.area}")
            if e.value is not None:
                detail.append(f"{value_l}: {format_number(e.value, lang)}")
            if e.threshold is not None:
                detail.append(f"{threshold_l}: {format_number(e.threshold, lang)}")
            detail.append(f"{id_l}: {e.alert_id}")
            lines.append("   " + " · ".join(detail))
        parts.append("\n".join(lines))
    zone = {"vi": f"Giờ theo múi {tz}.", "en": f"Times in {tz}."}
    return f"\n\n{'-' * 60}\n\n".join(parts) + f"\n\n{zone['vi']} / {zone['en']}\n"


# --- delivery ----------------------------------------------------------------------------------

class PermanentError(Exception):
    """A failure that another attempt would not fix (HTTP 4xx, SMTP 5xx, configuration)."""


class _Sender:
    """One channel: a queue of batches, a thread, the delivery and its counters."""

    def __init__(self, notifier: Notifier, channel: _Routing):
        self.notifier = notifier
        self.channel = channel
        self.queue: queue.Queue[Batch | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name=f"notify-{channel.name}", daemon=True)
        self.ok = True  # last delivery succeeded (for log-once-per-change)
        self.pending = 0  # batches queued or in flight (guarded by the notifier's lock)

    # -- the thread
    def _run(self) -> None:
        self.prepare()
        while (batch := self.queue.get()) is not None:
            try:
                self._deliver(batch)
            except Exception:  # a bug here must not stop the channel
                log.exception("notification channel %s: unexpected error", self.channel.name)
                self.notifier._count(self.channel.name, "failed")
            finally:
                self.notifier._batch_done(self)
        self.close()

    def _deliver(self, batch: Batch) -> None:
        name, stop = self.channel.name, self.notifier._abort
        attempt = self.attempt_for(batch)
        for n in range(self.channel.retries + 1):
            try:
                attempt()
            except PermanentError as exc:
                return self._failed(batch, exc, permanent=True)
            except Exception as exc:  # temporary: connection, timeout, 5xx
                if n == self.channel.retries:
                    return self._failed(batch, exc, permanent=False)
                delay = min(self.channel.retry_backoff.total_seconds() * 2 ** n, MAX_BACKOFF)
                log.debug("notification channel %s: attempt %d failed (%s); retrying in %.2fs",
                          name, n + 1, exc, delay)
                self.notifier._count(name, "retries")
                if stop.wait(delay):
                    return self._failed(batch, exc, permanent=False)
            else:
                self.notifier._count(name, "sent")
                self.notifier._count(name, "events", len(batch.events))
                if not self.ok:
                    log.info("notification channel %s works again", name)
                    self.ok = True
                return None
        return None

    def _failed(self, batch: Batch, exc: BaseException, permanent: bool) -> None:
        self.notifier._count(self.channel.name, "failed")
        self.notifier._count(self.channel.name, "events_failed", len(batch.events))
        why = "not retried" if permanent else f"after {self.channel.retries + 1} attempt(s)"
        if self.ok:
            log.error("notification channel %s failed (%s): %s; %d event(s) of %s not delivered",
                      self.channel.name, why, exc, len(batch.events), batch.domain or NO_DOMAIN)
            self.ok = False
        else:
            log.debug("notification channel %s still failing (%s): %s", self.channel.name, why, exc)

    # -- per channel type
    def prepare(self) -> None:
        pass

    def close(self) -> None:
        pass

    def attempt_for(self, batch: Batch) -> Callable[[], None]:
        raise NotImplementedError


class _WebhookSender(_Sender):
    channel: WebhookChannel

    def attempt_for(self, batch: Batch) -> Callable[[], None]:
        body = batch.payload()

        def attempt() -> None:
            request = urllib.request.Request(
                self.channel.url, data=body, method="POST",
                headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "ioc-notify/1"})
            try:
                with urllib.request.urlopen(request, timeout=self.channel.timeout.total_seconds()) as answer:
                    answer.read()
            except urllib.error.HTTPError as exc:
                exc.close()
                if exc.code >= 500 or exc.code in (408, 429):
                    raise ConnectionError(f"HTTP {exc.code}") from None
                raise PermanentError(f"HTTP {exc.code}") from None

        return attempt


class _MqttSender(_Sender):
    channel: MqttChannel

    def __init__(self, notifier: Notifier, channel: MqttChannel):
        super().__init__(notifier, channel)
        from ioc.mqtt import Publisher  # paho only when an MQTT channel exists

        address, settings = notifier._mqtt
        self.address = address
        self.publisher = Publisher(address, settings)
        self.started = False

    def _connect(self) -> None:
        if self.started:
            if not self.publisher.client.is_connected():
                raise ConnectionError(f"not connected to MQTT broker {self.address}")
            return
        try:
            self.publisher.connect(timeout=self.channel.timeout.total_seconds())
        except TimeoutError:
            self.started = True  # the network loop runs and keeps reconnecting on its own
            raise
        self.started = True

    def prepare(self) -> None:
        try:
            self._connect()
        except Exception as exc:  # the first delivery tries again
            log.warning("notification channel %s: MQTT broker %s not reachable yet: %s",
                        self.channel.name, self.address, exc)

    def close(self) -> None:
        if self.started:
            self.publisher.client.disconnect()
            self.publisher.client.loop_stop()

    def attempt_for(self, batch: Batch) -> Callable[[], None]:
        topic, body = mqtt_topic(self.channel.topic_prefix, batch), batch.payload()
        sent: list = []  # the publication in flight: a retry waits for it instead of publishing again

        def attempt() -> None:
            if not sent:
                self._connect()
                info = self.publisher.client.publish(topic, body, qos=self.channel.qos, retain=self.channel.retain)
                if info.rc != 0:  # not even queued
                    raise ConnectionError(f"MQTT publish to {topic} failed (rc={info.rc})")
                sent.append(info)
            info = sent[0]
            info.wait_for_publish(timeout=self.channel.timeout.total_seconds())
            if not info.is_published():
                raise TimeoutError(f"MQTT broker {self.address} did not acknowledge the message on {topic}")

        return attempt


class _EmailSender(_Sender):
    channel: EmailChannel

    def prepare(self) -> None:
        for var in (self.channel.username_env, self.channel.password_env):
            if var and var not in os.environ:
                log.warning("notification channel %s: environment variable %s is not set",
                            self.channel.name, var)

    def message(self, batch: Batch) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = email_subject(self.channel, batch)
        mail["From"] = self.channel.sender
        mail["To"] = ", ".join(self.channel.recipients)
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(domain=self.channel.sender.rsplit("@", 1)[-1])
        mail.set_content(email_body(batch, self.notifier.settings.timezone), charset="utf-8")
        return mail

    def attempt_for(self, batch: Batch) -> Callable[[], None]:
        mail, ch = self.message(batch), self.channel
        return lambda: send_mail(ch, mail)


def send_mail(relay: SmtpSettings, mail: EmailMessage) -> None:
    """Deliver one message through the relay (alert e-mails, the daily brief). Raises PermanentError for
    what another attempt would not fix (SMTP 5xx, refused recipients, missing credentials), and
    ConnectionError/OSError for what it might."""
    user = password = None
    if relay.username_env:
        user = os.environ.get(relay.username_env)
        password = os.environ.get(relay.password_env) if relay.password_env else None
        if user is None or (relay.password_env and password is None):
            raise PermanentError(f"environment variable {relay.username_env} or {relay.password_env} not set")
    timeout = relay.timeout.total_seconds()
    context = ssl.create_default_context()
    try:
        smtp = (smtplib.SMTP_SSL(relay.host, relay.port, timeout=timeout, context=context) if relay.ssl
                else smtplib.SMTP(relay.host, relay.port, timeout=timeout))
        with smtp:
            if relay.starttls:
                smtp.starttls(context=context)
            if user is not None:
                smtp.login(user, password or "")
            smtp.send_message(mail, from_addr=relay.sender, to_addrs=relay.recipients)
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentError(f"SMTP refused every recipient: {exc.recipients}") from None
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:
            raise ConnectionError(f"SMTP {exc.smtp_code} {exc.smtp_error!r}") from None
        raise PermanentError(f"SMTP {exc.smtp_code} {exc.smtp_error!r}") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise PermanentError(str(exc)) from None


SENDERS: dict[str, type[_Sender]] = {"webhook": _WebhookSender, "mqtt": _MqttSender, "email": _EmailSender}


# --- the pipeline -----------------------------------------------------------------------------

@dataclass
class _Group:
    events: list[AlertEvent] = field(default_factory=list)
    due: float | None = None        # when the pending events go out (clock seconds)
    last_sent: float | None = None


COUNTERS = ("sent", "events", "failed", "events_failed", "retries", "dropped_silenced")


class Notifier:
    """Takes AlertEvents from the engine (`submit`, never blocks, never raises) and delivers them.

    `mqtt` is the broker for MQTT channels (required when one is configured); `silenced` is consulted
    first for every event; `clock` (monotonic seconds) times the groups.
    """

    def __init__(self, settings: NotifySettings, mqtt: tuple[BrokerAddress, MqttSettings] | None = None,
                 silenced: Callable[[AlertEvent], bool] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        if mqtt is None and any(c.type == "mqtt" for c in settings.channels):
            raise ValueError("an MQTT notification channel is configured but no MQTT broker was given")
        self.settings = settings
        self.silenced = silenced
        self.clock = clock
        self._mqtt = mqtt
        self._wait = settings.group_wait.total_seconds()
        self._interval = settings.group_interval.total_seconds()
        self._lock = threading.Condition()
        self._idle = threading.Condition(self._lock)
        self._abort = threading.Event()
        self._inbox: deque[AlertEvent] = deque()
        self._processing = 0
        self._force = False
        self._running = False
        self._stopping = False
        self._groups: dict[tuple[str, str | None], _Group] = {}
        self._seen: OrderedDict[tuple, None] = OrderedDict()
        self._overflowing = False
        self._stats: dict[str, dict[str, int]] = {c.name: dict.fromkeys(COUNTERS, 0) for c in settings.channels}
        self.counters = dict.fromkeys(("submitted", "silenced", "duplicates", "unrouted", "overflow"), 0)
        self._senders = {c.name: SENDERS[c.type](self, c) for c in settings.channels}
        self._worker = threading.Thread(target=self._run, name="notify", daemon=True)

    # -- public API
    def start(self) -> Notifier:
        with self._lock:
            if self._running:
                return self
            self._running = True
        for sender in self._senders.values():
            sender.thread.start()
        self._worker.start()
        log.info("notifications: %d channel(s): %s", len(self._senders),
                 ", ".join(f"{c.name} ({c.type})" for c in self.settings.channels) or "none")
        return self

    def submit(self, event: AlertEvent) -> None:
        """Queue an event for the pipeline. Never blocks on delivery, never raises."""
        try:
            with self._lock:
                self.counters["submitted"] += 1
                if self._stopping or len(self._inbox) >= self.settings.queue_max:
                    self.counters["overflow"] += 1
                    if not self._overflowing and not self._stopping:
                        self._overflowing = True
                        log.error("notifications: %d events waiting; dropping new ones", len(self._inbox))
                    return
                self._inbox.append(event)
                self._lock.notify_all()
        except Exception:  # pragma: no cover - defensive: the engine thread must never see an error here
            log.exception("notifications: submit failed")

    def flush(self, timeout: float = 10.0, force: bool = False) -> bool:
        """Wait until every submitted event has been delivered (or has failed). Groups keep their
        timing unless `force`, which sends what is pending now. True when idle within `timeout`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            if force:
                self._force = True
                self._lock.notify_all()
            while not self._is_idle():
                left = deadline - time.monotonic()
                if left <= 0 or not self._running:
                    return self._is_idle()
                self._idle.wait(min(left, IDLE_POLL))
            return True

    def stop(self, timeout: float = 5.0) -> None:
        """Send what is pending (within `timeout`), then stop every thread."""
        with self._lock:
            if not self._running or self._stopping:
                return
        self.flush(timeout, force=True)
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        self._abort.set()
        self._worker.join(timeout=5)
        for sender in self._senders.values():
            sender.queue.put(None)
        for sender in self._senders.values():
            sender.thread.join(timeout=5)
        with self._lock:
            self._running = False

    @property
    def stats(self) -> dict[str, dict[str, int]]:
        """Per channel: sent (messages), events, failed (messages), events_failed, retries, dropped_silenced."""
        with self._lock:
            return {name: dict(counts) for name, counts in self._stats.items()}

    # -- the worker
    def _run(self) -> None:
        while True:
            with self._lock:
                while not (self._inbox or self._force or self._stopping):
                    due = self._next_due()
                    if due is not None and self.clock() >= due:
                        break
                    # the clock may be a test's: re-read it at least every IDLE_POLL while a group waits
                    self._lock.wait(None if due is None else max(0.0, min(due - self.clock(), IDLE_POLL)))
                if self._stopping:
                    return
                events = list(self._inbox)
                self._inbox.clear()
                self._overflowing = False
                self._processing += len(events)
            for event in events:
                try:
                    self._accept(event)
                except Exception:
                    log.exception("notifications: could not route an event of alert %s", event.alert_id)
            with self._lock:
                self._processing -= len(events)
                self._send_due(force=self._force)
                self._force = False
                self._idle.notify_all()

    def _accept(self, event: AlertEvent) -> None:
        channels = [c for c in self.settings.channels if c.matches(event)]
        if self.silenced is not None:
            try:
                silent = bool(self.silenced(event))
            except Exception:
                log.exception("notifications: the silence check failed; notifying anyway")
                silent = False
            if silent:
                with self._lock:
                    self.counters["silenced"] += 1
                    for c in channels:
                        self._stats[c.name]["dropped_silenced"] += 1
                return
        key = (event.alert_id, event.kind, event.at)
        now = self.clock()
        with self._lock:
            if key in self._seen:
                self.counters["duplicates"] += 1
                return
            self._seen[key] = None
            if len(self._seen) > DEDUP_MEMORY:
                self._seen.popitem(last=False)
            if not channels:
                self.counters["unrouted"] += 1
            for c in channels:
                group = self._groups.setdefault((c.name, event.domain), _Group())
                group.events.append(event)
                if group.due is None:
                    group.due = now + self._wait
                    if group.last_sent is not None:
                        group.due = max(group.due, group.last_sent + self._interval)

    def _next_due(self) -> float | None:
        return min((g.due for g in self._groups.values() if g.due is not None), default=None)

    def _send_due(self, force: bool) -> None:
        """Hand every group that is due to its channel (called with the lock held)."""
        now = self.clock()
        created = datetime.now(UTC)
        for key, group in list(self._groups.items()):
            if group.due is not None and (force or now >= group.due):
                sender = self._senders[key[0]]
                sender.pending += 1
                sender.queue.put(Batch(key[0], key[1], tuple(group.events), created))
                group.events, group.due, group.last_sent = [], None, now
            elif group.due is None and (group.last_sent is None or now - group.last_sent > self._interval):
                del self._groups[key]  # idle past its interval: forget it

    def _is_idle(self) -> bool:
        return (not self._inbox and not self._processing and not self._force
                and all(g.due is None for g in self._groups.values())
                and all(s.pending == 0 for s in self._senders.values()))

    def _count(self, channel: str, counter: str, n: int = 1) -> None:
        with self._lock:
            self._stats[channel][counter] += n

    def _batch_done(self, sender: _Sender) -> None:
        with self._lock:
            sender.pending -= 1
            self._idle.notify_all()
