"""HTTP polling against a local server that speaks like a department's API, and fails like one."""

from __future__ import annotations

from datetime import timedelta

from feeds import native
from ioc.config import FeedAuth, FeedSpec
from ioc.feed_health import FeedHealth
from ioc.ingest import Ingestor
from ioc.transports.http_poll import HttpPoller
from tests.support import native_payload


def make_poller(rt, server, **kw):
    spec = FeedSpec(name="dept", transport="http_poll", url=f"http://127.0.0.1:{server.server_port}/api/readings",
                    interval=timedelta(seconds=1), timeout=timedelta(seconds=1), stale_after=timedelta(minutes=5),
                    **kw)
    health = FeedHealth([spec])
    return HttpPoller(spec, native.parse, Ingestor(rt.config, rt.writer, health=health), 1 << 20), health


def stored(rt):
    rt.writer.flush()
    with rt.db.connection() as conn:
        return (conn.execute("SELECT count(*) FROM readings").fetchone()[0],
                [r for (r,) in conn.execute("SELECT reason FROM dead_letters ORDER BY id")])


def test_poll_stores_readings_and_uses_conditional_requests(clean_db, api):
    api.script = [(200, native_payload(clean_db), {"ETag": '"v1"', "Content-Type": "application/json"})]
    poller, health = make_poller(clean_db, api)
    poller.poll()
    assert stored(clean_db) == (3, [])
    assert health.feeds["dept"].state == "ok"
    poller.poll()  # unchanged: the server answers 304 to If-None-Match
    assert api.requests[1].get("If-None-Match") == '"v1"'
    assert stored(clean_db) == (3, [])
    assert health.feeds["dept"].state == "ok"


def test_server_errors_are_retried_then_recorded(clean_db, api):
    api.script = [(500, b"oops", {}), (500, b"oops", {}), (200, native_payload(clean_db, 2), {})]
    poller, health = make_poller(clean_db, api, retries=2)
    poller.poll()
    assert len(api.requests) == 3 and stored(clean_db) == (2, [])
    assert health.feeds["dept"].state == "ok"
    api.requests.clear()
    api.script = [(503, b"", {})]
    poller.poll()
    assert len(api.requests) == 3
    assert health.feeds["dept"].state == "failing"
    assert health.feeds["dept"].last_error == "HTTP 503 after 3 attempt(s)"


def test_timeout_truncated_json_and_empty_list(clean_db, api):
    poller, health = make_poller(clean_db, api, retries=0)
    api.script = [("sleep", 2.5, {})]
    poller.poll()
    assert health.feeds["dept"].state == "failing" and "timed out" in health.feeds["dept"].last_error
    api.requests.clear()
    api.script = [(200, native_payload(clean_db)[:40], {})]
    poller.poll()
    count, reasons = stored(clean_db)
    assert count == 0 and reasons and reasons[-1].startswith("invalid JSON")
    api.requests.clear()
    api.script = [(200, b"[]", {})]
    poller.poll()
    assert stored(clean_db)[1][-1] == "empty batch"
    assert health.feeds["dept"].state == "failing"


def test_credentials_come_from_the_environment_only(clean_db, api, monkeypatch):
    api.script = [(200, native_payload(clean_db, 1), {})]
    poller, health = make_poller(clean_db, api, auth=FeedAuth(env="IOC_TEST_DEPT_TOKEN"))
    monkeypatch.delenv("IOC_TEST_DEPT_TOKEN", raising=False)
    poller.poll()
    assert api.requests == [] and health.feeds["dept"].last_error.startswith("credential variable IOC_TEST_DEPT_TOKEN")
    monkeypatch.setenv("IOC_TEST_DEPT_TOKEN", "s3cret-value")
    poller.poll()
    assert api.requests[-1]["Authorization"] == "Bearer s3cret-value"
    assert health.feeds["dept"].state == "ok"
    assert "s3cret" not in repr(health.snapshot())
