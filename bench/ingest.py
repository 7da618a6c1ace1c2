"""Ingest benchmark: readings/s committed through broker → ingester → PostgreSQL, and latency.

Against the configured (IOC_DATABASE_URL / IOC_MQTT_URL) or local PostgreSQL and Mosquitto. The
ingester runs as its own process (`app.py --ingest-only`), as in production. Baselines measured in
the same run: raw COPY into a table of the same shape, and the raw broker rate of single messages to
a subscriber that does nothing with them. Raw COPY and the batched run alternate for --rounds rounds and the
figures are their medians: on a shared machine a spell of load then falls on both sides.

With --at-scale DATABASE (a database filled by bench/seed.py, e.g. 50 M rows) the batched run and the
raw COPY baseline are measured again into that database's `readings`, in its largest weekly partition
(a second ingester process against it), so that the primary-key index is as large as a province's.

With --profile FILE, py-spy (a dev tool: pip install py-spy) samples the ingester during the batched
run, only while it holds the GIL (Python's CPU), writes the collapsed stacks to FILE and prints the
microseconds per reading by stage of the hot path (and per message in the single run); sampling costs the
shared cores, so rates come from runs without it.

    python bench/ingest.py [--readings 300000] [--single 60000] [--at-scale ioc_bench] [--profile FILE]
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import os
import random
import secrets
import signal
import statistics
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

from feeds.native import encode  # noqa: E402
from ioc.config import MqttSettings, copy_config, load_config  # noqa: E402
from ioc.models import Reading  # noqa: E402
from ioc.services import Mosquitto  # noqa: E402
from ioc.transports.mqtt import BrokerAddress, Publisher, connect_properties, make_client  # noqa: E402

RUN = secrets.token_hex(3)


def database_urls(server_url: str) -> tuple[str, str]:
    name = f"ioc_bench_{RUN}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    info = psycopg.conninfo.conninfo_to_dict(server_url)
    info["dbname"] = name
    return name, psycopg.conninfo.make_conninfo(**info)


def workload(config, n: int, start: datetime) -> list[tuple[str, str, str, float, float]]:
    """n distinct (domain, entity, metric, epoch ts, value) readings, each series its own run of seconds,
    ordered by domain as a gateway's batches would be."""
    series = [(config.kinds[e.kind].domain, e.id, m) for e in config.region.entities
              for m in config.kinds[e.kind].metrics]
    mid = {k: sum(m.valid_range) / 2 for k, m in config.metrics.items()}
    base = start.timestamp()
    items = [(d, e, m, base + i // len(series), mid[m])
             for i, (d, e, m) in ((i, series[i % len(series)]) for i in range(n))]
    return sorted(items, key=lambda item: item[0])


def raw_copy_rate(url: str, items, table: str = "bench_raw") -> float:
    """A plain Python COPY loader for the same readings: series-id lookup, binary COPY in 10k-row
    batches into a table with the same shape and primary key (or into `readings` itself, already
    holding a seeded history); no broker, parsing or validation."""
    with psycopg.connect(url) as conn:
        if table == "bench_raw":
            conn.execute("CREATE TABLE bench_raw (series_id int, ts timestamptz, value float8, "
                         "PRIMARY KEY (series_id, ts))")
            conn.commit()
        ids = {(e, m): i for i, e, m in conn.execute("SELECT id, entity, metric FROM series")}
        statement = sql.SQL("COPY {} (series_id, ts, value) FROM STDIN (FORMAT BINARY)").format(sql.Identifier(table))
        began = time.perf_counter()
        for i in range(0, len(items), 10_000):
            with conn.cursor().copy(statement) as copy:
                copy.set_types(["int4", "timestamptz", "float8"])
                for _, entity, metric, ts, value in items[i:i + 10_000]:
                    copy.write_row((ids[entity, metric], datetime.fromtimestamp(ts, UTC), value))
            conn.commit()
        elapsed = time.perf_counter() - began
        if table == "bench_raw":
            conn.execute("DROP TABLE bench_raw")
            conn.commit()
    return len(items) / elapsed


def _count_messages(url: str, topic: str, n: int, ready, result) -> None:
    """A subscriber in its own process (as the ingester is) that only counts what it receives."""
    address, settings = BrokerAddress.from_url(url), MqttSettings(client_id=f"iocbench-raw-{RUN}")
    received, done = 0, threading.Event()

    def on_message(client, userdata, message):
        nonlocal received
        received += 1
        if received == n:
            done.set()

    sub = make_client(address, settings, client_id=settings.client_id)
    sub.on_message = on_message
    sub.on_subscribe = lambda *args: ready.set()
    sub.connect(address.host, address.port, properties=connect_properties(settings))
    sub.subscribe(topic, qos=1)
    sub.loop_start()
    done.wait(300)
    result.put((received, time.perf_counter()))
    sub.disconnect()
    sub.loop_stop()


def raw_broker_rate(url: str, settings: MqttSettings, n: int) -> float:
    """Single small QoS 1 messages from one publisher to one subscriber that does nothing with them."""
    topic = f"iocbench{RUN}/raw"
    spawn = multiprocessing.get_context("spawn")
    ready, result = spawn.Event(), spawn.Queue()
    counter = spawn.Process(target=_count_messages, args=(url, topic, n, ready, result))
    counter.start()
    ready.wait(30)
    pub = Publisher(BrokerAddress.from_url(url), settings)
    pub.connect()
    payload = json.dumps({"ts": time.time(), "values": {"bed_occupancy": 81.5}}).encode()
    began = time.perf_counter()
    for _ in range(n):
        pub.publish(topic, payload)
    received, finished = result.get(timeout=330)
    counter.join(10)
    pub.close()
    return received / (finished - began)


def count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM readings").fetchone()[0]


def stored_at(url: str, times: set[float]) -> int:
    """Readings at exactly these instants, by index lookups (a count(*) of 50 M rows takes seconds)."""
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM series s JOIN readings r ON r.series_id = s.id "
                            "WHERE r.ts = ANY(%s)", ([datetime.fromtimestamp(ts, UTC) for ts in times],)).fetchone()[0]


