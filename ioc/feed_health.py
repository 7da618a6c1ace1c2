"""Feed health as data: per feed, its state, last success, last error and rates.

States: ok; late (nothing within `stale_after`); failing (the latest fetch or connection failed, or most
of the feed's messages over the last minute were rejected); disabled; waiting (started, nothing yet,
still within `stale_after`). A rejected message is counted, never a verdict on its own: anyone who
can publish on a feed's topic could otherwise flip it with one spoofed message. A transition is
logged once — on failure and on recovery — and the whole table is written to `feed_health` for
/feeds and the alert engine.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from psycopg_pool import ConnectionPool

from ioc.config import FeedSpec

log = logging.getLogger(__name__)

RATE_WINDOW = timedelta(minutes=1)
# A feed is failing when, within RATE_WINDOW, at least REJECT_MIN messages were wholly rejected and they
# are at least REJECT_RATIO of its messages.
REJECT_MIN, REJECT_RATIO = 10, 0.5


@dataclass
class Tally:
    """One second of a feed's traffic."""

    second: datetime
    readings: int = 0
    dead_letters: int = 0
    accepted: int = 0  # messages with at least one reading stored
    rejected: int = 0  # messages with none


@dataclass
class FeedStatus:
    name: str
    stale_after: timedelta
    state: str
    since: datetime
    last_success: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_failure_at: datetime | None = None  # the fetch or connection failed (not a rejected message)
    recent: deque[Tally] = field(default_factory=deque)  # one per second: bounded by RATE_WINDOW

    def tally(self, now: datetime) -> Tally:
        second = now.replace(microsecond=0)
        if not self.recent or self.recent[-1].second != second:
            self.recent.append(Tally(second))
            self._prune(now)
        return self.recent[-1]

    def _prune(self, now: datetime) -> None:
        while self.recent and self.recent[0].second < now - RATE_WINDOW:
            self.recent.popleft()

    def rates(self, now: datetime) -> tuple[float, float]:
        self._prune(now)
        return float(sum(t.readings for t in self.recent)), float(sum(t.dead_letters for t in self.recent))

    def mostly_rejected(self, now: datetime) -> bool:
        self._prune(now)
        rejected = sum(t.rejected for t in self.recent)
        return rejected >= REJECT_MIN and rejected >= REJECT_RATIO * (rejected + sum(t.accepted for t in self.recent))


class FeedHealth:
    def __init__(self, feeds: list[FeedSpec], clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.clock = clock
        now = clock()
        self.feeds = {f.name: FeedStatus(f.name, f.stale_after, "waiting" if f.enabled else "disabled", now)
                      for f in feeds}
        self._lock = threading.Lock()

    def success(self, feed: str, readings: int, dead_letters: int = 0) -> None:
        now = self.clock()
        with self._lock:
            status = self.feeds[feed]
            status.last_success = now
            tally = status.tally(now)
            tally.readings += readings
            tally.dead_letters += dead_letters
            tally.accepted += 1
            if status.state == "ok":
                return  # the hot path: a healthy feed stays healthy, nothing to re-evaluate
        self.evaluate(now, only=feed)

    def failure(self, feed: str, reason: str) -> None:
        """The feed's transport failed (a fetch, a connection): failing until the next success."""
        now = self.clock()
        with self._lock:
            status = self.feeds[feed]
            status.last_error, status.last_error_at, status.last_failure_at = reason, now, now
        self.evaluate(now, only=feed)

    def rejected(self, feed: str, reason: str, dead_letters: int = 0) -> None:
        """A message of the feed arrived and nothing in it could be stored: counted, judged by ratio."""
        now = self.clock()
        with self._lock:
            status = self.feeds[feed]
            status.last_error, status.last_error_at = reason, now
            tally = status.tally(now)
            tally.dead_letters += dead_letters
            tally.rejected += 1
        self.evaluate(now, only=feed)

    def _state(self, status: FeedStatus, now: datetime) -> str:
        if status.state == "disabled":
            return "disabled"
        if status.last_failure_at and (status.last_success is None or status.last_failure_at > status.last_success):
            return "failing"
        if status.mostly_rejected(now):
            return "failing"
        reference = status.last_success or status.since
        if now - reference > status.stale_after:
            return "late"
        return "ok" if status.last_success else "waiting"

    def evaluate(self, now: datetime | None = None, only: str | None = None) -> list[tuple[str, str, str]]:
        """Recompute states; returns (feed, old, new) for each change, each logged once."""
        now = now or self.clock()
        changes = []
        with self._lock:
            for status in ([self.feeds[only]] if only else self.feeds.values()):
                new = self._state(status, now)
                if new != status.state:
                    changes.append((status.name, status.state, new))
                    status.state, status.since = new, now
        for name, old, new in changes:
            if new in ("failing", "late"):
                detail = f": {self.feeds[name].last_error}" if new == "failing" else ""
                log.warning("feed %s is %s (was %s)%s", name, new, old, detail)
            else:
                log.info("feed %s is %s (was %s)", name, new, old)
        return changes

    def snapshot(self, now: datetime | None = None) -> list[dict]:
        now = now or self.clock()
        with self._lock:
            rows = []
            for s in self.feeds.values():
                readings, dead = s.rates(now)
                rows.append({"feed": s.name, "state": s.state, "since": s.since, "last_success": s.last_success,
                             "last_error": s.last_error, "last_error_at": s.last_error_at,
                             "readings_per_min": readings, "dead_letters_per_min": dead, "updated": now})
            return rows

    def persist(self, pool: ConnectionPool, prune: bool = False) -> None:
        """Write every feed's row; with prune, also forget feeds no longer configured (at start-up)."""
        self.evaluate()
        rows = self.snapshot()
        with pool.connection() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO feed_health (feed, state, since, last_success, last_error, last_error_at, "
                "readings_per_min, dead_letters_per_min, updated) VALUES (%(feed)s, %(state)s, %(since)s, "
                "%(last_success)s, %(last_error)s, %(last_error_at)s, %(readings_per_min)s, "
                "%(dead_letters_per_min)s, %(updated)s) ON CONFLICT (feed) DO UPDATE SET state = excluded.state, "
                "since = excluded.since, last_success = excluded.last_success, last_error = excluded.last_error, "
                "last_error_at = excluded.last_error_at, readings_per_min = excluded.readings_per_min, "
                "dead_letters_per_min = excluded.dead_letters_per_min, updated = excluded.updated", rows)
            if prune:
                cur.execute("DELETE FROM feed_health WHERE NOT (feed = ANY(%s))", ([r["feed"] for r in rows],))
