"""Ingest: validate what a parser produced against the catalog, then hand it to the batch writer.

Every source goes through `Ingestor.ingest`, so the rules for a valid reading live in one place:
known entity and metric, the metric belongs to the entity's kind and the source's domain, a finite
value inside the metric's valid range, a time neither in the future nor older than retention.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ioc.config import Config
from ioc.feed_health import FeedHealth
from ioc.models import Batch, BatchSink, DeadLetter, Reading
from ioc.transports.contract import Parsed, Parser
from ioc.transports.contract import excerpt as make_excerpt

# What a sender controls is bounded before it is stored or becomes a metric label.
MAX_SOURCE = 256  # characters of a topic or URL kept in a dead letter
MAX_REASON = 500
MAX_EXCERPT = 600  # an excerpt is cut at 512 characters plus a note of the full length
MAX_DEAD_PER_MESSAGE = 20  # one message cannot fill the table: the rest are counted in one summary row
DEAD_LETTER_RATE, DEAD_LETTER_BURST = 20.0, 200.0  # dead letters stored per second per feed, and in a burst
# The `reason` label of ioc_dead_letters_total: a fixed set, the text stays in the dead-letter row.
REASON_CODES = ("payload_too_large", "parser_error", "invalid_payload", "unknown_entity", "unknown_metric",
                "domain_mismatch", "out_of_scope", "wrong_kind", "not_finite", "out_of_range", "future_time", "too_old")


def cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class IngestResult:
    accepted: int = 0
    rejected: list[str] = field(default_factory=list)
    batch: Batch | None = None  # what went to the writer: after its commit, `batch.stored` says how many were new


class Validator:
    def __init__(self, config: Config, clock: Callable[[], datetime] = utcnow):
        settings = config.settings
        self.clock = clock
        self.future = settings.ingest.future_tolerance
        self.retention = settings.storage.raw_retention
        self.entities = {e.id: config.kinds[e.kind] for e in config.region.entities}
        self.metrics = config.metrics
        # What a valid reading of each (entity, metric) may look like, built once: (domain, low, high),
        # the bounds finite so that a range check also rules out ±inf (and NaN fails every comparison).
        biggest = sys.float_info.max
        self.expected = {(e.id, m): (kind.domain, max(config.metrics[m].valid_range[0], -biggest),
                                     min(config.metrics[m].valid_range[1], biggest))
                         for e in config.region.entities for kind in [config.kinds[e.kind]]
                         for m in kind.metrics if m in config.metrics}

    def valid(self, readings: list[Reading], domain: str | None, now: datetime) -> tuple[list[Reading],
                                                                                       list[Reading]]:
        """(valid, invalid): one dict lookup and a few comparisons per reading; `check` says why for the
        invalid ones."""
        expected, earliest, latest = self.expected, now - self.retention, now + self.future
        valid, invalid = [], []
        for r in readings:
            spec = expected.get((r.entity, r.metric))
            if spec is not None and (domain is None or spec[0] == domain) and spec[1] <= r.value <= spec[2] \
                    and earliest <= r.ts <= latest:
                valid.append(r)
            else:
                invalid.append(r)
        return valid, invalid

    def check(self, r: Reading, domain: str | None, now: datetime) -> str | None:
        """None when the reading is valid, else the reason it is not."""
        problem = self.problem(r, domain, now)
        return None if problem is None else problem[1]

    def problem(self, r: Reading, domain: str | None, now: datetime) -> tuple[str, str] | None:
        """None when the reading is valid, else (reason code, reason)."""
        kind = self.entities.get(r.entity)
        if kind is None:
            return "unknown_entity", f"unknown entity '{make_excerpt(r.entity, 64)}'"
        metric = self.metrics.get(r.metric)
        if metric is None:
            return "unknown_metric", f"unknown metric '{make_excerpt(r.metric, 64)}'"
        if domain is not None and kind.domain != domain:
            return "domain_mismatch", f"domain mismatch: entity '{r.entity}' is in '{kind.domain}', the source " \
                                      f"says '{make_excerpt(domain, 64)}'"
        if r.metric not in kind.metrics:
            return "wrong_kind", f"metric '{r.metric}' is not reported by entities of kind '{kind.key}'"
        if not math.isfinite(r.value):
            return "not_finite", f"value of '{r.metric}' is not finite ({r.value})"
        low, high = metric.valid_range
        if not low <= r.value <= high:
            return "out_of_range", f"value {r.value:g} of '{r.metric}' is outside its valid range " \
                                   f"[{low:g}, {high:g}]"
        if r.ts > now + self.future:
            return "future_time", f"time {r.ts.isoformat()} is more than {self.future} in the future"
        if r.ts < now - self.retention:
            return "too_old", f"time {r.ts.isoformat()} is older than the retention of {self.retention.days} days"
        return None

    def scope_problem(self, r: Reading, domain: str | None,
                      entities: Collection[str] | None) -> tuple[str, str] | None:
        """None when a source limited to `domain` (and `entities`, when listed) may write this reading, else
        (reason code, reason)."""
        if entities is not None and r.entity not in entities:
            return "out_of_scope", f"entity '{make_excerpt(r.entity, 64)}' is not one this source may write"
        kind = self.entities.get(r.entity)
        if domain is not None and kind is not None and kind.domain != domain:
            return "domain_mismatch", (f"domain mismatch: entity '{r.entity}' is in '{kind.domain}', "
                                       f"this source writes '{domain}'")
        return None


class DeadLetterLimit:
    """A token bucket per feed: a sender that floods rejections fills the dead-letter table at this rate
    at most; what is not stored is counted. Keyed by feed, never by topic, so the keys stay few."""

    def __init__(self, rate: float = DEAD_LETTER_RATE, burst: float = DEAD_LETTER_BURST,
                 clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}  # feed → (tokens, when)
        self._lock = threading.Lock()

    def take(self, key: str, wanted: int) -> int:
        """How many of `wanted` dead letters may be stored now."""
        now = self.clock()
        with self._lock:
            tokens, when = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - when) * self.rate)
            granted = min(wanted, int(tokens))
            self._buckets[key] = (tokens - granted, now)
            return granted


def _excerpt_of(r: Reading) -> str:
    return make_excerpt(json.dumps({"entity": r.entity, "metric": r.metric, "ts": r.ts.isoformat(),
                                    "value": r.value}, ensure_ascii=False))


class Ingestor:
    def __init__(self, config: Config, writer: BatchSink, clock: Callable[[], datetime] = utcnow,
                 health: FeedHealth | None = None, dead_letter_limit: DeadLetterLimit | None = None):
        self.validator = Validator(config, clock)
        self.writer = writer
        self.health = health
        self.clock = clock
        self.max_payload = config.settings.ingest.max_payload_bytes
        self.accepted = 0
        self.rejected: Counter[str] = Counter()  # by reason code (REASON_CODES), for /metrics
        self.dead_letter_limit = dead_letter_limit or DeadLetterLimit()
        self.dead_letters_dropped: Counter[str] = Counter()  # by feed: rejections counted, not stored

    def ingest(self, source: str, payload: bytes, parser: Parser,
               on_commit: Callable[[], None] | None = None, feed: str | None = None,
               domain: str | None = None, entities: Collection[str] | None = None) -> IngestResult:
        """`domain`, `entities`: what the source may write (a push token's feed); anything else is rejected."""
        now = self.clock()
        rejections: list[tuple[str, str, str]] = []  # (code, reason, excerpt)
        if len(payload) > self.max_payload:
            parsed = Parsed()
            rejections.append(("payload_too_large", f"payload too large: {len(payload)} bytes > "
                               f"{self.max_payload}", make_excerpt(payload[:1024])))
        else:
            try:
                parsed = parser(source, payload)
            except Exception as exc:  # a parser bug must cost one dead letter, not the consumer
                parsed = Parsed()
                rejections.append(("parser_error", f"parser error: {type(exc).__name__}: {exc}",
                                   make_excerpt(payload)))
            rejections.extend(("invalid_payload", e.reason, e.excerpt) for e in parsed.errors)
        # The hot path: one lookup per reading; only the refused ones are asked why.
        readings, invalid = self.validator.valid(parsed.readings, parsed.domain, now)
        for r in invalid:
            problem = self.validator.problem(r, parsed.domain, now)
            if problem is None:  # never expected (both say the same); never drop a reading for it
                readings.append(r)
            else:
                rejections.append((*problem, _excerpt_of(r)))
        if domain is not None or entities is not None:  # a push token writes only its own feed's scope
            in_scope = []
            for r in readings:
                if (problem := self.validator.scope_problem(r, domain, entities)) is None:
                    in_scope.append(r)
                else:
                    rejections.append((*problem, _excerpt_of(r)))
            readings = in_scope
        dead = self._dead_letters(source, feed, rejections, now)
        batch = Batch(readings, dead, on_commit, feed)
        self.writer.submit(batch)
        if feed is not None and self.health is not None:
            if readings:
                self.health.success(feed, len(readings), len(rejections))
            else:
                self.health.rejected(feed, cap(rejections[0][1], MAX_REASON) if rejections else "no readings",
                                     len(rejections))
        self.accepted += len(readings)
        self.rejected.update(code for code, _, _ in rejections)
        return IngestResult(len(readings), [reason for _, reason, _ in rejections], batch)

    def _dead_letters(self, source: str, feed: str | None, rejections: list[tuple[str, str, str]],
                      now: datetime) -> list[DeadLetter]:
        """The rows to store for a message's rejections: lengths capped, at most MAX_DEAD_PER_MESSAGE, and no
        more than the feed's rate allows; the rest is counted in `dead_letters_dropped`."""
        if not rejections:
            return []
        source = cap(source, MAX_SOURCE)
        rows = [DeadLetter(source, cap(reason, MAX_REASON), cap(excerpt, MAX_EXCERPT), now)
                for _, reason, excerpt in rejections[:MAX_DEAD_PER_MESSAGE - 1]]
        if len(rejections) >= MAX_DEAD_PER_MESSAGE:
            rest = len(rejections) - len(rows)
            rows.append(DeadLetter(source, f"{rest} more rejection(s) in this message, not stored one by one "
                                   f"(the first: {cap(rejections[len(rows)][1], 200)})", "", now))
        key = feed or "unrouted"
        granted = self.dead_letter_limit.take(key, len(rows))
        kept_one_by_one = min(granted, MAX_DEAD_PER_MESSAGE - 1)
        if len(rejections) > kept_one_by_one:
            self.dead_letters_dropped[key] += len(rejections) - kept_one_by_one
        return rows[:granted]