def wait_for_last(url: str, items, timeout: float = 600) -> float:
    """The commit time of the run's last reading: one ingester commits messages in the order they arrive
    (one subscriber thread, one writer), and one publisher's QoS 1 messages arrive in order. A point
    lookup: polling count(*) every 50 ms cost the database a share of a core while it was being measured."""
    _, entity, metric, ts, _ = items[-1]
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:  # one connection: a new one forks a backend
        while time.monotonic() < deadline:
            if conn.execute("SELECT 1 FROM readings r JOIN series s ON s.id = r.series_id WHERE s.entity = %s "
                            "AND s.metric = %s AND r.ts = %s", (entity, metric, datetime.fromtimestamp(ts, UTC))
                            ).fetchone():
                return time.perf_counter()
            time.sleep(0.02)
    raise TimeoutError(f"the last reading of the run was not committed within {timeout} s")


def largest_partition_middle(url: str) -> datetime:
    """The middle of the weekly partition holding the most rows (estimated by the planner's statistics)."""
    with psycopg.connect(url) as conn:
        bound = conn.execute("SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
                             "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'readings'::regclass "
                             "ORDER BY c.reltuples DESC LIMIT 1").fetchone()[0]
        lo, hi = conn.execute("SELECT %s::timestamptz, %s::timestamptz",
                              bound.split("'")[1::2][:2]).fetchone()
    return lo + (hi - lo) / 2


