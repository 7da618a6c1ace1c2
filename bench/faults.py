"""Fault runs: is every published reading stored exactly once, whatever breaks meanwhile?

Each scenario starts its own PostgreSQL and Mosquitto (the shipped deploy/mosquitto.conf) on free
ports, runs the ingester as its own process (`app.py --ingest-only`), publishes a known set of
readings while the fault happens, then compares what is stored with what was published:

    kill9          kill -9 the ingester at random moments and restart it
    pg_down        stop PostgreSQL mid-stream, start it again (the ingester spools meanwhile)
    broker_restart restart Mosquitto mid-stream (persistent sessions keep the queued messages)
    spool_full     stop PostgreSQL and publish more than the spool holds (acknowledgements stop,
                   the broker keeps the rest)
    revoke_readings    INSERT on `readings` revoked for a while (a ProgrammingError, not a lost connection)
    revoke_both        INSERT on `readings` and `dead_letters` revoked (nowhere to put a dead letter either)
    read_only          PostgreSQL read-only (`default_transaction_read_only`) for a while
    long_outage        PostgreSQL stopped for 180 s; catch-up after it returns must take < 10 s

The ingester connects as a role of its own (not a superuser), so that privileges can be taken from it.

    python bench/faults.py [--scale full|small] [--only kill9,pg_down]

Last line: `faults: <k>/<n> scenarios lossless`. The test suite runs the same scenarios small.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import encode_messages, workload  # noqa: E402
from ioc.config import Config, copy_config, load_config  # noqa: E402
from ioc.services import Mosquitto, Postgres, free_port  # noqa: E402
from ioc.transports.mqtt import BrokerAddress, connect_properties, make_client  # noqa: E402

PER_MESSAGE = 50  # readings per MQTT message (a gateway's batch)


@dataclass(frozen=True)
class Scale:
    readings: int  # published per scenario
    rate: float  # readings/s the publisher paces itself to
    kills: int  # kill -9 in the kill9 scenario
    pg_down: float  # seconds PostgreSQL is stopped
    refused: float  # seconds INSERT is revoked, or the server read-only
    long_outage: float  # seconds PostgreSQL is stopped in long_outage
    spool_bytes: int  # spool limit in the spool_full scenario
    settle: float  # seconds to wait for the last readings after publishing ended


SCALES = {
    "full": Scale(readings=120_000, rate=2_000, kills=10, pg_down=30, refused=20, long_outage=180,
                  spool_bytes=2 * 1024 * 1024, settle=120),
    "small": Scale(readings=12_000, rate=2_000, kills=2, pg_down=3, refused=3, long_outage=8,
                   spool_bytes=64 * 1024, settle=60),
}
CATCH_UP_LIMIT = 10.0  # seconds from PostgreSQL's return to every reading stored, in long_outage
APP_ROLE = "ioc_app"


@dataclass
class Result:
    scenario: str
    published: int
    stored: int
    duplicates: int
    lost: int
    unexpected: int  # stored rows nobody published, or with another value
    seconds: float
    note: str = ""
    failed_check: str = ""  # a condition of the scenario other than the counts that did not hold

    @property
    def lossless(self) -> bool:
        return self.lost == 0 and self.duplicates == 0 and self.unexpected == 0 and not self.failed_check

    def line(self) -> str:
        return (f"{self.scenario}: published {self.published} / stored {self.stored} / duplicates "
                f"{self.duplicates} / lost {self.lost} ({'lossless' if self.lossless else 'NOT lossless'}"
                f"{', ' + str(self.unexpected) + ' unexpected' if self.unexpected else ''}; "
                f"{self.seconds:.0f} s{'; ' + self.note if self.note else ''}"
                f"{'; FAILED: ' + self.failed_check if self.failed_check else ''})")


class Rig:
    """A throwaway world: PostgreSQL, Mosquitto, a config folder and the ingester process."""

    def __init__(self, name: str, spool_max_bytes: int = 1 << 30, queue_max_messages: int = 20_000):
        self.tmp = Path(tempfile.mkdtemp(prefix=f"ioc-faults-{name}-"))
        self.run = secrets.token_hex(3)
        self.pg = Postgres().start()
        with psycopg.connect(self.pg.url, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN")
            conn.execute(f"CREATE DATABASE ioc OWNER {APP_ROLE}")
        self.admin_url = self.pg.url.rsplit("/", 1)[0] + "/ioc"  # the superuser, in the app's database
        self.app_url = self.admin_url.replace("postgres@", f"{APP_ROLE}@", 1)
        self.broker = Mosquitto(self.tmp / "mosquitto").start()
        self.prefix = f"iocfault{self.run}"
        self.port = free_port()
        self.checks: list[dict] = []  # /healthz answers seen during the fault
        self.expected = 0  # readings published in the scenario (for faults that wait for catch-up)
        self.catch_up: float | None = None  # seconds from PostgreSQL's return to every reading stored
        folder = copy_config(self.tmp / "config", {
            "database": {"url": self.app_url, "pool_min": 1, "pool_max": 4},
            "mqtt": {"url": self.broker.url, "topic_prefix": self.prefix, "client_id": f"iocfault-{self.run}"},
            "ingest": {"spool_dir": str(self.tmp / "spool"), "spool_max_bytes": spool_max_bytes,
                       "queue_max_messages": queue_max_messages},
        }, feeds={"simulator": {"enabled": False}})
        self.config: Config = load_config(folder, environ={})
        self.folder = folder
        self.ingester: subprocess.Popen | None = None
        self.log = open(self.tmp / "ingester.log", "ab")  # noqa: SIM115 (closed in close())

    def start_ingester(self, timeout: float = 60) -> None:
        self.ingester = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--ingest-only", "--config-dir", str(self.folder),
             "--port", str(self.port)],
            stdout=subprocess.PIPE, stderr=self.log, text=True, cwd=ROOT)
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.ingester.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not line or line[0].strip() != "ingest running":
            raise RuntimeError(f"the ingester did not start; see {self.tmp / 'ingester.log'}")

    def kill_ingester(self) -> None:
        self.ingester.kill()  # SIGKILL: no cleanup, no flush, no goodbye to the broker
        self.ingester.wait(30)

    def stop_ingester(self) -> None:
        if self.ingester and self.ingester.poll() is None:
            self.ingester.terminate()
            try:
                self.ingester.wait(60)
            except subprocess.TimeoutExpired:
                self.ingester.kill()
                self.ingester.wait(30)

    def admin(self, *statements: str) -> None:
        """Run statements as the superuser (read-only mode off for this session, whatever the server's)."""
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute("SET default_transaction_read_only = off")
            for statement in statements:
                conn.execute(statement)

    def health(self) -> dict:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read())
        except (OSError, ValueError):
            return {}

    def watch_health(self, seconds: float) -> None:
        """Keep /healthz's answers for `seconds` (the fault is on meanwhile)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if answer := self.health():
                self.checks.append(answer)
            time.sleep(0.5)

    def writer_seen_failing(self) -> bool:
        return any(not c.get("checks", {}).get("writer", {}).get("ok", True) for c in self.checks)

    def spool_files(self) -> int:
        return sum(1 for _ in (self.tmp / "spool").rglob("*.seg"))

    def close(self) -> None:
        self.stop_ingester()
        self.broker.stop()
        self.pg.remove()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- what was published, what is stored ------------------------------------------------------

    def messages(self, n: int) -> tuple[list[tuple[str, bytes, int]], dict[tuple[str, str, datetime], float]]:
        items = workload(self.config, n, datetime.now(UTC).replace(microsecond=0) - timedelta(days=1))
        expected = {(e, m, datetime.fromtimestamp(ts, UTC)): v for _, e, m, ts, v in items}
        return encode_messages(self.prefix, items, PER_MESSAGE), expected

    def stored(self) -> list[tuple[str, str, datetime, float]]:
        with psycopg.connect(self.admin_url) as conn:
            return conn.execute("SELECT s.entity, s.metric, r.ts, r.value FROM readings r "
                                "JOIN series s ON s.id = r.series_id").fetchall()

    def count(self) -> int:
        try:
            with psycopg.connect(self.admin_url, connect_timeout=3) as conn:
                return conn.execute("SELECT count(*) FROM readings").fetchone()[0]
        except psycopg.OperationalError:
            return -1


class Publisher:
    """QoS 1, paced, and patient: a message counts as published once the broker acknowledged it.
    Messages published while the broker is away are queued by paho and sent after it reconnects."""

    def __init__(self, url: str, settings, client_id: str):
        address = BrokerAddress.from_url(url)
        self.client = make_client(address, settings, client_id=client_id)
        self.client.max_queued_messages_set(0)
        self.client.connect(address.host, address.port, keepalive=10, clean_start=False,
                            properties=connect_properties(settings))
        self.acked: set[int] = set()  # packet ids the broker acknowledged (a run stays below 65,535 messages)
        self.client.on_publish = lambda client, userdata, mid, reason_code, properties: self.acked.add(mid)
        self.client.loop_start()
        self.mids: list[int] = []

    def run(self, messages: list[tuple[str, bytes, int]], rate: float, window: int = 2000) -> None:
        began, sent = time.perf_counter(), 0
        for topic, payload, n in messages:
            if (wait := began + sent / rate - time.perf_counter()) > 0:
                time.sleep(wait)
            while len(self.mids) >= window and self.mids[-window] not in self.acked:
                time.sleep(0.005)
            info = self.client.publish(topic, payload, qos=1)
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):  # NO_CONN: queued for later
                raise RuntimeError(f"publish failed: {mqtt.error_string(info.rc)}")
            self.mids.append(info.mid)
            sent += n

    def drain(self, timeout: float = 300) -> int:
        deadline = time.monotonic() + timeout
        while not self.acked.issuperset(self.mids) and time.monotonic() < deadline:
            time.sleep(0.05)
        return sum(mid in self.acked for mid in self.mids)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def in_background(fn: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=fn, daemon=True)
    thread.start()
    return thread


def settle(rig: Rig, target: int, timeout: float) -> None:
    """Wait until the store holds `target` readings, or has stopped growing for a while."""
    deadline, last, still = time.monotonic() + timeout, -2, time.monotonic()
    while time.monotonic() < deadline:
        n = rig.count()
        if n >= target:
            return
        if n != last:
            last, still = n, time.monotonic()
        elif time.monotonic() - still > 20:
            return
        time.sleep(0.25)


def compare(rig: Rig, scenario: str, expected: dict, published_msgs: int, total_msgs: int, began: float,
            note: str = "") -> Result:
    rows = rig.stored()
    keys = [(e, m, ts) for e, m, ts, _ in rows]
    distinct = set(keys)
    unexpected = sum(1 for e, m, ts, v in rows if expected.get((e, m, ts)) != v)
    if published_msgs < total_msgs:
        note = f"{note}; only {published_msgs}/{total_msgs} messages acknowledged by the broker".strip("; ")
    return Result(scenario, len(expected), len(distinct & expected.keys()), len(keys) - len(distinct),
                  len(expected.keys() - distinct), unexpected, time.monotonic() - began, note)


def scenario(name: str, scale: Scale, fault: Callable[[Rig, float], str],
             check: Callable[[Rig, Result], str] | None = None, **rig_options) -> Result:
    """Publish scale.readings while `fault(rig, publish_seconds)` runs alongside, then compare; `check`
    names a further condition of the scenario that did not hold (empty: all held)."""
    began = time.monotonic()
    rig = Rig(name, **rig_options)
    try:
        rig.start_ingester()
        messages, expected = rig.messages(scale.readings)
        rig.expected = len(expected)
        pub = Publisher(rig.broker.url, rig.config.settings.mqtt, f"iocfault-pub-{rig.run}")
        publishing = in_background(lambda: pub.run(messages, scale.rate))
        note = fault(rig, scale.readings / scale.rate) or ""
        publishing.join()
        published = pub.drain()
        settle(rig, len(expected), scale.settle)
        pub.close()
        rig.stop_ingester()
        result = compare(rig, name, expected, published, len(messages), began, note)
        if check is not None:
            result.failed_check = check(rig, result)
        return result
    finally:
        rig.close()


# --- the faults ------------------------------------------------------------------------------------

def kill9(kills: int) -> Callable[[Rig, float], str]:
    def fault(rig: Rig, seconds: float) -> str:
        rng = random.Random()
        moments = sorted(rng.uniform(0.05, 0.95) * seconds for _ in range(kills))
        start, restarts = time.monotonic(), []
        for at in moments:
            if (wait := start + at - time.monotonic()) > 0:
                time.sleep(wait)
            rig.kill_ingester()
            t = time.monotonic()
            rig.start_ingester()
            restarts.append(time.monotonic() - t)
        return f"{kills} kill -9 at {', '.join(f'{m:.1f}' for m in moments)} s; restart " \
               f"{max(restarts):.1f} s at most"
    return fault


def pg_down(seconds_down: float) -> Callable[[Rig, float], str]:
    def fault(rig: Rig, seconds: float) -> str:
        time.sleep(seconds * 0.25)
        rig.pg.stop()
        spooled = 0
        deadline = time.monotonic() + seconds_down
        while time.monotonic() < deadline:
            spooled = max(spooled, rig.spool_files())
            time.sleep(0.2)
        rig.pg.start()
        return f"PostgreSQL down {seconds_down:.0f} s; up to {spooled} spool segment(s) meanwhile"
    return fault


def broker_restart(rig: Rig, seconds: float) -> str:
    time.sleep(seconds * 0.4)
    t = time.monotonic()
    rig.broker.restart()
    return f"Mosquitto restarted in {time.monotonic() - t:.1f} s"


def spool_full(seconds_down: float) -> Callable[[Rig, float], str]:
    def fault(rig: Rig, seconds: float) -> str:
        time.sleep(seconds * 0.1)
        rig.pg.stop()
        # Down until publishing is over: far more than the spool holds arrives meanwhile.
        full_seen = False
        deadline = time.monotonic() + max(seconds_down, seconds * 0.9)
        log = rig.tmp / "ingester.log"
        while time.monotonic() < deadline:
            full_seen = full_seen or b"spool full" in log.read_bytes()
            time.sleep(0.2)
        rig.pg.start()
        return f"spool limit {rig.config.settings.ingest.spool_max_bytes} bytes; " \
               f"{'spool filled, acknowledgements held' if full_seen else 'spool never filled'}"
    return fault


def refused(statements_on: list[str], statements_off: list[str], what: str,
            seconds_refused: float) -> Callable[[Rig, float], str]:
    """The database refuses writes (not a lost connection) for `seconds_refused`, then takes them again."""
    def fault(rig: Rig, seconds: float) -> str:
        time.sleep(seconds * 0.25)
        rig.admin(*statements_on)
        rig.watch_health(seconds_refused)
        rig.admin(*statements_off)
        spool = [c["checks"]["spool"]["batches"] for c in rig.checks if "spool" in c.get("checks", {})]
        return f"{what} for {seconds_refused:.0f} s; writer failing on /healthz: " \
               f"{'yes' if rig.writer_seen_failing() else 'NO'}; up to {max(spool, default=0)} batches spooled"
    return fault


def writer_was_failing(rig: Rig, result: Result) -> str:
    return "" if rig.writer_seen_failing() else "/healthz never showed the writer failing during the fault"


def long_outage(seconds_down: float) -> Callable[[Rig, float], str]:
    def fault(rig: Rig, seconds: float) -> str:
        time.sleep(seconds * 0.25)
        rig.pg.stop()
        rig.watch_health(seconds_down)
        rig.pg.start()
        back = time.monotonic()
        # Publishing is over by now: everything published must be stored within the catch-up limit.
        while rig.count() < rig.expected and time.monotonic() - back < CATCH_UP_LIMIT * 6:
            time.sleep(0.1)
        rig.catch_up = time.monotonic() - back
        return f"PostgreSQL down {seconds_down:.0f} s; every reading stored {rig.catch_up:.1f} s after it returned"
    return fault


def caught_up(rig: Rig, result: Result) -> str:
    failed = [] if rig.writer_seen_failing() else ["/healthz never showed the writer failing during the outage"]
    if rig.catch_up is None or rig.catch_up >= CATCH_UP_LIMIT:
        failed.append(f"catch-up took {rig.catch_up} s (limit {CATCH_UP_LIMIT:.0f} s)")
    return "; ".join(failed)


def run(scale: Scale, only: set[str] | None = None, report: Callable[[str], None] = print) -> list[Result]:
    scenarios: dict[str, Callable[[], Result]] = {
        "kill9": lambda: scenario("kill9", scale, kill9(scale.kills)),
        "pg_down": lambda: scenario("pg_down", scale, pg_down(scale.pg_down)),
        "broker_restart": lambda: scenario("broker_restart", scale, broker_restart),
        "spool_full": lambda: scenario("spool_full", scale, spool_full(scale.pg_down),
                                       spool_max_bytes=scale.spool_bytes, queue_max_messages=20),
        "revoke_readings": lambda: scenario("revoke_readings", scale, refused(
            [f"REVOKE INSERT ON readings FROM {APP_ROLE}"], [f"GRANT INSERT ON readings TO {APP_ROLE}"],
            "INSERT on readings revoked", scale.refused), writer_was_failing),
        "revoke_both": lambda: scenario("revoke_both", scale, refused(
            [f"REVOKE INSERT ON readings, dead_letters FROM {APP_ROLE}"],
            [f"GRANT INSERT ON readings, dead_letters TO {APP_ROLE}"],
            "INSERT on readings and dead_letters revoked", scale.refused), writer_was_failing),
        "read_only": lambda: scenario("read_only", scale, refused(
            ["ALTER SYSTEM SET default_transaction_read_only = on", "SELECT pg_reload_conf()"],
            ["ALTER SYSTEM RESET default_transaction_read_only", "SELECT pg_reload_conf()"],
            "PostgreSQL read-only", scale.refused), writer_was_failing),
        "long_outage": lambda: scenario("long_outage", scale, long_outage(scale.long_outage), caught_up),
    }
    results = []
    for name, go in scenarios.items():
        if only and name not in only:
            continue
        results.append(go())
        report(results[-1].line())
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--only", help="comma-separated scenarios")
    args = parser.parse_args()
    results = run(SCALES[args.scale], set(args.only.split(",")) if args.only else None)
    print(f"faults: {sum(r.lossless for r in results)}/{len(results)} scenarios lossless")
    return 0 if all(r.lossless for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
