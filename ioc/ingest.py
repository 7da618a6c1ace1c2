"""Ingest: validate what a parser produced against the catalog, then hand it to the batch writer.

Every source goes through `Ingestor.ingest`, so the rules for a valid reading live in one place:
known entity and metric, the metric belongs to the entity's kind and the source's domain, a finite
value inside the metric's valid range, a time neither in the future nor older than retention.
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from feeds.base import Parsed, ParseError, Parser
from feeds.base import excerpt as make_excerpt
from ioc.config import Config
from ioc.feed_health import FeedHealth
from ioc.models import DeadLetter, Reading
from ioc.writer import Batch, BatchWriter


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class IngestResult:
    accepted: int = 0
    rejected: list[str] = field(default_factory=list)


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
        kind = self.entities.get(r.entity)
        if kind is None:
            return f"unknown entity '{make_excerpt(r.entity, 64)}'"
        metric = self.metrics.get(r.metric)
        if metric is None:
            return f"unknown metric '{make_excerpt(r.metric, 64)}'"
        if domain is not None and kind.domain != domain:
            return f"domain mismatch: entity '{r.entity}' is in '{kind.domain}', the source says " \
                   f"'{make_excerpt(domain, 64)}'"
        if r.metric not in kind.metrics:
            return f"metric '{r.metric}' is not reported by entities of kind '{kind.key}'"
        if not math.isfinite(r.value):
            return f"value of '{r.metric}' is not finite ({r.value})"
        low, high = metric.valid_range
        if not low <= r.value <= high:
            return f"value {r.value:g} of '{r.metric}' is outside its valid range [{low:g}, {high:g}]"
        if r.ts > now + self.future:
            return f"time {r.ts.isoformat()} is more than {self.future} in the future"
        if r.ts < now - self.retention:
            return f"time {r.ts.isoformat()} is older than the retention of {self.retention.days} days"
        return None


class Ingestor:
    def __init__(self, config: Config, writer: BatchWriter, clock: Callable[[], datetime] = utcnow,
                 health: FeedHealth | None = None):
        self.validator = Validator(config, clock)
        self.writer = writer
        self.health = health
        self.clock = clock
        self.max_payload = config.settings.ingest.max_payload_bytes
        self.accepted = 0
        self.rejected: Counter[str] = Counter()  # by source kind of problem, for /healthz and /metrics

    def ingest(self, source: str, payload: bytes, parser: Parser,
               on_commit: Callable[[], None] | None = None, feed: str | None = None) -> IngestResult:
        now = self.clock()
        if len(payload) > self.max_payload:
            parsed = Parsed()
            dead = [DeadLetter(source, f"payload too large: {len(payload)} bytes > {self.max_payload}",
                               make_excerpt(payload[:1024]), now)]
        else:
            try:
                parsed = parser(source, payload)
            except Exception as exc:  # a parser bug must cost one dead letter, not the consumer
                parsed = Parsed()
                parsed.errors.append(ParseError(f"parser error: {type(exc).__name__}: {exc}",
                                                make_excerpt(payload)))
            dead = [DeadLetter(source, e.reason, e.excerpt, now) for e in parsed.errors]
        readings, invalid = self.validator.valid(parsed.readings, parsed.domain, now)
        for r in invalid:
            reason = self.validator.check(r, parsed.domain, now)
            if reason is None:  # never expected (both say the same); never drop a reading for it
                readings.append(r)
            else:
                dead.append(DeadLetter(source, reason, make_excerpt(json.dumps(
                    {"entity": r.entity, "metric": r.metric, "ts": r.ts.isoformat(), "value": r.value},
                    ensure_ascii=False)), now))
        self.writer.submit(Batch(readings, dead, on_commit, feed))
        if feed is not None and self.health is not None:
            if readings:
                self.health.success(feed, len(readings), len(dead))
            else:
                self.health.failure(feed, dead[0].reason if dead else "no readings", len(dead))
        self.accepted += len(readings)
        for d in dead:
            self.rejected[d.reason.split(":")[0].split(" '")[0]] += 1
        return IngestResult(len(readings), [d.reason for d in dead])
