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

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ioc.alerts.channels import SENDERS, Message, _Sender
from ioc.alerts.events import AlertEvent
from ioc.alerts.notify_settings import NotifySettings
from ioc.alerts.text import AlertText
from ioc.config import MqttSettings

if TYPE_CHECKING:
    from ioc.transports.mqtt import BrokerAddress

log = logging.getLogger(__name__)

DEDUP_MEMORY = 100_000   # (alert_id, kind, at) keys remembered for dedup
IDLE_POLL = 0.1          # seconds: how often the worker re-reads the clock while a group is pending


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
                 clock: Callable[[], float] = time.monotonic, text: AlertText | None = None):
        if mqtt is None and any(c.type == "mqtt" for c in settings.channels):
            raise ValueError("an MQTT notification channel is configured but no MQTT broker was given")
        self.settings = settings
        self.silenced = silenced
        self.clock = clock
        self.text = text or AlertText(None)  # the e-mails' wording (names from the config it was given)
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
                sender.queue.put(Message(key[0], key[1], tuple(group.events), created))
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

    def _message_done(self, sender: _Sender) -> None:
        with self._lock:
            sender.pending -= 1
            self._idle.notify_all()
