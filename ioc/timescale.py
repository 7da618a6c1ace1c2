"""Everything TimescaleDB-specific: detection, refreshing continuous aggregates over touched hours,
reconciling policies, and the path's own health (extension, chunks, compression, background jobs).

Written against TimescaleDB's documentation (2.x; lessons from a real run of 2.28.3 on PostgreSQL 15.20
in docs/OPERATIONS.md). TimescaleDB cannot be installed on the development machine: the suite runs this
module against a server named by IOC_TEST_TIMESCALE_URL.

- Detection never breaks start-up: the extension must be available (pg_available_extensions) and
  preloaded (shared_preload_libraries) before CREATE EXTENSION is tried, and the attempt runs on a
  connection of its own, because a half-installed extension answers with FATAL and drops it.
- Charts are current to the last commit: the writer marks the hours every commit touched in
  `rollup_dirty` (both paths); queries read raw readings for those hours, and the rollups job calls
  `refresh_continuous_aggregate` for exactly those hours (real-time aggregation only covers data newer
  than the watermark, so a late reading would otherwise wait for the next policy run). The refresh
  policies stay as a safety net.
- Policies are reconciled under the migrations' advisory lock: added only when missing
  (`if_not_exists`), altered (`alter_job`) only when the configuration changed, so job ids and their
  history survive restarts.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from ioc.config import StorageSettings

log = logging.getLogger(__name__)

EXTENSION = "timescaledb"
JOB_FAILURES_DEGRADED = 3  # consecutive failures from which a background job makes /healthz degraded
HOW_TO_ENABLE = ("to use TimescaleDB install its package for this PostgreSQL version, set "
                 "shared_preload_libraries = 'timescaledb' in postgresql.conf and restart PostgreSQL "
                 "(docs/OPERATIONS.md, \"TimescaleDB\")")
CONTINUOUS_AGGREGATES = ("rollup_1m", "rollup_1h")  # in refresh order: rollup_1h is built on rollup_1m
_CONCURRENT_REFRESH_TRIES = 5  # a policy refreshing an overlapping window makes ours fail: retry briefly
_POLICY_PROCS = ("policy_refresh_continuous_aggregate", "policy_retention", "policy_compression")


# --- detection ------------------------------------------------------------------------------------

def detect(conninfo: str) -> tuple[bool, str]:
    """(usable, reason): whether `CREATE EXTENSION timescaledb` works in this database, tried on a
    connection of its own. Any failure, including a dropped connection, is an answer, never an error."""
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute("SELECT default_version, installed_version FROM pg_available_extensions "
                               "WHERE name = %s", (EXTENSION,)).fetchone()
            if row is None:
                return False, "the timescaledb extension is not installed on the server"
            if row[1] is not None:
                return True, f"timescaledb {row[1]} already created in this database"
            preload = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()[0]
            if EXTENSION not in [lib.strip().strip('"') for lib in preload.split(",")]:
                return False, (f"timescaledb {row[0]} is installed but not in shared_preload_libraries "
                               f"({preload or 'empty'})")
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            return True, f"timescaledb {row[0]} created"
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return False, f"CREATE EXTENSION timescaledb failed: {first}"


def is_hypertable(conn: psycopg.Connection, table: str = "readings") -> bool:
    if not conn.execute("SELECT to_regclass('timescaledb_information.hypertables') IS NOT NULL").fetchone()[0]:
        return False
    return conn.execute("SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables "
                        "WHERE hypertable_name = %s)", (table,)).fetchone()[0]


# --- refresh over touched hours -------------------------------------------------------------------

def refresh_windows(conn: psycopg.Connection, windows: list[tuple[datetime, datetime]]) -> bool:
    """Materialize the continuous aggregates over each [lo, hi) (hour-aligned: whole buckets of both; a
    window smaller than one bucket is refused). refresh_continuous_aggregate refuses to run inside a
    transaction: the connection must be in autocommit mode.

    False when a refresh policy kept refreshing an overlapping window ("could not refresh continuous
    aggregate ... due to a concurrent refresh", lock_not_available) through a few short retries: the
    caller leaves those hours dirty for its next run, and charts read them raw meanwhile."""
    return all(_refresh(conn, view, lo, hi) for view in CONTINUOUS_AGGREGATES for lo, hi in windows)


def clear_materialized(conn: psycopg.Connection) -> None:
    """Re-materialize everything (after readings were truncated): the aggregates match raw again."""
    for view in CONTINUOUS_AGGREGATES:
        if not _refresh(conn, view, None, None):
            raise RuntimeError(f"{view}: a refresh policy kept an overlapping refresh running")


def _refresh(conn: psycopg.Connection, view: str, lo: datetime | None, hi: datetime | None) -> bool:
    for attempt in range(1, _CONCURRENT_REFRESH_TRIES + 1):
        try:
            conn.execute("CALL refresh_continuous_aggregate(%s::regclass, %s::timestamptz, %s::timestamptz)",
                         (view, lo, hi))
            return True
        except psycopg.errors.LockNotAvailable as exc:
            if attempt == _CONCURRENT_REFRESH_TRIES:
                log.info("rollups: %s [%s, %s) not refreshed this run: %s", view, lo, hi,
                         str(exc).strip().splitlines()[0])
            else:
                time.sleep(0.2 * attempt)
    return False


# --- policies -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Policy:
    proc: str  # the job's proc_name in timescaledb_information.jobs
    relation: str  # hypertable or continuous aggregate
    config: dict[str, timedelta]  # the settings we own in the job's config
    schedule: timedelta | None = None  # None: TimescaleDB's default for the policy


def desired_policies(settings: StorageSettings) -> list[Policy]:
    """Refresh, retention and compression policies from config.

    Refresh windows start a day short of raw retention, so a refresh never reaches a range whose raw
    chunks were dropped (which would empty the aggregate there): rollups outlive raw data. Compressed
    regions of an aggregate lie outside its refresh window, or refreshes would fail on them."""
    refresh_start = settings.raw_retention - timedelta(days=1)
    minute, hour = timedelta(minutes=1), timedelta(hours=1)
    aggregate_compress = max(settings.raw_retention, settings.compress_after)
    return [
        Policy("policy_refresh_continuous_aggregate", "rollup_1m",
               {"start_offset": refresh_start, "end_offset": minute}, minute),
        Policy("policy_refresh_continuous_aggregate", "rollup_1h",
               {"start_offset": refresh_start, "end_offset": hour}, timedelta(minutes=10)),
        Policy("policy_retention", "readings", {"drop_after": settings.raw_retention}),
        Policy("policy_retention", "rollup_1m", {"drop_after": settings.minute_retention}),
        Policy("policy_retention", "rollup_1h", {"drop_after": settings.hour_retention}),
        Policy("policy_compression", "readings", {"compress_after": settings.compress_after}),
        Policy("policy_compression", "rollup_1m", {"compress_after": aggregate_compress}),
        Policy("policy_compression", "rollup_1h", {"compress_after": aggregate_compress}),
    ]


def _interval_text(value: timedelta) -> str:
    return f"{int(value.total_seconds())} seconds"


_EXISTING_JOBS = """
    SELECT j.job_id, j.proc_name, coalesce(ca.view_name, j.hypertable_name) AS relation, j.config,
           j.schedule_interval
    FROM timescaledb_information.jobs j
    LEFT JOIN timescaledb_information.continuous_aggregates ca
           ON ca.materialization_hypertable_schema = j.hypertable_schema
          AND ca.materialization_hypertable_name = j.hypertable_name
    WHERE j.proc_name = ANY(%s)
"""


def policy_matches(conn: psycopg.Connection, config: dict, schedule: timedelta, policy: Policy) -> bool:
    """Whether a job's config and schedule already say what the policy says (compared as intervals, so
    '7 days' and '168:00:00' are the same)."""
    want = {key: _interval_text(value) for key, value in policy.config.items()}
    same = conn.execute(
        "SELECT NOT EXISTS (SELECT 1 FROM jsonb_each_text(%s::jsonb) w(k, v) "
        "WHERE (%s::jsonb ->> w.k)::interval IS DISTINCT FROM w.v::interval)",
        (json.dumps(want), json.dumps(config))).fetchone()[0]
    return same and (policy.schedule is None or schedule == policy.schedule)


def _add(conn: psycopg.Connection, policy: Policy) -> None:
    relation = policy.relation
    if policy.proc == "policy_refresh_continuous_aggregate":
        conn.execute("SELECT add_continuous_aggregate_policy(%s::regclass, start_offset => %s, end_offset => %s, "
                     "schedule_interval => %s, if_not_exists => true)",
                     (relation, policy.config["start_offset"], policy.config["end_offset"], policy.schedule))
    elif policy.proc == "policy_retention":
        conn.execute("SELECT add_retention_policy(%s::regclass, drop_after => %s, if_not_exists => true)",
                     (relation, policy.config["drop_after"]))
    else:  # the columnstore since 2.18; add_compression_policy remains its documented alias
        conn.execute("SELECT add_compression_policy(%s::regclass, compress_after => %s, if_not_exists => true)",
                     (relation, policy.config["compress_after"]))


def _enable_compression(conn: psycopg.Connection) -> None:
    """Compression settings, set once (changing them on a hypertable with compressed chunks fails)."""
    enabled = conn.execute("SELECT compression_enabled FROM timescaledb_information.hypertables "
                           "WHERE hypertable_name = 'readings'").fetchone()
    if enabled is not None and not enabled[0]:
        conn.execute("ALTER TABLE readings SET (timescaledb.compress, timescaledb.compress_segmentby = "
                     "'series_id', timescaledb.compress_orderby = 'ts DESC')")
    for view, on in conn.execute("SELECT view_name, compression_enabled FROM "
                                 "timescaledb_information.continuous_aggregates WHERE view_name = ANY(%s)",
                                 (list(CONTINUOUS_AGGREGATES),)).fetchall():
        if not on:
            conn.execute(sql.SQL("ALTER MATERIALIZED VIEW {} SET (timescaledb.compress = true)").format(
                sql.Identifier(view)))


def policy_jobs(conn: psycopg.Connection) -> dict[tuple[str, str], tuple[int, dict, timedelta]]:
    """{(proc, relation): (job_id, config, schedule_interval)} of the policy jobs in this database."""
    return {(proc, relation): (job_id, config, schedule) for job_id, proc, relation, config, schedule
            in conn.execute(_EXISTING_JOBS, (list(_POLICY_PROCS),)).fetchall()}


def reconcile_policies(conn: psycopg.Connection, settings: StorageSettings) -> dict[str, int]:
    """Make the policies match config: add the missing ones, alter the changed ones, leave the rest (and
    their job ids and history) alone. Called under the migrations' advisory lock, in one transaction."""
    done = {"added": 0, "altered": 0, "unchanged": 0}
    with conn.transaction():
        _enable_compression(conn)
        existing = policy_jobs(conn)
        for policy in desired_policies(settings):
            found = existing.get((policy.proc, policy.relation))
            if found is None:
                _add(conn, policy)
                done["added"] += 1
                continue
            job_id, config, schedule = found
            if policy_matches(conn, config, schedule, policy):
                done["unchanged"] += 1
                continue
            new_config = {**config, **{key: _interval_text(value) for key, value in policy.config.items()}}
            conn.execute("SELECT alter_job(%s, schedule_interval => %s, config => %s::jsonb)",
                         (job_id, policy.schedule or schedule, json.dumps(new_config)))
            done["altered"] += 1
    if done["added"] or done["altered"]:
        log.info("TimescaleDB policies: %d added, %d altered, %d unchanged", done["added"], done["altered"],
                 done["unchanged"])
    return done


