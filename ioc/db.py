"""PostgreSQL access: the connection pool, versioned migrations, time partitions and catalog sync.

The storage path (TimescaleDB hypertable or plain PostgreSQL partitions) is chosen once, when the
readings table is first created, and read back from the database on every later start.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool
from psycopg_pool.base import AttemptWithBackoff

from ioc import timescale
from ioc.config import Config, StorageSettings

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
StoragePath = Literal["timescaledb", "postgresql"]
_EPOCH = datetime(2000, 1, 3, tzinfo=UTC)  # a Monday: weekly partitions start on Mondays


RECONNECT_MAX_DELAY = 2.0  # seconds between attempts to reconnect, whatever the outage length


class _CappedAttempt(AttemptWithBackoff):
    """psycopg_pool doubles the delay between reconnection attempts without a bound: after a three-minute
    outage the next attempt could be a minute away. Capped, the pool is back within seconds."""

    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, RECONNECT_MAX_DELAY)


class ReconnectingPool(ConnectionPool):
    def _add_connection(self, attempt: AttemptWithBackoff | None, growing: bool = False) -> None:
        super()._add_connection(attempt or _CappedAttempt(timeout=self.reconnect_timeout), growing)


def open_pool(url: str, min_size: int = 2, max_size: int = 10, name: str = "ioc") -> ConnectionPool:
    # check: a connection broken by a server restart is replaced when taken, not discovered by a failed write.
    pool = ReconnectingPool(url, min_size=min_size, max_size=max_size, name=name, open=False,
                            kwargs={"autocommit": False}, check=ConnectionPool.check_connection,
                            reconnect_timeout=24 * 3600)
    pool.open(wait=True, timeout=30)
    return pool


def frame(conn: psycopg.Connection, query: str | sql.Composable, params: Any = None) -> pd.DataFrame:
    """Run a query and return its rows as a DataFrame with the query's column names."""
    with conn.cursor() as cur:
        cur.execute(query, params)
        columns = [c.name for c in cur.description or []]
        return pd.DataFrame(cur.fetchall(), columns=columns)


@dataclass(frozen=True)
class Storage:
    path: StoragePath
    partition_interval: timedelta
    policies_error: str | None = None  # TimescaleDB: why the policies could not be reconciled at start


def _migration_files(directory: Path = MIGRATIONS_DIR) -> dict[str, dict[str, Path]]:
    """{version: {variant: file}} where variant is 'any', 'plain' or 'timescale'."""
    versions: dict[str, dict[str, Path]] = {}
    for path in sorted(directory.glob("*.sql")):
        stem, _, variant = path.name.removesuffix(".sql").partition(".")
        versions.setdefault(stem, {})[variant or "any"] = path
    return versions


def run_script(conn: psycopg.Connection, script: str, params: dict[str, Any]) -> None:
    """Run a migration script, whatever its number of statements and parameters.

    Parameters (`%(name)s`) are rendered into the text client-side, and the text then goes to the server
    as one simple query, never a prepared statement: a prepared statement holds one command only. In a script
    with placeholders a literal `%` is written `%%` (psycopg's rule); a script without any is sent as written."""
    if "%(" in script:
        script = psycopg.ClientCursor(conn).mogrify(script, params)
    conn.execute(script, prepare=False)


def migrate(pool: ConnectionPool, settings: StorageSettings, directory: Path = MIGRATIONS_DIR) -> Storage:
    """Apply pending migrations in order, each in its own transaction; safe to run on every start. On
    TimescaleDB, the policies are reconciled with config under the same lock."""
    with pool.connection() as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('ioc.migrate'))")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                         "version text PRIMARY KEY, variant text NOT NULL, "
                         "applied_at timestamptz NOT NULL DEFAULT now())")
            conn.commit()
            applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            pending = {v: files for v, files in _migration_files(directory).items() if v not in applied}
            use_timescale = False
            if conn.execute("SELECT to_regclass('readings') IS NOT NULL").fetchone()[0]:
                # Later migrations follow the path readings was created on (continuous aggregates
                # need a hypertable), even if TimescaleDB became available since.
                use_timescale = timescale.is_hypertable(conn)
            elif any("timescale" in files for files in pending.values()):
                use_timescale = settings.timescaledb == "auto" and _timescale_usable(pool.conninfo)
            conn.commit()
            params = {"partition_interval": settings.partition_interval}
            for version, files in pending.items():
                variant = "timescale" if use_timescale and "timescale" in files else (
                    "plain" if "plain" in files else "any")
                with conn.transaction():
                    run_script(conn, files[variant].read_text(encoding="utf-8"), params)
                    conn.execute("INSERT INTO schema_migrations (version, variant) VALUES (%s, %s)",
                                 (version, variant))
                log.info("applied migration %s (%s)", version, variant)
            path: StoragePath = "timescaledb" if timescale.is_hypertable(conn) else "postgresql"
            conn.commit()
            policies_error = None
            if path == "timescaledb":
                try:
                    timescale.reconcile_policies(conn, settings)
                except psycopg.Error as exc:  # IOC runs without them (charts stay current); /healthz says so
                    policies_error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                    log.error("TimescaleDB policies not reconciled: %s", policies_error)
        finally:
            conn.rollback()
            conn.execute("SELECT pg_advisory_unlock(hashtext('ioc.migrate'))")
            conn.commit()
    log.info("storage path: %s", "TimescaleDB hypertable" if path == "timescaledb"
             else "plain PostgreSQL with time partitions")
    return Storage(path, settings.partition_interval, policies_error)


