"""Benchmark dataset: N days of history for every series of the catalog, loaded fast, then rolled up.

Creates its own database (default `ioc_bench`, dropped and created fresh) with the product's schema
(migrations) and catalog (config/), optionally with every region entity replicated R times under
generated ids (`<id>-r2`, ...: same kind, area and levels) — in the bench database and its config only.
Every series gets one reading per `--cadence` over `--days` ending now: a daily wave plus noise inside
the metric's valid range (the shape of the data does not change the cost of the queries).

Loading: numpy builds PostgreSQL's binary COPY format directly (no per-row Python), `--workers`
processes each COPY their share of series week by week in key order (so primary-key index inserts
append): into the weekly partitions by name on plain PostgreSQL, into the `readings` hypertable (which
routes rows to its chunks) on TimescaleDB. Then `latest` is filled, the rollups are built — plain
PostgreSQL: the product's own `ioc.rollups.recompute` (in parallel by day); TimescaleDB: one
refresh_continuous_aggregate over the whole range (ioc.timescale) — and VACUUM ANALYZE leaves the
tables as a running system would have them. Prints the shape, rows, rows/s, time per phase and the
disk taken. `--server-url` may name a server that preloads TimescaleDB: the database is then seeded
on the TimescaleDB path, and bench/panels.py reads it alike.

    python bench/seed.py [--days 31] [--cadence 20s] [--replicas 1] [--database ioc_bench] [--workers 2]

Default shape: 117 entities, 402 series × 31 days × one reading per 20 s = 53.8 M raw rows.
The config the panels benchmark reads (database URL, replicated region) is written to var/bench/config.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import yaml
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ioc import timescale  # noqa: E402
from ioc.config import copy_config, load_config, parse_duration  # noqa: E402
from ioc.db import Partitions, migrate, open_pool, partition_start, sync_catalog  # noqa: E402
from ioc.rollups import recompute  # noqa: E402
from ioc.services import fresh_database  # noqa: E402

CONFIG_DIR = ROOT / "var" / "bench" / "config"
PG_EPOCH_US = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000
HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
ROW = np.dtype([("fields", ">i2"), ("l1", ">i4"), ("sid", ">i4"), ("l2", ">i4"), ("ts", ">i8"),
                ("l3", ">i4"), ("value", ">f8")])  # one tuple of (int4, timestamptz, float8), 34 bytes
CHUNK_ROWS = 1_000_000



def write_config(url: str, replicas: int) -> Path:
    """The shipped config pointed at the bench database, its entities replicated `replicas` times."""
    CONFIG_DIR.mkdir(parents=True, exist_ok=True)
    copy_config(CONFIG_DIR, {"database": {"url": url}, "storage": {"raw_retention": "400d"}},
                feeds={"simulator": {"enabled": False}})
    path = CONFIG_DIR / "region.yaml"
    region = yaml.safe_load(path.read_text(encoding="utf-8"))
    originals = region["entities"]
    for k in range(2, replicas + 1):
        for entity in originals[: len(originals)]:
            copy = dict(entity, id=f"{entity['id']}-r{k}")
            copy["name"] = {lang: f"{text} #{k}" for lang, text in entity["name"].items()}
            region["entities"].append(copy)
    path.write_text(yaml.safe_dump(region, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return CONFIG_DIR


def values_for(sid: int, low: float, high: float, t_s: np.ndarray) -> np.ndarray:
    """A daily wave around mid-range plus noise, inside [low, high], rounded to 2 decimals."""
    rng = np.random.default_rng(sid)
    span = high - low if np.isfinite(high - low) and high > low else 100.0
    mid = low + span / 2
    phase = rng.uniform(0, 2 * np.pi)
    wave = np.sin(2 * np.pi * t_s / 86400 + phase) * span * 0.15
    noise = rng.normal(0, span * 0.02, len(t_s))
    return np.round(np.clip(mid + wave + noise, low, high), 2)


def copy_worker(args: tuple) -> int:
    """COPY one share of the series into each weekly partition, series by series in time order."""
    url, series, weeks, start_us, end_us, step_us, hypertable = args
    rows = 0
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        for name, lo_us, hi_us in weeks:
            partition = "readings" if hypertable else name
            first = max(lo_us, start_us)
            first += (-(first - start_us)) % step_us  # next slot of the grid
            times = np.arange(first, min(hi_us, end_us), step_us, dtype=np.int64)
            if not len(times):
                continue
            t_s = (times + PG_EPOCH_US) / 1e6
            buffer, in_buffer = [], 0
            for sid, low, high in series:
                block = np.empty(len(times), dtype=ROW)
                block["fields"], block["l1"], block["l2"], block["l3"] = 3, 4, 8, 8
                block["sid"], block["ts"], block["value"] = sid, times, values_for(sid, low, high, t_s)
                buffer.append(block)
                in_buffer += len(block)
                rows += len(block)
                if in_buffer >= CHUNK_ROWS:
                    _copy(conn, partition, buffer)
                    buffer, in_buffer = [], 0
            if buffer:
                _copy(conn, partition, buffer)
    return rows


def _copy(conn: psycopg.Connection, partition: str, blocks: list[np.ndarray]) -> None:
    statement = sql.SQL("COPY {} (series_id, ts, value) FROM STDIN (FORMAT BINARY)").format(sql.Identifier(partition))
    with conn.cursor().copy(statement) as copy:
        copy.write(HEADER)
        for block in blocks:
            copy.write(block.tobytes())
        copy.write(TRAILER)
    conn.commit()


def rollup_worker(args: tuple) -> None:
    url, days = args
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        for lo, hi in days:
            recompute(conn, lo, hi)
            conn.commit()


def sizes(url: str, path: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        if path == "timescaledb":
            return {"database": conn.execute("SELECT pg_database_size(current_database())").fetchone()[0],
                    **{f"{name} (hypertable, with index)": size
                       for name, size in timescale.relation_sizes(conn).items()}}
        raw = conn.execute("SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits "
                           "WHERE inhparent = 'readings'::regclass").fetchone()[0]
        return {"database": conn.execute("SELECT pg_database_size(current_database())").fetchone()[0],
                "readings (all partitions, with index)": raw,
                "rollup_1m": conn.execute("SELECT pg_total_relation_size('rollup_1m')").fetchone()[0],
                "rollup_1h": conn.execute("SELECT pg_total_relation_size('rollup_1h')").fetchone()[0]}


def gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=float, default=31)
    parser.add_argument("--cadence", default="20s", help="time between two readings of one series")
    parser.add_argument("--replicas", type=int, default=1, help="copies of every region entity (1: as shipped)")
    parser.add_argument("--database", default="ioc_bench")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--server-url", default=os.environ.get("IOC_BENCH_SERVER_URL",
                                                                "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    cadence = parse_duration(args.cadence)
    began = time.perf_counter()
    url = fresh_database(args.server_url, args.database)
    config = load_config(write_config(url, args.replicas), environ={})
    pool = open_pool(url, 1, 2, name="seed")
    storage = migrate(pool, config.settings.storage)
    sync_catalog(pool, config)
    end = datetime.fromtimestamp(time.time() // cadence.total_seconds() * cadence.total_seconds(), UTC)
    start = end - timedelta(days=args.days)
    with pool.connection() as conn:
        Partitions(storage).ensure(conn, start, end)
        series = [(sid, *config.metrics[metric].valid_range) for sid, metric in
                  conn.execute("SELECT id, metric FROM series ORDER BY id")]
    pool.close()
    interval = storage.partition_interval
    weeks, week = [], partition_start(start, interval)
    while week <= end:
        weeks.append((f"readings_p{week:%Y%m%d}", _us(week), _us(week + interval)))
        week += interval
    slots = int((end - start) / cadence)
    print(f"storage: {storage.path}")
    print(f"shape: {len(config.region.entities)} entities, {len(series)} series x {args.days:g} days x one reading "
          f"per {cadence.total_seconds():g} s = {len(series) * slots:,} raw rows; database {args.database}")

    t = time.perf_counter()
    shares = [series[i::args.workers] for i in range(args.workers)]
    with multiprocessing.get_context("spawn").Pool(args.workers) as workers:
        rows = sum(workers.map(copy_worker, [(url, share, weeks, _us(start), _us(end),
                                              int(cadence.total_seconds() * 1e6), storage.path == "timescaledb")
                                             for share in shares]))
    load_s = time.perf_counter() - t
    print(f"load: {rows:,} rows in {load_s:.1f} s = {rows / load_s:,.0f} rows/s ({args.workers} workers, binary COPY)")

    t = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO latest (series_id, ts, value, feed) SELECT s.id, r.ts, r.value, 'bench' "
                     "FROM series s CROSS JOIN LATERAL (SELECT ts, value FROM readings WHERE series_id = s.id "
                     "ORDER BY ts DESC LIMIT 1) r")
        conn.execute("CREATE TABLE bench_meta (seeded_at timestamptz, start_ts timestamptz, end_ts timestamptz, "
                     "cadence interval, raw_rows bigint)")
        conn.execute("INSERT INTO bench_meta VALUES (now(), %s, %s, %s, %s)", (start, end, cadence, rows))
    day0 = start.replace(hour=0, minute=0, second=0, microsecond=0)
    days = [(day0 + timedelta(days=i), day0 + timedelta(days=i + 1)) for i in range(int(args.days) + 2)]
    if storage.path == "timescaledb":
        # One refresh over the whole range: concurrent refreshes of one aggregate would only wait on each other.
        with psycopg.connect(url, autocommit=True) as conn:
            timescale.refresh_windows(conn, [(days[0][0], days[-1][1])])
    else:
        with multiprocessing.get_context("spawn").Pool(args.workers) as workers:
            workers.map(rollup_worker, [(url, days[i::args.workers]) for i in range(args.workers)])
    with psycopg.connect(url) as conn:
        minute_rows = conn.execute("SELECT count(*) FROM rollup_1m").fetchone()[0]
        hour_rows = conn.execute("SELECT count(*) FROM rollup_1h").fetchone()[0]
    rollup_s = time.perf_counter() - t
    print(f"rollups: {minute_rows:,} minute rows, {hour_rows:,} hour rows in {rollup_s:.1f} s "
          f"({rows / rollup_s:,.0f} raw rows/s)")

    t = time.perf_counter()
    tables = "readings, latest, series" if storage.path == "timescaledb" else \
        "readings, rollup_1m, rollup_1h, latest, series"  # continuous aggregates are views: not vacuumed by name
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"VACUUM (ANALYZE) {tables}")
    print(f"vacuum analyze: {time.perf_counter() - t:.1f} s")
    for name, size in sizes(url, storage.path).items():
        print(f"disk: {name} {gib(size)}")
    print(f"seed: {rows:,} raw rows, {rows / load_s:,.0f} rows/s load, total {time.perf_counter() - began:.0f} s; "
          f"config for bench/panels.py in {CONFIG_DIR.relative_to(ROOT)}")


def _us(ts: datetime) -> int:
    """Microseconds since PostgreSQL's epoch (2000-01-01 UTC), as binary timestamptz carries them."""
    return int(ts.timestamp() * 1_000_000) - PG_EPOCH_US


if __name__ == "__main__":
    main()
