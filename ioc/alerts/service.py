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
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from ioc.alerts.actions import Silence, silences_in_force
from ioc.alerts.engine import FlapDetector, State, Transition, judge, judge_silence, step
from ioc.alerts.events import AlertEvent
from ioc.alerts.rules import Rule
from ioc.config import Config
from ioc.feed_health import FeedHealth
from ioc.i18n import t
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
        self.silences: list[Silence] = []
        self.held: Counter[str] = Counter()  # notifications not sent: silenced, flapping
        self.leader = threading.Event()
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
        if scope.area:
            area = entity.area
            while area is not None and area != scope.area:
                area = self.config.areas[area][1]
            return area == scope.area
        return True

    def _index(self) -> None:
        for rule in self.rules:
            if rule.condition == "feed_silent":
                self._feeds.append(rule)
                continue
            for entity in self.config.region.entities:
                if rule.metric in self.config.entity_metrics(entity.id) and self._in_scope(rule, entity.id):
                    if rule.condition == "nodata":
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
                    next_tick = time.monotonic() + self.tick
            except psycopg.Error as exc:
                log.warning("alert evaluation failed, retrying: %s", exc)
                self.leader.clear()

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
        return self.config.metrics[rule.metric].thresholds_for(entity)

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
        by_series, seen, tracked_now = self._by_series, self._seen, self.tracked
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
                    tracked = tracked_now.get((rule.name, r.entity)) or Tracked(rule, r.entity, State())
                    value = r.value
                    if rule.condition == "rate_of_change":
                        before = self._value_before(connection(), r.entity, r.metric, r.ts - rule.window)
                        if before is None:
                            continue
                        value = r.value - before
                    severity, threshold = judge(rule, value, tracked.state.state != "inactive",
                                                self._site(rule, r.entity))
                    if severity is None and tracked.state.state == "inactive":
                        continue  # the common case: nothing wrong, nothing to track
                    tracked_now[(rule.name, r.entity)] = tracked
                    self._apply(connection(), tracked, severity, value, threshold, now)

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
                if rule.condition in ("nodata", "feed_silent") or state.value is None:
                    continue
                if rule.condition == "rate_of_change":
                    severity, threshold = state.severity, state.threshold
                    if state.state == "firing" and state.cleared_since is not None:
                        severity, threshold = None, None
                else:
                    severity, threshold = judge(rule, state.value, True, self._site(rule, tracked.subject))
                    if state.cleared_since is not None:
                        severity, threshold = None, None
                self._apply(conn, tracked, severity, state.value, threshold, now)
            self._evaluate_nodata(conn, now)
            self._evaluate_feeds(conn, now)
            self._refresh_workflow(conn, now)
            self._repeat(now)

    def _refresh_workflow(self, conn: psycopg.Connection, now: datetime) -> None:
        """What people changed: silences in force, acknowledgements (no repeats once acknowledged),
        and alerts that stopped flapping."""
        self.silences = silences_in_force(self.pool, now)
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
        self.rules = rules
        self._by_series, self._nodata, self._feeds = {}, [], []
        self._index()
        by_name = {r.name: r for r in rules}
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
        for rule, entity in self._nodata:
            severity, silent, allowed = judge_silence(rule, latest.get((entity, rule.metric)), now,
                                                      self.config.metrics[rule.metric].cadence)
            self._apply(conn, self._track(rule, entity), severity, silent, allowed, now)

    def _evaluate_feeds(self, conn: psycopg.Connection, now: datetime) -> None:
        if self.health is None:
            return
        states = {row["feed"]: row["state"] for row in self.health.snapshot(now)}
        for rule in self._feeds:
            active = states.get(rule.feed) in ("late", "failing")
            tracked = self._track(rule, rule.feed)
            self._apply(conn, tracked, rule.severity if active else None, None, None, now)

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
                    "INSERT INTO alerts (rule, subject, domain, area, state, severity, value, threshold, "
                    "pending_since, firing_since, last_active, labels) "
                    "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id",
                    (rule.name, subject, domain, area, new.state, new.severity, new.value, new.threshold,
                     new.pending_since, new.firing_since, new.last_active, Jsonb(rule.labels))).fetchone()[0]
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
        vi, en = self._message(rule, names, state)
        event = AlertEvent(kind, tracked.alert_id, rule.name, subject, names[0], names[1], domain, area,
                           state.severity or rule.severity, state.value, state.threshold, now, vi, en,
                           dict(rule.labels))
        tz = ZoneInfo(self.config.settings.ui.timezone)
        if any(s.matches(event) and s.active(now, tz) for s in self.silences):
            self.held["silenced"] += 1
            return
        self.notify(event)

    def _message(self, rule: Rule, names: tuple[str, str], state: State) -> tuple[str, str]:
        metric = self.config.metrics.get(rule.metric) if rule.metric else None
        fields = {"value": "—" if state.value is None else f"{state.value:g}",
                  "threshold": "—" if state.threshold is None else f"{state.threshold:g}"}
        out = []
        for lang, name in (("vi", names[0]), ("en", names[1])):
            label = metric.label.get(lang) if metric else rule.name
            unit = metric.unit_text(lang) if metric else ""
            if rule.message:
                out.append(rule.message.get(lang).format(subject=name, metric=label, unit=unit, **fields))
            elif rule.condition == "nodata":
                out.append(f"{label} – {name}: {t('alert.nodata', lang)}")
            elif rule.condition == "feed_silent":
                out.append(f"{t('alert.feed', lang)} {name}: {t('alert.feed_silent', lang)}")
            else:
                out.append(f"{label} – {name}: {fields['value']} {unit} "
                           f"({t('alert.threshold', lang)} {fields['threshold']})")
        return out[0], out[1]
