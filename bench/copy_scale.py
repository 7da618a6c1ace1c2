"""Raw COPY rate against table size: weekly partitions versus one table with the same primary key.

Against a database filled by bench/seed.py (1 M, 10 M, 50 M rows: `--days`). The same plain loader as
bench/ingest.py's baseline (series-id lookup, binary COPY, 10k-row batches) writes 200,000 new readings
(a fraction of a second off the seed's 20 s grid, so nothing collides) into `readings`, into its largest
weekly partition, and with --flat into `readings_flat`: every seeded row in one table with the primary
key (series_id, ts), made once (and kept) by this script. Runs alternate between the two.

    python bench/copy_scale.py --database ioc_bench [--flat] [--reps 2]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import largest_partition_middle, raw_copy_rate, workload  # noqa: E402
from ioc.config import load_config  # noqa: E402

CONFIG_DIR = ROOT / "var" / "bench" / "config"  # written by bench/seed.py


def ensure_flat(url: str) -> None:
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('readings_flat')").fetchone()[0]:
            return
        began = time.perf_counter()
        conn.execute("CREATE TABLE readings_flat AS SELECT * FROM readings ORDER BY series_id, ts")
        conn.execute("ALTER TABLE readings_flat ADD PRIMARY KEY (series_id, ts)")
        conn.commit()
        print(f"readings_flat made in {time.perf_counter() - began:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--flat", action="store_true", help="also COPY into one unpartitioned table")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--server-url", default=os.environ.get("IOC_BENCH_SERVER_URL",
                                                                "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    info = psycopg.conninfo.conninfo_to_dict(args.server_url)
    info["dbname"] = args.database
    url = psycopg.conninfo.make_conninfo(**info)
    config = load_config(CONFIG_DIR, environ={})
    if args.flat:
        ensure_flat(url)
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT raw_rows FROM bench_meta").fetchone()[0]
        largest = conn.execute("SELECT max(c.reltuples)::bigint FROM pg_inherits i JOIN pg_class c "
                               "ON c.oid = i.inhrelid WHERE i.inhparent = 'readings'::regclass").fetchone()[0]
    middle = largest_partition_middle(url)
    rates: dict[str, list[float]] = {"readings": [], "readings_flat": []}
    for rep in range(args.reps):
        for table in ["readings", "readings_flat"] if args.flat else ["readings"]:
            start = middle + timedelta(hours=rep, seconds=random.randrange(1, 10**6) / 10**6)
            rates[table].append(raw_copy_rate(url, workload(config, 200_000, start), table=table))
    line = (f"copy at {rows / 1e6:.1f} M rows: partitioned (largest partition {largest / 1e6:.1f} M) "
            + " / ".join(f"{r:,.0f}" for r in rates["readings"]) + " rows/s")
    if args.flat:
        line += ", one table " + " / ".join(f"{r:,.0f}" for r in rates["readings_flat"]) + " rows/s"
    print(line)


if __name__ == "__main__":
    main()