def relation_sizes(conn: psycopg.Connection) -> dict[str, int]:
    """Bytes on disk of readings and of each continuous aggregate (their materialization hypertables),
    compressed chunks included."""
    out = {"readings": conn.execute("SELECT hypertable_size('readings')").fetchone()[0] or 0}
    for view, size in conn.execute(
            "SELECT view_name, hypertable_size(format('%%I.%%I', materialization_hypertable_schema, "
            "materialization_hypertable_name)::regclass) FROM timescaledb_information.continuous_aggregates "
            "WHERE view_name = ANY(%s)", (list(CONTINUOUS_AGGREGATES),)).fetchall():
        out[view] = size or 0
    return out


# --- the path's own health ------------------------------------------------------------------------

@dataclass(frozen=True)
class JobState:
    job_id: int
    proc: str
    relation: str
    last_run: datetime | None
    last_status: str | None  # 'Success' / 'Failed' (job_stats.last_run_status)
    consecutive_failures: int
    last_error: str | None

    @property
    def failing(self) -> bool:
        return self.consecutive_failures >= JOB_FAILURES_DEGRADED


_JOBS = """
    SELECT j.job_id, j.proc_name, coalesce(ca.view_name, j.hypertable_name), s.last_run_started_at,
           s.last_run_status,
           -- failures since the last success (job_errors keeps each failed run with its message)
           (SELECT count(*) FROM timescaledb_information.job_errors e WHERE e.job_id = j.job_id
              AND e.finish_time > coalesce(s.last_successful_finish, '-infinity')),
           (SELECT e.err_message FROM timescaledb_information.job_errors e WHERE e.job_id = j.job_id
              ORDER BY e.finish_time DESC LIMIT 1)
    FROM timescaledb_information.jobs j
    LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
    LEFT JOIN timescaledb_information.continuous_aggregates ca
           ON ca.materialization_hypertable_schema = j.hypertable_schema
          AND ca.materialization_hypertable_name = j.hypertable_name
    WHERE j.proc_name = ANY(%s)
    ORDER BY j.job_id
"""


