"""The running alert engine: evaluates rules as readings are committed and on a tick, persists each
transition, and hands notifications to the notifier.

Readings arrive from the batch writer's commit listener, so a crossing reading becomes a firing alert
within a second; the tick (every second) moves `for` and `keep_firing_for` along, checks for missing
data and silent feeds. State lives in the `alerts` table and is reloaded at start: a restart neither
loses nor duplicates an alert. Only the holder of a PostgreSQL advisory lock evaluates, so several
processes can run with one engine between them.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from ioc import status
from ioc.alerts.conditions import condition_of
from ioc.alerts.engine import FlapDetector, State, Transition, step
from ioc.alerts.events import AlertEvent
from ioc.alerts.rules import Rule
from ioc.alerts.text import AlertText, Facts
from ioc.config import Config
from ioc.feed_health import FeedHealth
from ioc.models import Reading

log = logging.getLogger(__name__)

LOCK_KEY = "ioc.alerts"
NOTIFIED = ("firing", "escalated", "resolved")
NEWS_AGE = timedelta(minutes=10)  # readings older than this are history (backfills), not news


@dataclass
class Tracked:
    rule: Rule
    subject: str
    state: State
    alert_id: int | None = None
    last_notified: float = 0.0  # time.monotonic() of the last notification (repeat_interval)
    acknowledged: bool = False


class AlertService:
    def __init__(self, config: Config, pool: ConnectionPool, url: str, rules: list[Rule],
                 notify: Callable[[AlertEvent], None] | None = None, health: FeedHealth | None = None,
                 repeat_interval: timedelta = timedelta(hours=4), tick: float = 1.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), flaps: FlapDetector | None = None,
                 rules_source: Callable[[], list[Rule]] | None = None,
                 rules_version: Callable[[], object] | None = None):
        self.config, self.pool, self.url = config, pool, url
        self.rules = rules
        self.notify = notify
        self.health = health
        self.repeat_interval = repeat_interval
        self.tick = tick
        self.clock = clock
        self.flaps = flaps or FlapDetector(timedelta(hours=1), 6)
        self._rules_source, self._rules_version = rules_source, rules_version
        self._version = rules_version() if rules_version else None
        self.held: Counter[str] = Counter()  # notifications not sent: flapping (silences: the notifier's first stage)
        self.broken: dict[str, str] = {}  # rule name -> why its evaluation failed; the other rules go on
        self.text = AlertText(config)
        self._watching_since: dict[str, datetime] = {}  # nodata rules: since when (the start-up grace)
        self.leader = threading.Event()
        self.rounds = 0  # turns of the engine's loop (a test waits for one to pass instead of sleeping)
        self.ticks = 0  # ticks evaluated as the leader (a test waits for the next ones instead of sleeping)
        self.tracked: dict[tuple[str, str], Tracked] = {}
        self._by_series: dict[tuple[str, str], list[Rule]] = {}
        self._nodata: list[tuple[Rule, str]] = []
        self._feeds: list[Rule] = []
        self._queue: queue.Queue[Sequence[Reading]] = queue.Queue(maxsize=1000)
        self._overflowed = False
        self._seen: dict[tuple[str, str], datetime] = {}  # newest reading time evaluated per series
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ioc-alerts", daemon=True)
        self._lock_conn: psycopg.Connection | None = None
        self._index()

    # --- which rule watches what -------------------------------------------------------------

    def _in_scope(self, rule: Rule, entity_id: str) -> bool:
        entity, scope = self.config.entities[entity_id], rule.scope
        if scope.entity and scope.entity != entity_id or scope.kind and scope.kind != entity.kind:
            return False
        if scope.domain and scope.domain != self.config.kinds[entity.kind].domain:
            return False
        return not scope.area or scope.area in self.config.area_path(entity.area)

    def _index(self) -> None:
        for rule in self.rules:
            watches = condition_of(rule).watches
            if watches == "feed":
                self._feeds.append(rule)
                continue
            if watches == "silence":
                self._watching_since.setdefault(rule.name, self.clock())
            for entity in self.config.region.entities:
                if rule.metric in self.config.entity_metrics(entity.id) and self._in_scope(rule, entity.id):
                    if watches == "silence":
                        self._nodata.append((rule, entity.id))
                    else:
                        self._by_series.setdefault((entity.id, rule.metric), []).append(rule)

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if self._lock_conn is not None:
            self._lock_conn.close()

    def on_commit(self, readings: Sequence[Reading]) -> None:
        """Commit listener (runs in the writer thread): hand over and return at once."""
        if self._stop.is_set():
            return
        try:
            self._queue.put_nowait(readings)
        except queue.Full:
            if not self._overflowed:
                log.warning("alert queue full: the next tick re-evaluates every series from its latest value")
            self._overflowed = True

    def lag(self) -> int:
        """Committed batches waiting for evaluation (for /healthz)."""
        return self._queue.qsize()

    def alive(self) -> bool:
        """The engine's thread runs (False once started and dead: nothing is evaluated any more)."""
        return self._thread.is_alive() or self._thread.ident is None

    def behind(self) -> bool:
        """The engine cannot keep up: its queue is nearly full (and alerts will come late)."""
        return self._overflowed or self._queue.qsize() > 0.9 * self._queue.maxsize

    def _hold_lock(self) -> bool:
        try:
            if self._lock_conn is None or self._lock_conn.closed:
                self._lock_conn = psycopg.connect(self.url, autocommit=True)
                self.leader.clear()
            if not self.leader.is_set():
                got = self._lock_conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (LOCK_KEY,)).fetchone()[0]
                if got:
                    self._load()
                    self.leader.set()
                    log.info("this process evaluates alerts")
            else:
                self._lock_conn.execute("SELECT 1")
        except psycopg.Error as exc:
            log.warning("alert engine lost the database: %s", exc)
            self.leader.clear()
            self._lock_conn = None
        return self.leader.is_set()

    def _run(self) -> None:
        next_tick = 0.0
        while not self._stop.is_set():
            self.rounds += 1
            try:
                batch = self._queue.get(timeout=max(0.0, next_tick - time.monotonic()))
            except queue.Empty:
                batch = None
            ticking = time.monotonic() >= next_tick
            # The lock is checked once per tick, not per batch: leadership changes at tick granularity.
            if (ticking or not self.leader.is_set()) and not self._hold_lock():
                self._drain()
                self._stop.wait(self.tick)
                next_tick = time.monotonic() + self.tick
                continue
            try:
                if batch is not None:
                    self._evaluate_readings(batch)
                if ticking:
                    if self._overflowed:
                        self._overflowed = False
                        self._catch_up()
                    self._evaluate_tick()
                    self.ticks += 1
                    next_tick = time.monotonic() + self.tick
            except psycopg.Error as exc:
                log.warning("alert evaluation failed, retrying: %s", exc)
                self.leader.clear()
            except Exception:  # a fault outside any one rule: logged, and the next round tries again
                log.exception("alert evaluation failed")
                next_tick = time.monotonic() + self.tick

    def _drain(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    # --- evaluation -----------------------------------------------------------------------------

    def _load(self) -> None:
        rules = {r.name: r for r in self.rules}
        self.tracked.clear()
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT id, rule, subject, state, severity, pending_since, firing_since, last_active, cleared_since, "
                "value, threshold, acknowledged_at IS NOT NULL FROM alerts WHERE state IN ('pending', 'firing')")
            for (alert_id, name, subject, state, severity, pending, firing, active, cleared, value, threshold,
                 acked) in rows:
                if name in rules:
                    self.tracked[(name, subject)] = Tracked(
                        rules[name], subject, State(state, severity, pending, firing, active, cleared, value,
                                                    threshold), alert_id, time.monotonic(), acked)

    def _site(self, rule: Rule, subject: str):
        entity = self.config.entities.get(subject)
        if entity is None or rule.metric not in entity.thresholds:
            return None
        return status.levels(self.config.metrics[rule.metric], entity)  # the one judge's levels for this site

    def _track(self, rule: Rule, subject: str) -> Tracked:
        return self.tracked.setdefault((rule.name, subject), Tracked(rule, subject, State()))

    def _apply(self, conn: psycopg.Connection, tracked: Tracked, severity: str | None, value: float | None,
               threshold: float | None, now: datetime) -> None:
        new, transitions = step(tracked.rule, severity, value, threshold, now, tracked.state)
        if transitions or new != tracked.state:
            self._persist(conn, tracked, new, transitions, now)
        tracked.state = new
        if new.state == "inactive":
            self.tracked.pop((tracked.rule.name, tracked.subject), None)

    def _evaluate_readings(self, readings: Iterable[Reading]) -> None:
        now = self.clock()
        cutoff = now - NEWS_AGE
        by_series, seen = self._by_series, self._seen
        with contextlib.ExitStack() as stack:
            conn = None

            def connection() -> psycopg.Connection:  # taken only when something needs the database
                nonlocal conn
                if conn is None:
                    conn = stack.enter_context(self.pool.connection())
                return conn

            for r in readings:
                key = (r.entity, r.metric)
                rules = by_series.get(key)
                if not rules or r.ts < cutoff:
                    continue
                last = seen.get(key)
                if last is not None and r.ts <= last:
                    continue  # a late or repeated reading must not undo what a newer one said
                seen[key] = r.ts
                for rule in rules:
                    self._safely(rule, lambda rule=rule, r=r: self._evaluate_reading(rule, r, connection, now))

    def _evaluate_reading(self, rule: Rule, r: Reading, connection: Callable[[], psycopg.Connection],
                          now: datetime) -> None:
        condition = condition_of(rule)
        tracked = self.tracked.get((rule.name, r.entity)) or Tracked(rule, r.entity, State())
        before = None
        if (window := condition.history(rule)) is not None:
            before = self._value_before(connection(), r.entity, r.metric, r.ts - window)
            if before is None:
                return
        value = condition.observed(rule, r.value, before)
        severity, threshold = condition.judge(rule, value, tracked.state.state != "inactive",
                                              self._site(rule, r.entity))
        if severity is None and tracked.state.state == "inactive":
            return  # the common case: nothing wrong, nothing to track
        self.tracked[(rule.name, r.entity)] = tracked
        self._apply(connection(), tracked, severity, value, threshold, now)

    def _safely(self, rule: Rule, evaluate: Callable[[], None]) -> None:
        """Evaluate one rule: an error of the database goes up (the engine retries), any other error marks
        the rule broken (logged once, shown on /rules and /healthz; skipped until it is edited) and the
        other rules go on."""
        if rule.name in self.broken:
            return
        try:
            evaluate()
        except psycopg.Error:
            raise
        except Exception as exc:
            log.exception("alert rule %s is broken: it is skipped until it is edited", rule.name)
            self.broken[rule.name] = f"{type(exc).__name__}: {exc}"[:500]
            self._record_broken(rule.name, self.broken[rule.name])

    def _record_broken(self, name: str, reason: str) -> None:
        try:
            with self.pool.connection() as conn:
                conn.execute("UPDATE alert_rules SET broken = %s, broken_at = now() WHERE name = %s", (reason, name))
        except psycopg.Error as exc:
            log.warning("could not record the state of rule %s: %s", name, exc)

    def _catch_up(self) -> None:
        """After dropped batches: evaluate every watched series from its latest value."""
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT s.entity, s.metric, l.ts, l.value FROM series s "
                                "JOIN latest l ON l.series_id = s.id WHERE s.metric = ANY(%s)",
                                (list({m for _, m in self._by_series}),)).fetchall()
        self._seen.clear()
        self._evaluate_readings([Reading(e, m, ts, v) for e, m, ts, v in rows])

    @staticmethod
    def _value_before(conn: psycopg.Connection, entity: str, metric: str, at: datetime) -> float | None:
        row = conn.execute("SELECT r.value FROM readings r JOIN series s ON s.id = r.series_id "
                           "WHERE s.entity = %s AND s.metric = %s AND r.ts <= %s ORDER BY r.ts DESC LIMIT 1",
                           (entity, metric, at)).fetchone()
        return row[0] if row else None

    def _evaluate_tick(self) -> None:
        now = self.clock()
        with self.pool.connection() as conn:
            # Time moves `for` and `keep_firing_for` along with the last value seen.
            for tracked in list(self.tracked.values()):
                rule, state = tracked.rule, tracked.state
                condition = condition_of(rule)
                if condition.watches != "readings" or state.value is None:
                    continue
                self._safely(rule, lambda tracked=tracked: self._tick_one(conn, tracked, now))
            self._evaluate_nodata(conn, now)
            self._evaluate_feeds(conn, now)
            self._refresh_workflow(conn, now)
            self._repeat(now)

    def _tick_one(self, conn: psycopg.Connection, tracked: Tracked, now: datetime) -> None:
        """Time moves `for` and `keep_firing_for` along with the last value seen."""
        rule, state = tracked.rule, tracked.state
        severity, threshold = condition_of(rule).on_tick(rule, state.severity, state.threshold, state.value,
                                                         state.cleared_since is not None,
                                                         self._site(rule, tracked.subject))
        self._apply(conn, tracked, severity, state.value, threshold, now)

    def _refresh_workflow(self, conn: psycopg.Connection, now: datetime) -> None:
        """What people changed: acknowledgements (no repeats once acknowledged), rules, and alerts that
        stopped flapping."""
        ids = [t.alert_id for t in self.tracked.values() if t.alert_id is not None and not t.acknowledged]
        if ids:
            acked = {i for (i,) in conn.execute("SELECT id FROM alerts WHERE id = ANY(%s) AND acknowledged_at "
                                                "IS NOT NULL", (ids,))}
            for tracked in self.tracked.values():
                tracked.acknowledged = tracked.acknowledged or tracked.alert_id in acked
        for rule, subject in self.flaps.settled(now):
            conn.execute("UPDATE alerts SET flapping = false WHERE rule = %s AND subject = %s AND flapping",
                         (rule, subject))
        if self._rules_version is not None and (version := self._rules_version()) != self._version:
            self._version = version
            self._replace_rules(conn, self._rules_source(), now)

    def _replace_rules(self, conn: psycopg.Connection, rules: list[Rule], now: datetime) -> None:
        """Rules edited while running: re-index; an alert whose rule is gone is resolved."""
        before = {r.name: r for r in self.rules}
        self.rules = rules
        self._by_series, self._nodata, self._feeds = {}, [], []
        self._index()
        by_name = {r.name: r for r in rules}
        for name in [n for n in self.broken if before.get(n) != by_name.get(n)]:
            del self.broken[name]  # edited or removed: the new version gets its chance
        for tracked in list(self.tracked.values()):
            if tracked.rule.name in by_name:
                tracked.rule = by_name[tracked.rule.name]
            else:
                tracked.rule = tracked.rule.model_copy(update={"keep_firing_for": timedelta(0)})
                self._apply(conn, tracked, None, tracked.state.value, None, now)
        log.info("alert rules reloaded: %d in force", len(rules))

    def _evaluate_nodata(self, conn: psycopg.Connection, now: datetime) -> None:
        if not self._nodata:
            return
        latest = dict(((e, m), ts) for e, m, ts in conn.execute(
            "SELECT s.entity, s.metric, l.ts FROM series s JOIN latest l ON l.series_id = s.id "
            "WHERE s.metric = ANY(%s)", (list({r.metric for r, _ in self._nodata}),)))
        def judge(rule: Rule, entity: str) -> None:
            severity, silent, allowed = condition_of(rule).judge_silence(
                rule, latest.get((entity, rule.metric)), now, self.config.metrics[rule.metric].cadence,
                since=self._watching_since.get(rule.name))
            self._apply(conn, self._track(rule, entity), severity, silent, allowed, now)

        for rule, entity in self._nodata:
            self._safely(rule, lambda rule=rule, entity=entity: judge(rule, entity))

    def _evaluate_feeds(self, conn: psycopg.Connection, now: datetime) -> None:
        if self.health is None:
            return
        states = {row["feed"]: row["state"] for row in self.health.snapshot(now)}
        def judge(rule: Rule) -> None:
            severity, _ = condition_of(rule).judge_feed(rule, states.get(rule.feed))
            self._apply(conn, self._track(rule, rule.feed), severity, None, None, now)

        for rule in self._feeds:
            self._safely(rule, lambda rule=rule: judge(rule))

    def _repeat(self, now: datetime) -> None:
        interval = self.repeat_interval.total_seconds()
        for tracked in self.tracked.values():
            if (tracked.state.state == "firing" and not tracked.acknowledged and tracked.alert_id is not None
                    and time.monotonic() - tracked.last_notified >= interval):
                self._send(tracked, "repeat", tracked.state, now)

    # --- persistence and notification ----------------------------------------------------------

    def _persist(self, conn: psycopg.Connection, tracked: Tracked, new: State, transitions: list[Transition],
                 now: datetime) -> None:
        rule, subject = tracked.rule, tracked.subject
        with conn.transaction():
            if tracked.alert_id is None:
                domain, area = self._where(subject, rule)
                tracked.alert_id = conn.execute(
                    "INSERT INTO alerts (rule, metric, condition, subject, domain, area, state, severity, value, "
                    "threshold, pending_since, firing_since, last_active, labels) "
                    "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id",
                    (rule.name, rule.metric, rule.condition, subject, domain, area, new.state, new.severity,
                     new.value, new.threshold, new.pending_since, new.firing_since, new.last_active,
                     Jsonb(rule.labels))).fetchone()[0]
            elif new.state == "inactive":
                conn.execute("UPDATE alerts SET state = 'resolved', resolved_at = %s, value = %s, updated_at = %s "
                             "WHERE id = %s", (now, new.value if new.value is not None else tracked.state.value,
                                               now, tracked.alert_id))
            else:
                conn.execute(
                    "UPDATE alerts SET state = %s, severity = %s, value = %s, threshold = %s, firing_since = %s, "
                    "last_active = %s, cleared_since = %s, updated_at = %s WHERE id = %s",
                    (new.state, new.severity, new.value, new.threshold, new.firing_since, new.last_active,
                     new.cleared_since, now, tracked.alert_id))
            for t in transitions:
                conn.execute("INSERT INTO alert_events (alert_id, at, kind, detail) VALUES (%s, %s, %s, %s)",
                             (tracked.alert_id, t.at, t.kind, Jsonb({"severity": t.severity, "value": t.value,
                                                                     "threshold": t.threshold})))
        for t in transitions:
            if t.kind not in NOTIFIED:
                continue
            was_flapping = (rule.name, subject) in self.flaps.flapping
            if t.kind in ("firing", "resolved") and self.flaps.record((rule.name, subject), now):
                if not was_flapping:
                    conn.execute("UPDATE alerts SET flapping = true WHERE id = %s", (tracked.alert_id,))
                    log.warning("alert %s on %s is flapping: notifications held until it settles", rule.name,
                                subject)
                self.held["flapping"] += 1
                continue
            self._send(tracked, t.kind, new if new.state != "inactive" else replace(tracked.state, value=t.value),
                       now)

    def _where(self, subject: str, rule: Rule) -> tuple[str | None, str | None]:
        entity = self.config.entities.get(subject)
        if entity is not None:
            return self.config.kinds[entity.kind].domain, entity.area
        feed = next((f for f in self.config.feeds if f.name == subject), None)
        return (feed.domain if feed else None), None

    def _send(self, tracked: Tracked, kind: str, state: State, now: datetime) -> None:
        tracked.last_notified = time.monotonic()
        if self.notify is None:
            return
        rule, subject = tracked.rule, tracked.subject
        entity = self.config.entities.get(subject)
        names = (entity.name.vi, entity.name.en) if entity else (subject, subject)
        domain, area = self._where(subject, rule)
        facts = Facts(rule.condition, rule.name, subject, rule.metric, area, state.value, state.threshold,
                      rule.message.model_dump() if rule.message else None)
        event = AlertEvent(kind, tracked.alert_id, rule.name, subject, names[0], names[1], domain, area,
                           state.severity or rule.severity, state.value, state.threshold, now,
                           self.text.sentence(facts, "vi"), self.text.sentence(facts, "en"), dict(rule.labels))
        self.notify(event)