def encode_messages(prefix: str, items, per_message: int) -> list[tuple[str, bytes, int]]:
    """(topic, payload, readings) for messages of up to per_message readings of one domain, in the
    native format a gateway sends (feeds.native.encode: one object per entity and time).

    Encoded before the clock starts: a gateway encodes on its own machine, so the load generator's
    JSON work should not share this box's two cores with what is being measured."""
    messages = []
    for i in range(0, len(items), per_message):
        by_domain: dict[str, list[Reading]] = {}
        for domain, entity, metric, ts, value in items[i:i + per_message]:
            by_domain.setdefault(domain, []).append(Reading(entity, metric, datetime.fromtimestamp(ts, UTC), value))
        for domain, readings in by_domain.items():
            payload = encode(readings)
            if per_message == 1:
                payload = payload[1:-1]  # the single object, not a one-element array
            messages.append((f"{prefix}/{domain}/bench", payload, len(readings)))
    return messages


def publish_run(pub: Publisher, messages, rate: float | None = None, sent_at: list[float] | None = None) -> None:
    """Publish pre-encoded messages, optionally paced at `rate` readings/s."""
    began, readings = time.perf_counter(), 0
    for topic, payload, n in messages:
        if rate and (wait := began + readings / rate - time.perf_counter()) > 0:
            time.sleep(wait)
        pub.publish(topic, payload)
        readings += n
        if sent_at is not None:
            sent_at.append(time.perf_counter())
    pub.drain()


def latency_run(url: str, pub: Publisher, messages, rate: float, since: datetime) -> list[float]:
    """Publish at `rate` readings/s; a message's commit time is the first poll that sees its rows.

    The poll counts only readings from `since` (the run's first instant, in weekly partitions that hold
    nothing else): a count(*) of the whole table every 10 ms would scan the batched runs' rows too and cost
    the database a core while the latency is measured."""
    sent_at: list[float] = []
    polls: list[tuple[float, int]] = []
    total = sum(n for _, _, n in messages)
    stop = threading.Event()

    def poll():
        with psycopg.connect(url, autocommit=True) as conn:
            while not stop.is_set():
                polls.append((time.perf_counter(),
                              conn.execute("SELECT count(*) FROM readings WHERE ts >= %s", (since,)).fetchone()[0]))
                if polls[-1][1] >= total:
                    stop.set()
                time.sleep(0.01)

    poller = threading.Thread(target=poll)
    poller.start()
    publish_run(pub, messages, rate, sent_at)
    if not stop.wait(600):
        raise TimeoutError(f"only {polls[-1][1]} of {total} readings committed")
    poller.join()
    latencies, p, needed = [], 0, 0
    for (_, _, n), sent in zip(messages, sent_at, strict=True):
        needed += n
        while polls[p][1] < needed:
            p += 1
        latencies.append((polls[p][0] - sent) * 1000)
    return latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


PROFILE_RATE = 250  # samples/s
# A sample belongs to the stage of its innermost frame that names one: (function name prefix, file).
STAGES = [("decode + parse (feeds/native.py)", [("parse", "native.py"), ("_parse", "native.py")]),
          ("validate (Validator)", [("Validator.", "ingest.py")]),
          ("hand-off to the writer (queue)",
           [("BatchWriter.submit", "writer.py"), ("BatchWriter._collect", "writer.py"),
            ("BatchWriter._taken", "writer.py")]),
          ("acknowledge + observers after commit", [("BatchWriter._after_commit", "writer.py")]),
          ("writer: COPY rows, latest, rollup marks", [("BatchWriter._write", "writer.py")]),
          ("ingest bookkeeping (dead letters, feed health)", [("Ingestor.ingest", "ingest.py")]),
          ("MQTT receive + protocol (paho)", [("Client.", "client.py"), ("MqttIngest.", "mqtt.py")])]


def _stage(frames: list[str]) -> str:
    for frame in reversed(frames):
        function, _, where = frame.partition(" (")
        file = where.split(":")[0].rsplit("/", 1)[-1]
        for stage, markers in STAGES:
            if any(function.startswith(prefix) and file == name for prefix, name in markers):
                return stage
    return "other"


