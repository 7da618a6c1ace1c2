"""Alert latency benchmark: from publishing a crossing reading to the firing alert committed.

Same setup as bench/ingest.py (whose helpers it imports): a throwaway Mosquitto from
deploy/mosquitto.conf, a fresh database, the ingester as its own process (`app.py --ingest-only`), and
the alert engine as another (`app.py --alerts-only`: AlertService fed by its own MQTT subscription, which
validates and evaluates without storing — the ingester stores), as a split deployment runs them.

Each measurement publishes one reading that crosses a catalog rule (`catalog:<metric>`, `for: 0`) on
a fresh (entity, metric) pair that the load never touches — so every crossing is a new alert and none
counts towards flap detection — then polls every 10 ms from its own connection until the firing row is
committed; a recovery value then resolves it. The same poll also notes when the crossing reading
itself is committed: that is the baseline (publish → reading committed, the ingest path alone),
measured on the same readings.

"Under load": a background thread publishes pre-encoded native batches (100 readings/message, current
timestamps, values that judge clear under every rule so the engine evaluates them but nothing fires)
at half the sustained rate measured first in the same run, with the same live-timestamped readings.

    python bench/alerts.py [--crossings 50] [--sustained 200000] [--rate READINGS_PER_S]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import RUN, count, database_urls, encode_messages, pct, publish_run, wait_for  # noqa: E402
from ioc.alerts.engine import judge  # noqa: E402
from ioc.alerts.rules import Rule, load_rules  # noqa: E402
from ioc.alerts.service import AlertService  # noqa: E402
from ioc.config import copy_config, load_config  # noqa: E402
from ioc.services import Mosquitto  # noqa: E402
from ioc.transports.mqtt import BrokerAddress, Publisher  # noqa: E402

POLL = 0.01  # seconds between polls
TIMEOUT = 30.0  # seconds to wait for one alert before calling the run failed


def grid(config, metric: str) -> list[float]:
    low, high = config.metrics[metric].valid_range
    return [low + (high - low) * k / 200 for k in range(201)]


def site(config, entity_id: str, metric: str):
    entity = config.entities[entity_id]
    return config.metrics[metric].thresholds_for(entity) if metric in entity.thresholds else None


def calm_value(config, entity_id: str, metric: str, rules: list[Rule]) -> float:
    """A value inside the valid range that no threshold rule on this series judges bad (even with an
    alert active, i.e. past any hysteresis), nearest the middle of the range."""
    values = grid(config, metric)
    ok = [v for v in values if all(r.condition == "rate_of_change"
                                   or judge(r, v, True, site(config, entity_id, metric))[0] is None
                                   for r in rules)]
    if not ok:
        raise RuntimeError(f"no calm value for {entity_id}/{metric}")
    middle = values[len(values) // 2]
    return min(ok, key=lambda v: abs(v - middle))


def crossing_pairs(config, by_series: dict[tuple[str, str], list[Rule]], n: int) -> list[dict]:
    """n (entity, metric) pairs watched by exactly one rule, the catalog's, firing at once, with a crossing
    value (critical) and a recovery value; spread over metrics."""
    pairs = []
    for (entity, metric), rules in sorted(by_series.items()):
        if len(rules) != 1 or rules[0].name != f"catalog:{metric}" or rules[0].for_ > timedelta(0):
            continue
        bad = [v for v in grid(config, metric) if judge(rules[0], v, False, site(config, entity, metric))[0]
               == "critical"]
        if not bad:
            continue
        pairs.append({"entity": entity, "metric": metric, "rule": rules[0].name,
                      "domain": config.kinds[config.entities[entity].kind].domain,
                      "cross": bad[len(bad) // 2], "calm": calm_value(config, entity, metric, rules)})
    by_metric: dict[str, list[dict]] = {}
    for p in pairs:
        by_metric.setdefault(p["metric"], []).append(p)
    spread = [p for i in range(max(map(len, by_metric.values()))) for ps in by_metric.values() if i < len(ps)
              for p in [ps[i]]]
    if len(spread) < n:
        raise RuntimeError(f"only {len(spread)} pairs can cross a rule, {n} needed: fewer --crossings")
    return spread[:n]


def load_items(config, by_series, exclude: set[tuple[str, str]], n: int, start: float):
    """n live readings over every series but the excluded ones, a calm value each, series in domain order,
    one round of all series per millisecond of timestamps (so each series' times are distinct)."""
    series = sorted((config.kinds[e.kind].domain, e.id, m) for e in config.region.entities
                     for m in config.kinds[e.kind].metrics if (e.id, m) not in exclude)
    calm = {(e, m): calm_value(config, e, m, by_series.get((e, m), [])) for _, e, m in series}
    return [(d, e, m, start + (i // len(series)) / 1000, calm[e, m])
            for i, (d, e, m) in ((i, series[i % len(series)]) for i in range(n))]


class Load(threading.Thread):
    """Publishes pre-encoded messages at `rate` readings/s until stopped or out of messages."""

    def __init__(self, pub: Publisher, messages, rate: float):
        super().__init__(name="bench-load", daemon=True)
        self.pub, self.messages, self.rate = pub, messages, rate
        self.stop = threading.Event()
        self.sent = 0
        self.began = self.ended = 0.0

    def run(self) -> None:
        self.began = time.perf_counter()
        for topic, payload, n in self.messages:
            if self.stop.is_set():
                break
            if (wait := self.began + self.sent / self.rate - time.perf_counter()) > 0:
                time.sleep(wait)
            self.pub.publish(topic, payload)
            self.sent += n
        self.ended = time.perf_counter()
        self.pub.drain()

    @property
    def achieved(self) -> float:
        return self.sent / ((self.ended or time.perf_counter()) - self.began)


def measure(conn: psycopg.Connection, pub: Publisher, prefix: str, pairs: list[dict], ids: dict,
            load: Load | None = None) -> tuple[list[float], list[float], list[float]]:
    """One crossing per pair; per crossing (publish → reading committed, publish → firing alert committed,
    publish → the engine's firing_since), in ms."""
    committed, fired, judged = [], [], []
    for i, p in enumerate(pairs):
        if load is not None and not load.is_alive():
            print(f"warning: the load ran out after {i} of {len(pairs)} crossings (each took "
                  f"{(time.perf_counter() - load.began) / max(i, 1):.1f} s): figures over those {i}", file=sys.stderr)
            break
        sid = ids[p["entity"], p["metric"]]
        wall = time.time()
        topic, payload, _ = encode_messages(prefix, [(p["domain"], p["entity"], p["metric"], wall, p["cross"])], 1)[0]
        since = datetime.fromtimestamp(wall - 0.001, UTC)
        sent = time.perf_counter()
        pub.publish(topic, payload)
        seen_reading = seen_alert = None
        while seen_alert is None or seen_reading is None:
            at = time.perf_counter()
            if at - sent > TIMEOUT:
                raise TimeoutError(f"no firing alert for {p['rule']} on {p['entity']} after {TIMEOUT:.0f} s")
            reading, alert = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM readings WHERE series_id = %s AND ts >= %s), "
                "(SELECT firing_since FROM alerts WHERE rule = %s AND subject = %s AND state = 'firing')",
                (sid, since, p["rule"], p["entity"])).fetchone()
            if reading and seen_reading is None:
                seen_reading = at
            if alert is not None and seen_alert is None:
                seen_alert = at
                judged.append((alert.timestamp() - wall) * 1000)
            if seen_alert is None or seen_reading is None:
                time.sleep(POLL)
        committed.append((seen_reading - sent) * 1000)
        fired.append((seen_alert - sent) * 1000)
        topic, payload, _ = encode_messages(
            prefix, [(p["domain"], p["entity"], p["metric"], time.time(), p["calm"])], 1)[0]
        pub.publish(topic, payload)  # resolves it, so no more than a few alerts are ever active
        time.sleep(random.uniform(0.05, 0.15))  # don't lock step with the writer's 200 ms batching
    return committed, fired, judged


def sustained_rate(url: str, pub: Publisher, items, prefix: str) -> float:
    """Readings/s committed publishing 100-reading messages as fast as they go (the first call warms up)."""
    messages = encode_messages(prefix, items, 100)
    base = count(url)
    began = time.perf_counter()
    publish_run(pub, messages)
    return len(items) / (wait_for(url, base + len(items)) - began)


def summary(values: list[float]) -> str:
    return f"p50 {pct(values, 50):.0f} ms, p95 {pct(values, 95):.0f} ms"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--crossings", type=int, default=50, help="crossings measured idle, and again under load")
    parser.add_argument("--sustained", type=int, default=200_000, help="readings in the sustained-rate run")
    parser.add_argument("--rate", type=float, help="load in readings/s (default: half the sustained rate)")
    args = parser.parse_args()
    server_url = os.environ.get("IOC_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name, url = database_urls(server_url)
    prefix = f"iocbench{RUN}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            broker = None if "IOC_MQTT_URL" in os.environ else Mosquitto(Path(tmp) / "mosquitto").start()
            mqtt_url = os.environ.get("IOC_MQTT_URL") or broker.url
            ingester = engine = None
            try:
                folder = copy_config(Path(tmp) / "config", {
                    "database": {"url": url},
                    "mqtt": {"url": mqtt_url, "topic_prefix": prefix, "client_id": f"iocbench-{RUN}"}})
                config = load_config(folder, environ={})
                rules = load_rules(config).rules
                by_series = AlertService(config, None, url, rules)._by_series  # which rules watch which series
                pairs = crossing_pairs(config, by_series, 2 * args.crossings + 1)  # a fresh pair for every crossing
                exclude = {(p["entity"], p["metric"]) for p in pairs}
                address, settings = BrokerAddress.from_url(mqtt_url), config.settings.mqtt
                ingester = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--ingest-only", "--config-dir",
                                             str(folder)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                assert ingester.stdout.readline().strip() == "ingest running", "ingester did not start"
                engine = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--alerts-only", "--config-dir",
                                           str(folder)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                assert engine.stdout.readline().strip() == "alerts running", "alert engine did not start"
                with psycopg.connect(url, autocommit=True) as conn:
                    ids = {(e, m): i for i, e, m in conn.execute("SELECT id, entity, metric FROM series")}
                    pub, load_pub = Publisher(address, settings), Publisher(address, settings)
                    pub.connect()
                    load_pub.connect()

                    # Sustained rate of live (engine-evaluated) readings, as bench/ingest.py measures it; and,
                    # as its baseline, of the same readings a day old, which the engine skips as history.
                    now = time.time()
                    sustained_rate(url, load_pub, load_items(config, by_series, exclude, 20_000, now - 300), prefix)
                    history = sustained_rate(url, load_pub, load_items(config, by_series, exclude, args.sustained,
                                                                       now - 86_400), prefix)
                    sustained = sustained_rate(url, load_pub, load_items(config, by_series, exclude, args.sustained,
                                                                         now - 240), prefix)
                    rate = args.rate or sustained / 2

                    # The engine falls behind at the full sustained rate (its thread shares the ingester's GIL):
                    # one unmeasured crossing waits for it to work off that backlog before the idle phase.
                    catch_up = measure(conn, pub, prefix, pairs[:1], ids)[1][0]
                    idle_commit, idle_fired, idle_judged = measure(conn, pub, prefix, pairs[1:args.crossings + 1], ids)

                    # Enough load for a warm-up and the crossings (≈ 0.45 s each under load; 3× that to spare).
                    seconds = 5 + args.crossings * 1.5
                    items = load_items(config, by_series, exclude, int(rate * seconds), now - 120)
                    load = Load(load_pub, encode_messages(prefix, items, 100), rate)
                    base = count(url)
                    load.start()
                    time.sleep(3)  # into steady state
                    load_commit, load_fired, load_judged = measure(conn, pub, prefix, pairs[args.crossings + 1:], ids,
                                                                   load)
                    load.stop.set()
                    if not load_fired:
                        raise RuntimeError("no crossing measured under load")
                    load.join()
                    wait_for(url, base + load.sent + 2 * len(load_fired))
                    deadline = time.monotonic() + TIMEOUT  # and for the engine to resolve the last crossings
                    active = "SELECT count(*) FROM alerts WHERE rule LIKE 'catalog:%%' AND state <> 'resolved'"
                    while conn.execute(active).fetchone()[0] and time.monotonic() < deadline:
                        time.sleep(POLL)
                    engine_state = conn.execute(
                        "SELECT count(*) FILTER (WHERE rule LIKE 'catalog:%%' AND value IS NOT NULL), "
                        "count(*) FILTER (WHERE rule LIKE 'catalog:%%' AND state <> 'resolved') FROM alerts").fetchone()
                    pub.close()
                    load_pub.close()
            finally:
                for process in (engine, ingester):
                    if process:
                        process.terminate()
                        process.wait(30)
                if broker:
                    broker.stop()
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    print(f"crossings: {len(idle_fired)} idle + {len(load_fired)} under load, each on a fresh (entity, metric) pair "
          f"({len({p['metric'] for p in pairs})} metrics); catalog alerts created {engine_state[0]}, "
          f"left active {engine_state[1]} (expected {1 + len(idle_fired) + len(load_fired)} and 0)")
    print(f"sustained, 100 readings/message, {args.sustained:,} readings: {sustained:,.0f} readings/s committed live "
          f"(the engine evaluates them); baseline {history:,.0f} readings/s a day old (the engine skips them)")
    print(f"engine backlog after the sustained live run: its next crossing fired {catch_up:,.0f} ms after publishing")
    print(f"load: {load.achieved:,.0f} readings/s achieved of {rate:,.0f} asked "
          f"({'fixed' if args.rate else 'half the sustained rate'}), "
          f"{load.sent:,} readings")
    print(f"baseline publish→reading committed: idle {summary(idle_commit)}; under load {summary(load_commit)}")
    print(f"publish→engine firing_since: idle {summary(idle_judged)}; under load {summary(load_judged)}")
    print(f"idle publish→firing alert committed: {summary(idle_fired)}")
    print(f"under load publish→firing alert committed: {summary(load_fired)}")
    print(f"alerts: p95 {pct(idle_fired, 95):.0f} ms idle, p95 {pct(load_fired, 95):.0f} ms under load")
    return 0


if __name__ == "__main__":
    sys.exit(main())
