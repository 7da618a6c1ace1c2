"""/healthz: is each part of the pipeline working, and which storage path is active.

Status "ok" (HTTP 200); "degraded" (HTTP 200) when everything works but not wholly (an alert rule that
broke is skipped, named in `checks.alerts.broken_rules`; a TimescaleDB job failing again and again);
"failing" (HTTP 503) with the failing checks named in `failing` (a dead alert engine is one). 503 means
this process cannot do its job, so a role is judged only on what it runs, and a failing feed (a source
outside this process) is listed in `checks.feeds.failing_feeds` without making the process unhealthy. Overload
is a check of its own: a writer queue near its bound, or readings waiting in the spool, are visible
here (and in /metrics) rather than silently absorbed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from flask import Flask, jsonify

from ioc import timescale

if TYPE_CHECKING:
    from ioc.runtime import Runtime

QUEUE_BEHIND = 0.8  # share of the writer queue in use from which ingest counts as behind


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def health(runtime: Runtime) -> tuple[dict[str, Any], bool]:
    checks: dict[str, Any] = {}
    try:
        with runtime.db.connection(timeout=2) as conn:
            conn.execute("SELECT 1")
        checks["database"] = {"ok": True}
    except Exception as exc:  # any failure to reach the database is reported, not raised
        checks["database"] = {"ok": False, "error": str(exc).strip().splitlines()[0] if str(exc).strip()
                              else type(exc).__name__}
    if runtime.mqtt is not None:  # a UI-only process has no subscriber
        checks["broker"] = {"ok": runtime.mqtt.connected.is_set(), "address": str(runtime.broker_address),
                            "client_id": runtime.mqtt.settings.client_id, "messages": runtime.mqtt.messages}
    stats, writer = runtime.writer.stats, runtime.writer
    depth, capacity = writer.queue_depth, writer.queue_capacity
    readings, readings_capacity = writer.queued_readings, writer.settings.queue_max_readings
    behind = depth >= QUEUE_BEHIND * capacity or readings >= QUEUE_BEHIND * readings_capacity
    checks["writer"] = {
        "ok": stats.last_error is None and not behind, "error": stats.last_error,
        "state": "behind" if behind else ("failing" if stats.last_error else "ok"),
        "readings_stored": stats.readings_stored, "readings_duplicate": stats.readings_duplicate,
        "dead_letters": stats.dead_letters, "queue_depth": depth, "queue_capacity": capacity,
        "queued_readings": readings, "queued_readings_capacity": readings_capacity,
        "seconds_since_commit": None if stats.last_commit is None else round(time.time() - stats.last_commit, 1),
    }
    spool = runtime.spool
    if spool is not None:  # only processes that acknowledge broker messages keep one
        spool_state = "full" if spool.full else ("holding" if not spool.empty else "empty")
        checks["spool"] = {"ok": spool_state == "empty", "state": spool_state, "bytes": spool.bytes,
                           "max_bytes": spool.max_bytes, "batches": spool.records,
                           "written_batches": stats.spooled_batches, "replayed_batches": stats.replayed_batches}
        if spool.full:
            checks["spool"]["error"] = ("spool full: nothing more is acknowledged to the broker until the "
                                        "database is back (the broker keeps the messages)")
    checks["storage"] = {"ok": True, "path": runtime.storage.path}
    if runtime.rollups is not None and runtime.rollups.last_refresh is not None:
        last = runtime.rollups.last_refresh  # this process's last rollup run (another process may hold the lock)
        checks["storage"]["rollups"] = {"hours_recomputed": last.hours, "seconds": round(last.seconds, 2)}
    if runtime.storage.path == "timescaledb":
        checks["storage"]["timescaledb"] = _timescale(runtime)
    scheduler = runtime.scheduler
    if runtime.role in ("all", "alerts"):  # the roles that run scheduled jobs (polls, rollups, briefs)
        running = bool(scheduler and scheduler.running)
        checks["scheduler"] = {"ok": running, "state": "running" if running else "stopped",
                               "jobs": len(scheduler.get_jobs()) if running else 0}
    if runtime.alerts is not None:
        alive = runtime.alerts.alive()
        checks["alerts"] = {"ok": alive and not runtime.alerts.behind(), "leader": runtime.alerts.leader.is_set(),
                            "running": alive, "queued_batches": runtime.alerts.lag(),
                            "held": dict(runtime.alerts.held), "broken_rules": dict(runtime.alerts.broken)}
    feeds = runtime.feed_health.snapshot()
    # A failing source (an API down, a gateway sending junk) is reported, not a failure of this process:
    # 503 means the process cannot do its job. The alert engine and /feeds tell people about feeds.
    checks["feeds"] = {
        "ok": True, "failing_feeds": sorted(f["feed"] for f in feeds if f["state"] == "failing"),
        "states": {f["feed"]: f["state"] for f in feeds},
        "details": {f["feed"]: {"state": f["state"], "since": _iso(f["since"]),
                                "last_success": _iso(f["last_success"]), "last_error": f["last_error"],
                                "readings_per_min": f["readings_per_min"]} for f in feeds},
    }
    failing = [name for name, check in checks.items() if not check["ok"]]
    # Working, but not wholly: a broken alert rule is skipped while the others are evaluated.
    # So is storage whose TimescaleDB jobs keep failing: refreshes and policies still run, only late.
    degraded = ["alerts"] if runtime.alerts is not None and runtime.alerts.broken else []
    if not checks["storage"].get("timescaledb", {}).get("ok", True):
        degraded.append("storage")
    status = "failing" if failing else "degraded" if degraded else "ok"
    return {"status": status, "role": runtime.role, "failing": failing, "degraded": degraded,
            "checks": checks}, not failing


def _timescale(runtime: Runtime) -> dict[str, Any]:
    """The TimescaleDB path's own health: extension, chunks, compression, and its background jobs (a job
    failing repeatedly is degraded, with its error). The database being away is the database check's."""
    try:
        with runtime.db.connection(timeout=2) as conn:
            state = timescale.status(conn)
    except Exception as exc:  # reported, not raised
        return {"ok": True, "error": str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}
    _, jobs = timescale.job_report(state["jobs"])
    errors = [f"{j['policy']} on {j['relation']} failed {j['consecutive_failures']} times in a row: {j.get('error')}"
              for j in jobs if j["consecutive_failures"] >= timescale.JOB_FAILURES_DEGRADED]
    if runtime.storage.policies_error:
        errors.insert(0, f"policies not reconciled at start: {runtime.storage.policies_error}")
    return {"ok": not errors, "version": state["version"], "chunks": state["chunks"],
            "compressed_chunks": state["compressed_chunks"], "compression_ratio": state["compression_ratio"],
            "jobs": jobs, **({"error": "; ".join(errors)} if errors else {})}


def register(server: Flask, runtime: Runtime) -> None:
    @server.route("/healthz")
    def healthz():
        body, ok = health(runtime)
        return jsonify(body), 200 if ok else 503