def start_profile(pid: int, path: str) -> subprocess.Popen:
    return subprocess.Popen(["py-spy", "record", "--gil", "-r", str(PROFILE_RATE), "-f", "raw", "-o", path,
                             "-p", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profile(spy: subprocess.Popen) -> None:
    spy.send_signal(signal.SIGINT)
    spy.wait(60)


def profile_stages(path: str, readings: int) -> list[tuple[str, float]]:
    """(stage, µs of GIL-held time per reading) from py-spy's collapsed stacks, largest first."""
    samples: collections.Counter[str] = collections.Counter()
    for line in Path(path).read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        samples[_stage(stack.split(";"))] += int(n)
    return [(stage, 1e6 * n / PROFILE_RATE / readings) for stage, n in samples.most_common()]


def batch_override() -> dict[str, int]:
    """BATCH=N in the environment: transactions of N rows (`ingest.batch_max_rows`) instead of the shipped
    setting, for an A/B."""
    return {"batch_max_rows": int(os.environ["BATCH"])} if "BATCH" in os.environ else {}


def batched_run(url: str, pub: Publisher, prefix: str, items) -> float:
    """Readings/s from the first publish to the commit of the last reading."""
    messages = encode_messages(prefix, items, 100)
    began = time.perf_counter()
    publish_run(pub, messages)
    return len(items) / (wait_for_last(url, items) - began)


def ratio_of_medians(copy_rates: list[float], batched_rates: list[float]) -> tuple[float, float, float]:
    """(median raw COPY, median batched, their ratio): rounds alternate the two, so a spell of load on the
    shared machine falls on both sides rather than on one run."""
    copy_rate, batched_rate = statistics.median(copy_rates), statistics.median(batched_rates)
    return copy_rate, batched_rate, batched_rate / copy_rate


def rounds_text(copy_rates: list[float], batched_rates: list[float]) -> str:
    return ", ".join(f"{b:,.0f}/{c:,.0f} ({100 * b / c:.0f}%)" for c, b in zip(copy_rates, batched_rates,
                                                                                  strict=True))


def start_ingester(folder: Path) -> subprocess.Popen:
    ingester = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--ingest-only", "--config-dir",
                                 str(folder)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert ingester.stdout.readline().strip() == "ingest running", "ingester did not start"
    return ingester


def at_scale(database: str, server_url: str, mqtt_url: str, tmp: Path, readings: int,
             rounds: int) -> tuple[int, list[float], list[float]]:
    """(rows already there, raw COPY rows/s, batched readings/s per round) into a seeded database's largest
    partition.

    Times fall between the seed's 20 s grid (a fraction of a second chosen per run), so neither the
    seed's rows nor an earlier run's collide with this run's."""
    info = psycopg.conninfo.conninfo_to_dict(server_url)
    info["dbname"] = database
    url = psycopg.conninfo.make_conninfo(**info)
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT sum(c.reltuples)::bigint FROM pg_inherits i JOIN pg_class c "
                            "ON c.oid = i.inhrelid WHERE i.inhparent = 'readings'::regclass").fetchone()[0]
    middle = largest_partition_middle(url)
    prefix = f"iocbench{RUN}s"
    folder = copy_config(tmp / "config-at-scale", {
        "database": {"url": url},
        "mqtt": {"url": mqtt_url, "topic_prefix": prefix, "client_id": f"iocbench-{RUN}-s"},
        "storage": {"raw_retention": "400d"},
        "ingest": batch_override()})
    config = load_config(folder, environ={})
    ingester = start_ingester(folder)
    copy_rates, rates = [], []
    try:
        pub = Publisher(BrokerAddress.from_url(mqtt_url), config.settings.mqtt)
        pub.connect()
        for k in range(rounds):  # each round a fresh fraction of a second: nothing collides
            copy_start = middle + timedelta(hours=k, seconds=random.randrange(1, 10**6) / 10**6)
            copy_rates.append(raw_copy_rate(url, workload(config, 200_000, copy_start), table="readings"))
            start = middle + timedelta(hours=12 + k, seconds=random.randrange(1, 10**6) / 10**6)
            items = workload(config, readings, start)
            rates.append(batched_run(url, pub, prefix, items))
            assert stored_at(url, {ts for *_, ts, _ in items}) == len(items), "a reading is missing at scale"
        pub.close()
    finally:
        ingester.terminate()
        ingester.wait(30)
    return rows, copy_rates, rates


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--readings", type=int, default=300_000, help="readings in the batched run")
    parser.add_argument("--single", type=int, default=60_000, help="readings in the single-message run")
    parser.add_argument("--profile", metavar="FILE", help="py-spy the ingester during the batched run (see above)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="raw COPY and batched runs, alternating; the figures are the medians")
    parser.add_argument("--at-scale", metavar="DATABASE",
                        help="also measure batched ingest and raw COPY into this seeded database (bench/seed.py)")
    args = parser.parse_args()
    server_url = os.environ.get("IOC_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name, url = database_urls(server_url)
    prefix = f"iocbench{RUN}"
    with tempfile.TemporaryDirectory() as tmp:
        # The machine's shared Mosquitto keeps its default queue limit (1000), which drops QoS 1
        # messages for a subscriber that falls behind; measure against the shipped broker config.
        broker = None if "IOC_MQTT_URL" in os.environ else Mosquitto(Path(tmp) / "mosquitto").start()
        mqtt_url = os.environ.get("IOC_MQTT_URL") or broker.url
        folder = copy_config(Path(tmp) / "config", {
            "database": {"url": url},
            "mqtt": {"url": mqtt_url, "topic_prefix": prefix, "client_id": f"iocbench-{RUN}"},
            "storage": {"raw_retention": "400d"},
            "ingest": batch_override()})
        config = load_config(folder, environ={})
        address, settings = BrokerAddress.from_url(mqtt_url), config.settings.mqtt
        ingester = None
        try:
            ingester = start_ingester(folder)
            pub = Publisher(address, settings)
            pub.connect()
            copy_rates, batched_rates, ingester_cpu, batched = [], [], 0.0, 0
            for k in range(args.rounds):  # each round in weeks of its own
                copy_rates.append(raw_copy_rate(url, workload(config, 200_000,
                                                              datetime.now(UTC) - timedelta(days=350 - 7 * k))))
                items = workload(config, args.readings, datetime.now(UTC) - timedelta(days=300 - 7 * k))
                spy = start_profile(ingester.pid, args.profile) if args.profile and k == 0 else None
                cpu_began = cpu_seconds(ingester.pid)
                batched_rates.append(batched_run(url, pub, prefix, items))
                ingester_cpu += cpu_seconds(ingester.pid) - cpu_began
                batched += len(items)
                if spy:
                    stop_profile(spy)
            copy_rate, batched_rate, ratio = ratio_of_medians(copy_rates, batched_rates)
            assert count(url) == batched, "a reading is missing"
            broker_rates, single_rates, single_cpu = [], [], 0.0
            for k in range(args.rounds):  # the raw broker and the single-message run alternate as well
                broker_rates.append(raw_broker_rate(mqtt_url, settings, args.single))
                single = workload(config, args.single, datetime.now(UTC) - timedelta(days=200 - 7 * k))
                messages = encode_messages(prefix, single, 1)
                base = count(url)
                spy = start_profile(ingester.pid, f"{args.profile}.single") if args.profile and k == 0 else None
                began, cpu_began = time.perf_counter(), cpu_seconds(ingester.pid)
                publish_run(pub, messages)
                single_rates.append(len(single) / (wait_for_last(url, single) - began))
                single_cpu += cpu_seconds(ingester.pid) - cpu_began
                if spy:
                    stop_profile(spy)
                assert count(url) == base + len(single), "a reading is missing"
            broker_rate, single_rate, single_ratio = ratio_of_medians(broker_rates, single_rates)

            percentiles = []  # (p50, p95) of each round: ten seconds at half the batched rate
            for k in range(args.rounds):
                lat_start = datetime.now(UTC) - timedelta(days=100 - 7 * k)
                lat_items = workload(config, min(args.readings, int(batched_rate / 2 * 10)), lat_start)
                latencies = latency_run(url, pub, encode_messages(prefix, lat_items, 100), batched_rate / 2,
                                        lat_start)
                percentiles.append((pct(latencies, 50), pct(latencies, 95)))
            pub.close()
            ingester.terminate()
            ingester.wait(30)
            scale = at_scale(args.at_scale, server_url, mqtt_url, Path(tmp), args.readings,
                             args.rounds) if args.at_scale else None
        finally:
            if ingester and ingester.poll() is None:
                ingester.terminate()
                ingester.wait(30)
            if broker:
                broker.stop()
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    p50, p95 = (statistics.median(p[i] for p in percentiles) for i in (0, 1))
    print(f"baseline raw COPY (Python loader: series-id lookup + binary COPY, 10k-row batches): "
          f"{copy_rate:,.0f} rows/s (median of {args.rounds} rounds)")
    print(f"baseline raw broker (single QoS 1 messages, no-op subscriber): {broker_rate:,.0f} msg/s (median)")
    print(f"batched (100 readings/message): {batched_rate:,.0f} readings/s committed (median), "
          f"{args.readings:,} readings a round; rounds batched/raw COPY: {rounds_text(copy_rates, batched_rates)}")
    print(f"ingester CPU in the batched runs: {ingester_cpu:.2f} s = {1e6 * ingester_cpu / batched:.2f} µs/reading "
          f"= {batched / ingester_cpu:,.0f} readings/s per core")
    if args.profile:
        print(f"profile of the ingester in the first batched run (py-spy --gil, {args.profile}), µs per reading:")
        for stage, micros in profile_stages(args.profile, args.readings):
            print(f"  {micros:5.2f}  {stage}")
    print(f"single (1 reading/message): {single_rate:,.0f} readings/s committed (median), {args.single:,} readings "
          f"a round; rounds single/raw broker: {rounds_text(broker_rates, single_rates)}; "
          f"ingester CPU {1e6 * single_cpu / (args.single * args.rounds):.0f} µs/message")
    if args.profile:
        print(f"profile of the ingester in the single run ({args.profile}.single), µs per message:")
        for stage, micros in profile_stages(f"{args.profile}.single", args.single):
            print(f"  {micros:5.2f}  {stage}")
    print(f"latency publish→commit at {batched_rate / 2:,.0f} readings/s (half the batched rate): "
          f"p50 {p50:.0f} ms, p95 {p95:.0f} ms (medians; rounds' p95: "
          f"{', '.join(f'{p[1]:.0f}' for p in percentiles)} ms, {len(latencies)} messages each)")
    last_line = (f"ingest: {batched_rate:,.0f} readings/s batched ({100 * ratio:.0f}% of raw COPY), "
                 f"{single_rate:,.0f} readings/s single ({100 * single_ratio:.0f}% of raw broker), "
                 f"p95 {p95:.0f} ms")
    if scale:
        rows, scale_copies, scale_rates = scale
        scale_copy, scale_rate, scale_ratio = ratio_of_medians(scale_copies, scale_rates)
        print(f"at scale ({args.at_scale}, {rows:,} rows in readings, writing into its largest weekly partition): "
              f"raw COPY {scale_copy:,.0f} rows/s, batched {scale_rate:,.0f} readings/s committed (medians); "
              f"rounds: {rounds_text(scale_copies, scale_rates)}")
        last_line += f"; at {rows / 1e6:.0f} M rows: {scale_rate:,.0f} readings/s ({100 * scale_ratio:.0f}%)"
    print(last_line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