def status(conn: psycopg.Connection) -> dict[str, Any]:
    """Extension version, chunks of readings, compression ratio and each policy job's state."""
    version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = %s", (EXTENSION,)).fetchone()
    chunks = conn.execute("SELECT count(*) FROM timescaledb_information.chunks "
                          "WHERE hypertable_name = 'readings'").fetchone()[0]
    sizes = conn.execute("SELECT sum(before_compression_total_bytes), sum(after_compression_total_bytes), "
                         "sum(number_compressed_chunks) FROM hypertable_compression_stats('readings')").fetchone()
    before, after, compressed = sizes if sizes else (None, None, None)
    jobs = [JobState(*row) for row in conn.execute(_JOBS, (list(_POLICY_PROCS),)).fetchall()]
    return {"version": version[0] if version else None, "chunks": chunks,
            "compressed_chunks": int(compressed or 0),
            "compression_ratio": round(float(before) / float(after), 2) if before and after else None,
            "jobs": jobs}


def job_report(jobs: list[JobState]) -> tuple[bool, list[dict[str, Any]]]:
    """(ok, per-job detail for /healthz): a job failing JOB_FAILURES_DEGRADED times in a row is degraded,
    with its error text. Pure: tested without TimescaleDB."""
    details = [{"job_id": j.job_id, "policy": j.proc, "relation": j.relation,
                "last_run": j.last_run.isoformat() if j.last_run else None, "last_status": j.last_status,
                "consecutive_failures": j.consecutive_failures,
                **({"error": j.last_error} if j.failing or j.last_status == "Failed" else {})} for j in jobs]
    return not any(j.failing for j in jobs), details
