"""Scale-out: ingest workers as separate processes (`app.py --ingest-only --worker N`) on an MQTT shared
subscription. Every reading is stored exactly once, each worker takes a share, and the throughput of
two workers is measured against one.

The broker is a throwaway Mosquitto from deploy/mosquitto.conf (the shipped, lossless configuration):
the machine's shared Mosquitto keeps the default queue limit of 1000 messages, which drops messages for
a subscriber that acknowledges after its commit while a fast publisher runs ahead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import requests

from bench.ingest import encode_messages, publish_run, workload
from ioc.config import copy_config, load_config
from ioc.services import Mosquitto, free_port
from ioc.transports.mqtt import BrokerAddress, Publisher
from tests.support import OUTPUT, RUN_ID, drop_database, isolated_config
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> Mosquitto:
    mosquitto = Mosquitto(tmp_path_factory.mktemp("mosquitto")).start()
    yield mosquitto
    mosquitto.stop()


@pytest.fixture(scope="module")
def scale_config(tmp_path_factory, pg_server_url: str, broker: Mosquitto):
    folder = isolated_config(tmp_path_factory.mktemp("scale-config"), pg_server_url, broker.url, "scale",
                             {"mqtt": {"protocol": 5}, "ingest": {"batch_max_delay": "50ms"},
                              "brief": {"enabled": False}})
    config = load_config(folder, environ={})
    yield folder, config
    drop_database(pg_server_url, f"ioc_test_{RUN_ID}_scale")


def group_config(folder: Path, group: str) -> Path:
    """The test's config with its own client id, so that each group of workers has its own sessions and
    shared subscription (a stopped worker's session would otherwise still be one of the group)."""
    client_id = f"{load_config(folder, environ={}).settings.mqtt.client_id}-{group}"
    return copy_config(folder.parent / f"{folder.name}-{group}", {"mqtt": {"client_id": client_id}}, source=folder)


@contextmanager
def worker(folder: Path, number: int):
    """`app.py --ingest-only --worker N` with /healthz on its own port; stopped by its pid."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}  # the config folder says it all
    process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--ingest-only", "--worker", str(number),
                                "--port", str(port), "--config-dir", str(folder)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=env)
    try:
        assert process.stdout.readline().strip() == "ingest running", f"worker {number} did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)


def health(url: str) -> dict:
    return requests.get(url + "/healthz", timeout=10).json()


def settled(urls: list[str], messages: int) -> bool:
    checks = [health(url)["checks"] for url in urls]
    return (sum(c["broker"]["messages"] for c in checks) >= messages
            and all(c["writer"]["queue_depth"] == 0 and c["writer"]["queued_readings"] == 0 for c in checks))


def stored_per_series(url: str) -> Counter:
    with psycopg.connect(url) as conn:
        return Counter(dict(conn.execute("SELECT s.entity || '/' || s.metric, count(*) FROM readings r "
                                         "JOIN series s ON s.id = r.series_id GROUP BY 1").fetchall()))


def total(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM readings").fetchone()[0]


def run_load(config, n: int, days_ago: int) -> tuple[float, Counter, int]:
    """Publish n distinct readings (100 per message) and wait until all are committed.
    Returns (readings/s from first publish to last commit, readings per series published, messages)."""
    db = config.settings.database.url
    items = workload(config, n, datetime.now(UTC) - timedelta(days=days_ago))
    messages = encode_messages(config.settings.mqtt.topic_prefix, items, 100)
    before = total(db)
    pub = Publisher(BrokerAddress.from_url(config.settings.mqtt.url), config.settings.mqtt)
    pub.connect()
    began = time.perf_counter()
    publish_run(pub, messages)
    assert wait_until(lambda: total(db) >= before + n, timeout=300), f"only {total(db) - before} of {n} stored"
    elapsed = time.perf_counter() - began
    pub.close()
    return n / elapsed, Counter(f"{e}/{m}" for _, e, m, _, _ in items), len(messages)


def test_two_workers_store_every_reading_once_and_share_the_load(scale_config):
    folder, config = scale_config
    db = config.settings.database.url
    with ExitStack() as stack:
        pair = group_config(folder, "pair")
        urls = [stack.enter_context(worker(pair, n)) for n in (1, 2)]
        _, published, messages = run_load(config, 40_000, 60)
        # Every published message has reached a worker and nothing waits in a writer: a duplicate
        # delivery would be counted in `messages` (asserted below) and committed by now.
        assert wait_until(lambda: settled(urls, messages), timeout=120)
        stored = stored_per_series(db)
        assert stored == published  # every series: exactly as many rows as readings published
        checks = [health(url)["checks"] for url in urls]
    received = [c["broker"]["messages"] for c in checks]
    clients = {c["broker"]["client_id"] for c in checks}
    assert len(clients) == 2 and all(c.endswith(("-1", "-2")) for c in clients)
    assert all(r > 0 for r in received), f"a worker received nothing: {received}"
    assert sum(received) == messages, f"messages received {received}, published {messages}"
    assert sum(c["writer"]["readings_stored"] for c in checks) == sum(published.values())
    assert all(c["writer"]["readings_duplicate"] == 0 for c in checks)


def test_throughput_one_worker_against_two(scale_config):
    """Measured, not asserted: on 2 cores shared by broker, database, publisher and the workers, a second
    worker adds a process but no core. The figures go to test-output/scale-out.txt."""
    folder, config = scale_config
    n = 100_000
    with worker(group_config(folder, "one"), 1):
        rate_one, _, _ = run_load(config, n, 50)
    with ExitStack() as stack:
        two = group_config(folder, "two")
        urls = [stack.enter_context(worker(two, k)) for k in (1, 2)]
        rate_two, _, _ = run_load(config, n, 40)
        shares = [health(url)["checks"]["broker"]["messages"] for url in urls]
    line = (f"scale-out: 1 ingest worker {rate_one:,.0f} readings/s, 2 workers {rate_two:,.0f} readings/s "
            f"({rate_two / rate_one:.2f}x; shares {shares[0]}/{shares[1]} messages), {n:,} readings each, "
            f"{datetime.now(UTC):%Y-%m-%d}")
    OUTPUT.mkdir(exist_ok=True)
    with (OUTPUT / "scale-out.txt").open("a", encoding="utf-8") as out:
        out.write(line + "\n")
    print(line)
    assert all(s > 0 for s in shares)


@pytest.mark.parametrize("role", ["ingest", "alerts", "ui"])
def test_split_roles_refuse_the_embedded_services(tmp_path, role):
    """The embedded database and broker are per process: processes of a split deployment could not share them."""
    from ioc.runtime import Runtime

    config = load_config(copy_config(tmp_path / "config", {}), environ={})
    with pytest.raises(ValueError, match="IOC_DATABASE_URL"):
        Runtime(config, role=role).start()