def _timescale_usable(conninfo: str) -> bool:
    usable, reason = timescale.detect(conninfo)
    if usable:
        log.info("TimescaleDB: %s", reason)
    else:
        log.warning("TimescaleDB not used (%s): storing on plain PostgreSQL; %s", reason, timescale.HOW_TO_ENABLE)
    return usable


def partition_start(ts: datetime, interval: timedelta) -> datetime:
    return _EPOCH + ((ts - _EPOCH) // interval) * interval


class Partitions:
    """Creates the time partitions of the plain-PostgreSQL readings table before data needs them."""

    def __init__(self, storage: Storage):
        self.storage = storage
        self._known: set[datetime] = set()

    def ensure(self, conn: psycopg.Connection, first: datetime, last: datetime) -> None:
        if self.storage.path != "postgresql":
            return
        interval = self.storage.partition_interval
        start = partition_start(first, interval)
        while start <= last:
            if start not in self._known:
                self._create(conn, start, start + interval)
                self._known.add(start)
            start += interval

    def forget(self) -> None:
        """After a rolled-back transaction: partitions it created are gone, so check again next time."""
        self._known.clear()

    @staticmethod
    def _create(conn: psycopg.Connection, start: datetime, end: datetime) -> None:
        name = f"readings_p{start:%Y%m%d}"
        statement = sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF readings "
                            "FOR VALUES FROM ({}) TO ({})").format(
            sql.Identifier(name), sql.Literal(start), sql.Literal(end))
        try:
            with conn.transaction():
                conn.execute(statement)
        except psycopg.errors.DuplicateTable:
            pass  # another ingest process created it between our check and our CREATE


def sync_catalog(pool: ConnectionPool, config: Config) -> None:
    """Make areas, metrics and entities in the database match the config (upsert; mark removed inactive)."""
    with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        areas = [(a.code, parent, depth, a.name.vi, a.name.en, a.level.vi, a.level.en,
                  a.centroid[0], a.centroid[1], a.population)
                 for a, parent, depth in config.region.region.walk()]
        cur.executemany(
            "INSERT INTO areas (code, parent, depth, name_vi, name_en, level_vi, level_en, lat, lon, "
            "population, active) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,true) ON CONFLICT (code) DO UPDATE SET "
            "parent=excluded.parent, depth=excluded.depth, name_vi=excluded.name_vi, name_en=excluded.name_en, "
            "level_vi=excluded.level_vi, level_en=excluded.level_en, lat=excluded.lat, lon=excluded.lon, "
            "population=excluded.population, active=true", areas)
        cur.execute("UPDATE areas SET active = false WHERE NOT (code = ANY(%s))", ([a[0] for a in areas],))
        metrics = [(m.key, m.domain, m.unit_text("vi"), m.label.vi, m.label.en, m.aggregation, m.cadence,
                    m.thresholds.direction if m.thresholds else None,
                    m.thresholds.warning if m.thresholds else None,
                    m.thresholds.critical if m.thresholds else None, m.headline)
                   for m in config.catalog.metrics]
        cur.executemany(
            "INSERT INTO metrics (key, domain, unit, label_vi, label_en, aggregation, cadence, direction, "
            "warning, critical, headline, active) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,true) "
            "ON CONFLICT (key) DO UPDATE SET domain=excluded.domain, unit=excluded.unit, "
            "label_vi=excluded.label_vi, label_en=excluded.label_en, aggregation=excluded.aggregation, "
            "cadence=excluded.cadence, direction=excluded.direction, warning=excluded.warning, "
            "critical=excluded.critical, headline=excluded.headline, active=true", metrics)
        cur.execute("UPDATE metrics SET active = false WHERE NOT (key = ANY(%s))", ([m[0] for m in metrics],))
        entities = [(e.id, e.kind, config.kinds[e.kind].domain, e.area, e.name.vi, e.name.en, e.lat, e.lon,
                     json.dumps(e.attrs, ensure_ascii=False)) for e in config.region.entities]
        cur.executemany(
            "INSERT INTO entities (id, kind, domain, area, name_vi, name_en, lat, lon, attrs, active) "
            "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,true) ON CONFLICT (id) DO UPDATE SET kind=excluded.kind, "
            "domain=excluded.domain, area=excluded.area, name_vi=excluded.name_vi, name_en=excluded.name_en, "
            "lat=excluded.lat, lon=excluded.lon, attrs=excluded.attrs, active=true", entities)
        cur.execute("UPDATE entities SET active = false WHERE NOT (id = ANY(%s))", ([e[0] for e in entities],))
        # Every series the catalog expects exists up front, so the writer's hot path never creates one.
        series = [(e.id, m) for e in config.region.entities for m in config.kinds[e.kind].metrics]
        cur.execute("INSERT INTO series (entity, metric) SELECT * FROM unnest(%s::text[], %s::text[]) "
                    "ON CONFLICT (entity, metric) DO NOTHING", ([e for e, _ in series], [m for _, m in series]))
