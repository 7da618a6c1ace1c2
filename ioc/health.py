"""/healthz: is each part of the pipeline working, and which storage path is active."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from flask import Flask, jsonify

if TYPE_CHECKING:
    from ioc.runtime import Runtime


def health(runtime: Runtime) -> tuple[dict[str, Any], bool]:
    checks: dict[str, Any] = {}
    try:
        with runtime.db.connection(timeout=2) as conn:
            conn.execute("SELECT 1")
        checks["database"] = {"ok": True}
    except Exception as exc:  # any failure to reach the database is reported, not raised
        checks["database"] = {"ok": False, "error": str(exc).splitlines()[0]}
    if runtime.mqtt is not None:  # a UI-only process has no subscriber
        checks["broker"] = {"ok": runtime.mqtt.connected.is_set(), "address": str(runtime.broker_address),
                            "client_id": runtime.mqtt.settings.client_id, "messages": runtime.mqtt.messages}
    stats = runtime.writer.stats
    checks["writer"] = {
        "ok": stats.last_error is None, "error": stats.last_error,
        "readings_stored": stats.readings_stored, "readings_duplicate": stats.readings_duplicate,
        "dead_letters": stats.dead_letters, "queue_depth": stats.queue_depth,
        "seconds_since_commit": None if stats.last_commit is None else round(time.time() - stats.last_commit, 1),
    }
    checks["storage"] = {"ok": True, "path": runtime.storage.path}
    if runtime.rollups is not None and runtime.rollups.last_refresh is not None:
        last = runtime.rollups.last_refresh  # this process's last rollup run (another process may hold the lock)
        checks["storage"]["rollups"] = {"hours_recomputed": last.hours, "seconds": round(last.seconds, 2)}
    if runtime.alerts is not None:
        checks["alerts"] = {"ok": not runtime.alerts.behind(), "leader": runtime.alerts.leader.is_set(),
                            "queued_batches": runtime.alerts.lag(), "held": dict(runtime.alerts.held)}
    feeds = runtime.health.snapshot()
    checks["feeds"] = {"ok": not any(f["state"] == "failing" for f in feeds),
                       "states": {f["feed"]: f["state"] for f in feeds}}
    ok = all(c["ok"] for c in checks.values())
    return {"status": "ok" if ok else "degraded", "role": runtime.role, "checks": checks}, ok


def register(server: Flask, runtime: Runtime) -> None:
    @server.route("/healthz")
    def healthz():
        body, ok = health(runtime)
        return jsonify(body), 200 if ok else 503
