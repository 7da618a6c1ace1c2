"""Moving an installation to another database without losing a row: plain PostgreSQL → TimescaleDB.

`python app.py storage migrate-to-timescale --from <old URL>` (docs/OPERATIONS.md), with IOC_DATABASE_URL
naming a new, empty database on a server that preloads TimescaleDB:
1. the target is migrated (schema on the TimescaleDB path, policies reconciled);
2. every table of the source is copied (binary COPY, ids kept, in foreign-key order), sequences set;
3. readings are copied window by window; the hours they cover are marked dirty, and the rollups job
   materializes them (refresh_continuous_aggregate on TimescaleDB, recompute on plain PostgreSQL);
4. both sides are fingerprinted — rows per table, and readings' count, sum and time range per day — and
   the move fails loudly if anything differs.
Nothing here is TimescaleDB-specific: the same code moves plain to plain (which is how it is tested on
machines without TimescaleDB). IOC must be stopped on the source while it runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from ioc.config import StorageSettings
from ioc.db import Partitions, Storage, migrate
from ioc.rollups import Rollups, mark_dirty

log = logging.getLogger(__name__)

# Derived or path-specific: rebuilt on the target, never copied.
NOT_COPIED = {"schema_migrations", "readings", "rollup_1m", "rollup_1h", "rollup_dirty"}


@dataclass
class MoveReport:
    storage: Storage
    tables: dict[str, int] = field(default_factory=dict)  # rows copied per table
    readings: int = 0
    differences: list[str] = field(default_factory=list)  # empty: source and target agree

    @property
    def ok(self) -> bool:
        return not self.differences


def _versions(conn: psycopg.Connection) -> set[str]:
    return {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}


def tables_in_order(conn: psycopg.Connection) -> list[str]:
    """The public tables to copy (partitions excluded), each after the tables it references."""
    tables = [t for (t,) in conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1")
        if t not in NOT_COPIED]
    references: dict[str, set[str]] = {t: set() for t in tables}
    for child, parent in conn.execute(
            "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND connamespace = 'public'::regnamespace"):
        if child in references and parent in references and child != parent:
            references[child].add(parent)
    ordered: list[str] = []
    while references:
        ready = sorted(t for t, parents in references.items() if parents <= set(ordered))
        if not ready:
            raise RuntimeError(f"foreign keys form a cycle among {sorted(references)}")
        ordered += ready
        for t in ready:
            del references[t]
    return ordered


def _columns(conn: psycopg.Connection, table: str) -> list[str]:
    return [c for (c,) in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s "
        "AND is_generated = 'NEVER' ORDER BY ordinal_position", (table,))]


def _copy(source: psycopg.Connection, target: psycopg.Connection, select: sql.Composable,
          table: str, columns: list[str]) -> int:
    """Stream rows from a SELECT on the source into a table of the target (binary COPY both ways)."""
    into = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))
    out = sql.SQL("COPY ({}) TO STDOUT (FORMAT BINARY)").format(select)
    writer = target.cursor()
    with source.cursor().copy(out) as reading, writer.copy(into) as writing:
        for block in reading:
            writing.write(block)
    return writer.rowcount


def fingerprint(conn: psycopg.Connection, tables: list[str]) -> dict[str, object]:
    """What must be equal on both sides: rows per table; readings' count, sum and range per UTC day."""
    prints: dict[str, object] = {t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
        sql.Identifier(t))).fetchone()[0] for t in tables}
    prints["readings by day"] = conn.execute(
        "SELECT date_trunc('day', ts, 'UTC'), count(*), sum(value::numeric), min(ts), max(ts) "
        "FROM readings GROUP BY 1 ORDER BY 1").fetchall()
    return prints


def move(source_url: str, target: ConnectionPool, settings: StorageSettings,
         window: timedelta = timedelta(days=1)) -> MoveReport:
    """Copy the installation at `source_url` into the (new, empty) database of `target`; verify it."""
    storage = migrate(target, settings)
    with psycopg.connect(source_url) as source, target.connection() as conn:
        source.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")  # one consistent view
        missing = _versions(source) ^ _versions(conn)
        if missing:
            raise RuntimeError(f"source and target schemas differ ({', '.join(sorted(missing))}): start the "
                               "current IOC once on the source first, then stop it and move")
        if conn.execute("SELECT EXISTS (SELECT 1 FROM readings)").fetchone()[0]:
            raise RuntimeError("the target already holds readings: move into a new, empty database")
        conn.commit()  # each step below is a transaction of its own: no single huge one
        present = set(tables_in_order(conn))
        tables = [t for t in tables_in_order(source) if t in present]  # e.g. not a benchmark's own table
        report = MoveReport(storage)
        with conn.transaction():
            # What a first start of IOC on the target may have written (catalog, admin user) is replaced.
            conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                sql.SQL(", ").join(map(sql.Identifier, tables))))
            for table in tables:
                columns = [c for c in _columns(source, table) if c in set(_columns(conn, table))]
                select = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(map(sql.Identifier, columns)),
                                                            sql.Identifier(table))
                report.tables[table] = _copy(source, conn, select, table, columns)
            for name, value, called in source.execute(
                    "SELECT sequencename, last_value, last_value IS NOT NULL FROM pg_sequences "
                    "WHERE schemaname = 'public'"):
                if called and conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]:
                    conn.execute("SELECT setval(%s::regclass, %s, true)", (name, value))
        first, last = source.execute("SELECT min(ts), max(ts) FROM readings").fetchone()
        lo, partitions = first, Partitions(storage)
        while first is not None and lo <= last:
            hi = lo + window
            with conn.transaction():
                partitions.ensure(conn, lo, min(hi, last))
                report.readings += _copy_readings(source, conn, lo, hi)
            log.info("moved readings up to %s (%d so far)", hi, report.readings)
            lo = hi
        theirs = fingerprint(conn, tables)
        report.differences = [f"{key}: source {mine!r:.300} target {theirs[key]!r:.300}"
                              for key, mine in fingerprint(source, tables).items() if mine != theirs[key]]
        source.rollback()
        conn.commit()
    Rollups(target, storage, settings).refresh()  # the marked hours: materialized / recomputed now
    return report


def _copy_readings(source: psycopg.Connection, target: psycopg.Connection, lo: datetime, hi: datetime) -> int:
    """One window of readings, in key order; its hours are marked for the rollups job."""
    select = sql.SQL("SELECT series_id, ts, value FROM readings WHERE ts >= {} AND ts < {} "
                     "ORDER BY series_id, ts").format(sql.Literal(lo), sql.Literal(hi))
    copied = _copy(source, target, select, "readings", ["series_id", "ts", "value"])
    hours = [h for (h,) in source.execute(
        "SELECT DISTINCT date_trunc('hour', ts, 'UTC') FROM readings WHERE ts >= %s AND ts < %s", (lo, hi))]
    mark_dirty(target, hours)
    return copied
