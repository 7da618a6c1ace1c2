"""Notification channels: what one message says (`Message`, the e-mail text, the MQTT topic) and how each
channel type delivers it (webhook, MQTT, e-mail), each on its own thread with retries."""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Any

from ioc.alerts.events import AlertEvent
from ioc.alerts.notify_settings import NO_DOMAIN, EmailChannel, MqttChannel, WebhookChannel, _Routing
from ioc.alerts.severity import SEVERITY_RANK
from ioc.mail import PermanentError, send_mail

if TYPE_CHECKING:
    from ioc.alerts.notify import Notifier

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0      # seconds: the longest pause between two attempts


# --- messages ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Message:
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


def mqtt_topic(prefix: str, message: Message) -> str:
    return f"{prefix}/{_safe_level(message.domain or NO_DOMAIN)}/{message.severity}"


# --- delivery ----------------------------------------------------------------------------------

class _Sender:
    """One channel: a queue of messages, a thread, the delivery and its counters."""

    def __init__(self, notifier: Notifier, channel: _Routing):
        self.notifier = notifier
        self.channel = channel
        self.queue: queue.Queue[Message | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name=f"notify-{channel.name}", daemon=True)
        self.ok = True  # last delivery succeeded (for log-once-per-change)
        self.pending = 0  # messages queued or in flight (guarded by the notifier's lock)

    # -- the thread
    def _run(self) -> None:
        self.prepare()
        while (message := self.queue.get()) is not None:
            try:
                self._deliver(message)
            except Exception:  # a bug here must not stop the channel
                log.exception("notification channel %s: unexpected error", self.channel.name)
                self.notifier._count(self.channel.name, "failed")
            finally:
                self.notifier._message_done(self)
        self.close()

    def _deliver(self, message: Message) -> None:
        name, stop = self.channel.name, self.notifier._abort
        attempt = self.attempt_for(message)
        for n in range(self.channel.retries + 1):
            try:
                attempt()
            except PermanentError as exc:
                return self._failed(message, exc, permanent=True)
            except Exception as exc:  # temporary: connection, timeout, 5xx
                if n == self.channel.retries:
                    return self._failed(message, exc, permanent=False)
                delay = min(self.channel.retry_backoff.total_seconds() * 2 ** n, MAX_BACKOFF)
                log.debug("notification channel %s: attempt %d failed (%s); retrying in %.2fs",
                          name, n + 1, exc, delay)
                self.notifier._count(name, "retries")
                if stop.wait(delay):
                    return self._failed(message, exc, permanent=False)
            else:
                self.notifier._count(name, "sent")
                self.notifier._count(name, "events", len(message.events))
                if not self.ok:
                    log.info("notification channel %s works again", name)
                    self.ok = True
                return None
        return None

    def _failed(self, message: Message, exc: BaseException, permanent: bool) -> None:
        self.notifier._count(self.channel.name, "failed")
        self.notifier._count(self.channel.name, "events_failed", len(message.events))
        why = "not retried" if permanent else f"after {self.channel.retries + 1} attempt(s)"
        if self.ok:
            log.error("notification channel %s failed (%s): %s; %d event(s) of %s not delivered",
                      self.channel.name, why, exc, len(message.events), message.domain or NO_DOMAIN)
            self.ok = False
        else:
            log.debug("notification channel %s still failing (%s): %s", self.channel.name, why, exc)

    # -- per channel type
    def prepare(self) -> None:
        pass

    def close(self) -> None:
        pass

    def attempt_for(self, message: Message) -> Callable[[], None]:
        raise NotImplementedError


class _WebhookSender(_Sender):
    channel: WebhookChannel

    def attempt_for(self, message: Message) -> Callable[[], None]:
        body = message.payload()

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
        from ioc.transports.mqtt import Publisher  # paho only when an MQTT channel exists

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

    def attempt_for(self, message: Message) -> Callable[[], None]:
        topic, body = mqtt_topic(self.channel.topic_prefix, message), message.payload()
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

    def mail(self, message: Message) -> EmailMessage:
        mail = EmailMessage()
        text = self.notifier.text
        mail["Subject"] = text.mail_subject(self.channel.subject_prefix, len(message.events), message.domain)
        mail["From"] = self.channel.sender
        mail["To"] = ", ".join(self.channel.recipients)
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(domain=self.channel.sender.rsplit("@", 1)[-1])
        mail.set_content(text.mail_body(list(message.events), message.severity, message.domain,
                                        self.notifier.settings.timezone), charset="utf-8")
        return mail

    def attempt_for(self, message: Message) -> Callable[[], None]:
        mail, ch = self.mail(message), self.channel
        return lambda: send_mail(ch, mail)


SENDERS: dict[str, type[_Sender]] = {"webhook": _WebhookSender, "mqtt": _MqttSender, "email": _EmailSender}
